"""LLM synthesis: character profiles, one-to-many dialogues and self-refinement (CharacterGLM's synthetic source)."""
