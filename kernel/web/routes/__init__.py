"""The kernel's HTTP routes, one module per area of API.md."""
