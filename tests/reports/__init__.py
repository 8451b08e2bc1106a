"""Reports and the one truth of progress."""
