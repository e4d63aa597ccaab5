"""Django admin of the executions app, one module per area."""

from executions.admin import runs, schedules, traces  # noqa: F401  (registers the ModelAdmins)
