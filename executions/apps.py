from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "executions"
    verbose_name = "Test catalog and executions"

    def ready(self) -> None:
        from executions import watchdog

        watchdog.connect_worker_signals()
