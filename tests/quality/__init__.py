"""Quality gates: API fuzzing and the tenant isolation sweep, both driven by the spec."""
