"""Models of the warehouse app."""
