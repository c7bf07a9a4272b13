"""Models of the conditions app."""
