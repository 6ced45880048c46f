"""The plugins: registry, per-tenant activation, installing registrations, route gates, bundles."""
