"""Functions: run user code on batches of records (event source mappings)."""
