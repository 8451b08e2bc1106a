"""The command line: only parsing, calling and printing; the one place errors become exit codes."""
