"""What the alliance reads about itself: the digest, the action-plan report, its chart."""
