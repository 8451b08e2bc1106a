"""What the alliance reads about itself: progress, the digest, the action-plan report, its chart."""
