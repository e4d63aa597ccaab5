"""API serializers of the executions app, one module per area (catalog, runs)."""
