import logging

from django.apps import AppConfig
from django.db import DatabaseError
from django.db.models.signals import post_migrate

log = logging.getLogger(__name__)

# name -> (function, schedule type, minutes). Kept in step on every migrate.
SCHEDULES = {
    "results: prune old traces and events": ("results.tasks.prune", "D", None),
    "results: process missed finishes": ("results.tasks.process_pending", "I", 5),
}


class ResultsConfig(AppConfig):
    name = "results"
    verbose_name = "Results and history"

    def ready(self) -> None:
        post_migrate.connect(ensure_schedules, sender=self)
        # Lazy: receivers import models, which are not importable before the registry is ready.
        from executions.signals import execution_finishing, reported_results_appended
        from results.processing import on_execution_finishing
        from results.reported_runs import on_reported_results

        execution_finishing.connect(on_execution_finishing, dispatch_uid="results.record_finish")
        reported_results_appended.connect(
            on_reported_results, dispatch_uid="results.record_reported"
        )


def ensure_schedules(using="default", **kwargs) -> None:
    """Create or update the django-q2 schedules of the results app (idempotent: by name)."""
    from django_q.models import Schedule

    try:
        for name, (func, schedule_type, minutes) in SCHEDULES.items():
            Schedule.objects.using(using).update_or_create(
                name=name,
                defaults={
                    "func": func,
                    "schedule_type": schedule_type,
                    "minutes": minutes,
                    "repeats": -1,
                },
            )
    except DatabaseError:
        # django_q's tables are not migrated yet (`migrate results` alone): the next migrate
        # creates the schedules.
        log.warning("django-q2 tables missing; results schedules not created yet")
