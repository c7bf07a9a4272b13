"""Pure-Python building blocks (no Django imports allowed here)."""
