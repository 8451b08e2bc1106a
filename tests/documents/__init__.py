"""The guide's templates rendered, Word documents."""
