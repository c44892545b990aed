"""Quality scoring: a fast trained classifier (`quality.classifier`) and an LLM judge (`quality.judge`)."""
