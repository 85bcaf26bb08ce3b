"""Answer-cache keys, codec and the blocking Redis store that batch and the worker write with."""
