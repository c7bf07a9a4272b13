"""Models of the distribution app."""
