"""Training, evaluation and profiling of a built model."""
