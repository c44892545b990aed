"""Pipelines: YAML specs, their validation, and the Ray Data plan they become."""
