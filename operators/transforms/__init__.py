"""transforms operators."""
