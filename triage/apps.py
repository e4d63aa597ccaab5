from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "triage"
    verbose_name = "Failure groups and triage"

    def ready(self) -> None:
        # Lazy: receivers import models, which are not importable before the registry is ready.
        from results.signals import results_recorded
        from results.summaries import register_run_summary
        from triage.grouping import on_results_recorded
        from triage.selectors import run_summary

        results_recorded.connect(on_results_recorded, dispatch_uid="triage.group_failures")
        register_run_summary(run_summary)
