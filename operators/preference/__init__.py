"""preference operators: build preference pairs (DPO data) from the corpus."""
