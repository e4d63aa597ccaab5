"""Recurring runs. A RunSchedule owns one django_q Schedule (type cron) that calls
engine.tasks.run_schedule; these services keep the two in step inside one transaction."""

from croniter import CroniterBadDateError, croniter
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from executions.errors import ExecutionError, NotRunnable
from executions.models import RunSchedule, Trigger
from executions.services.create import execution_create


class InvalidSchedule(ExecutionError):
    code = "invalid_schedule"


def _check(schedule: RunSchedule) -> None:
    if not croniter.is_valid(schedule.cron) or len(schedule.cron.split()) != 5:
        raise InvalidSchedule(
            f"{schedule.cron!r} is not a cron expression of five fields (minute hour day month weekday).",
            detail={"cron": ["Not a valid cron expression."]},
        )
    try:
        _next_run(schedule.cron)
    except CroniterBadDateError:  # valid fields that never meet, like "0 0 30 2 *"
        raise InvalidSchedule(
            f"{schedule.cron!r} never fires (no date matches all its fields).",
            detail={"cron": ["This cron expression never fires."]},
        ) from None
    if (schedule.test_case_id is None) == (schedule.test_suite_id is None):
        raise InvalidSchedule("A schedule runs exactly one test case or one test suite.")
    target = schedule.test_case or schedule.test_suite
    if target.project_id != schedule.project_id:
        raise InvalidSchedule("That test belongs to another project.")


def _next_run(cron: str):
    now = timezone.now()
    return croniter(cron, now).get_next(type(now))


def schedule_save(schedule: RunSchedule) -> RunSchedule:
    """Create or update a schedule and its django_q Schedule (removed while disabled)."""
    _check(schedule)
    with transaction.atomic():
        schedule.save()
        q = schedule.q_schedule
        if not schedule.enabled:
            if q is not None:
                schedule.q_schedule = None
                schedule.save(update_fields=["q_schedule"])
                q.delete()
            return schedule
        if q is None:
            q = Schedule(func="engine.tasks.run_schedule", repeats=-1)
        q.name = f"intellibrowse schedule {schedule.pk}"
        q.args = repr((schedule.pk,))
        q.schedule_type = Schedule.CRON
        q.cron = schedule.cron
        q.next_run = _next_run(schedule.cron)
        q.save()
        if schedule.q_schedule_id != q.pk:
            schedule.q_schedule = q
            schedule.save(update_fields=["q_schedule"])
    return schedule


def schedule_delete(schedule: RunSchedule) -> None:
    with transaction.atomic():
        q = schedule.q_schedule
        schedule.delete()
        if q is not None:
            q.delete()


def schedule_fire(schedule_id: int):
    """Start the schedule's run now (the scheduler's task, or "run now" by a person). Returns the
    execution, or None when the schedule is gone or disabled (a late tick after an edit)."""
    schedule = (
        RunSchedule.objects.filter(pk=schedule_id, enabled=True).select_related("project").first()
    )
    if schedule is None:
        return None
    try:
        execution = execution_create(
            project=schedule.project,
            test_case=schedule.test_case,
            test_suite=schedule.test_suite,
            trigger=Trigger.SCHEDULE,
            priority=schedule.priority,
            parameters=schedule.parameters,
            environment=schedule.environment,
            branch=schedule.branch,
            labels={**schedule.labels, "schedule": schedule.name},
        )
    except NotRunnable:
        return None  # a deprecated case or an emptied suite: nothing to run this time
    RunSchedule.objects.filter(pk=schedule.pk).update(last_run_at=timezone.now())
    return execution
