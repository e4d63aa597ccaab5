from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares: the domain error and the API's error shape, strict parsers, filters
    and serializer fields, ids, rate limits, sign-in. It imports no other app of ours."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Lazy: signal receivers must be connected once the app registry is ready.
        from core.throttling import connect_signals

        connect_signals()
