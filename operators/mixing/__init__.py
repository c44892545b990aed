"""Corpus mixing: sampling toward target shares."""
