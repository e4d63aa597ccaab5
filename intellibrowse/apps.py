from django.apps import AppConfig


class IntelliBrowseConfig(AppConfig):
    """The configuration package as an app, for what wires the others together: the demo
    (`load_demo`), the first admin, and `serve` (web server and worker cluster in one command)."""

    name = "intellibrowse"
    verbose_name = "IntelliBrowse"
