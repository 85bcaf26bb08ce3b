"""HTTP entrypoint: routes, request/response schemas, error mapping, middleware."""
