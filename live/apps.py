from django.apps import AppConfig


class LiveConfig(AppConfig):
    """The live feed: event payloads, publishing after commit, WebSocket consumers, the relay."""

    name = "live"
    verbose_name = "Live feed"
