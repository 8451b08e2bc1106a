"""What the alliance reads about itself: the digest, the report and its chart, the agenda."""
