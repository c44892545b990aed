"""Extraction of dialogue from novels and scripts: decoding, quotes, cast, speaker attribution, sessions."""
