"""Which tenant: the tenant scope, the cached tenant directory, memberships, the demo tenant."""
