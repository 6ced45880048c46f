"""Who is calling: accounts, authentication (principals, decorators), credentials, roles, rate limits."""
