"""API serializers of the executions app, one module per area (runs, schedules)."""
