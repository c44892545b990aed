"""classify operators: fill labels (such as the character's category) from rules over the record."""
