"""The guide's templates rendered for one alliance, in its language."""
