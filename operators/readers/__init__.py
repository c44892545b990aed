"""readers operators."""
