"""HTTP: problem+json errors, schemas, pagination, CORS, observability, the public edge, routes/."""
