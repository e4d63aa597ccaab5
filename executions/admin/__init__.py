"""Django admin of the executions app, one module per area."""

from executions.admin import (
    catalog,  # noqa: F401  (registers the catalog's ModelAdmins)
    profiles,  # noqa: F401  (runner profiles of `command` steps)
    runs,  # noqa: F401  (executions, the queue switch)
    schedules,  # noqa: F401  (recurring runs)
)
