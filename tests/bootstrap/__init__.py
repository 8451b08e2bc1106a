"""Bootstrap end to end on the sandbox."""
