"""What the commands share besides their context: the command line's language (gettext
catalogues in ``locale/``) and the parameter types that check each value as it is typed."""
