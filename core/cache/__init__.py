"""The answer cache: keys and codec, the port (``port``: async, with its blocking view), its
engines (``redis``, ``redis_sync``, ``memory``) and the factory choosing one by settings."""
