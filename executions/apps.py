import sys

from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "executions"
    verbose_name = "Test catalog and executions"

    def ready(self) -> None:
        from executions import watchdog

        watchdog.connect_worker_signals()
        # Only the process that runs a worker cluster builds one; web servers, commands and tests
        # keep django-q2 as it is (`manage.py qcluster`, `django-admin qcluster` alike).
        if sys.argv[1:2] == ["qcluster"]:
            from executions.cluster import cluster_install

            cluster_install()
