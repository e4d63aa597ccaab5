import sys

from django.apps import AppConfig


class EngineConfig(AppConfig):
    """The worker side: claiming, running and watching executions. No models of its own."""

    name = "engine"
    verbose_name = "Engine"

    def ready(self) -> None:
        # Lazy: these touch models, which are not importable before the registry is ready.
        from engine import watchdog

        watchdog.connect_worker_signals()
        # Only the process that runs a worker cluster builds one; web servers, commands and tests
        # keep django-q2 as it is (`manage.py qcluster`, `django-admin qcluster` alike).
        if sys.argv[1:2] == ["qcluster"]:
            # Lazy: only a worker cluster's process needs it.
            from engine.cluster import cluster_install

            cluster_install()
