"""The command line through click's CliRunner: exit codes, messages, languages."""
