"""The library face: what `sync.api` offers a program, the same as the command line does."""
