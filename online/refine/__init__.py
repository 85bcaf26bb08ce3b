"""Fast answer now, refined answer later: jobs queued by the API, answered by `tandem worker`."""
