"""Pure question matching: what two questions must agree on before one may be answered from the
other's cache entry (``signature``). No I/O; used by the cache adapters' semantic side."""
