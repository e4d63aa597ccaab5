from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The testers' server-rendered pages."""

    name = "dashboard"
    verbose_name = "Dashboard"
