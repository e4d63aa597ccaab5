from django.apps import AppConfig


class LiveConfig(AppConfig):
    """The live feed: event payloads, publishing after commit, WebSocket consumers, the relay."""

    name = "live"
    verbose_name = "Live feed"

    def ready(self) -> None:
        # Lazy: the receiver imports models, which are not importable before the registry is ready.
        from executions.signals import events_recorded
        from live.publish import publish_on_commit

        events_recorded.connect(publish_on_commit, dispatch_uid="live.publish_on_commit")
