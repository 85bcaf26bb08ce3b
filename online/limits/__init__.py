"""API keys and per-client rate limits (Redis GCRA), shared by every replica of the service."""
