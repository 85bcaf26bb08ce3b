"""Models as verified artifacts: the catalog (what a model is), the store (verified copies)."""
