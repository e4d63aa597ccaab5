from django.apps import AppConfig


class RunnersConfig(AppConfig):
    """Runners of each case type and the actions of generic steps. No models of their own."""

    name = "runners"
    verbose_name = "Runners"
