"""The service's async answer cache: exact (versioned key) and semantic (nearest question)."""
