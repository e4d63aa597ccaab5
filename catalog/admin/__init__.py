"""Django admin of the catalog, one module per area."""

from catalog.admin import catalog, profiles  # noqa: F401  (registers the ModelAdmins)
