from django.apps import AppConfig


class IntelliBrowseConfig(AppConfig):
    """The project package as an app, for what belongs to no feature app: the sign-in limits."""

    name = "intellibrowse"
    verbose_name = "IntelliBrowse"

    def ready(self) -> None:
        from intellibrowse.throttling import connect_signals

        connect_signals()
