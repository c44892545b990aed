"""Ray job entrypoints and the `chardial` command line."""
