"""HTTP routes of the mock, one module per area."""
