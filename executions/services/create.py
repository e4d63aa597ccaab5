"""Starting a run: the one service that creates executions (API, dashboard, commands, schedules,
CI hooks and the demo all call it)."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.models import CaseOrigin, CaseStatus, CaseType, Project, TestCase, TestSuite
from executions.errors import NotRunnable
from executions.models import Execution, ExecutionStatus, Priority, Trigger
from executions.services.suites import fan_out
from executions.services.transitions import insert_new

S = ExecutionStatus


def execution_create(
    *,
    project: Project,
    test_case: TestCase | None = None,
    test_suite: TestSuite | None = None,
    actor=None,
    trigger: str = Trigger.USER,
    priority: int = Priority.NORMAL,
    parameters: dict | None = None,
    environment: str = "",
    revision: str = "",
    branch: str = "",
    labels: dict | None = None,
    not_before=None,
    timeout_seconds: int | None = None,
    step_timeout_seconds: int | None = None,
    max_retries: int = 0,
    retry_backoff_seconds: int = 5,
) -> Execution:
    """Create a run of a case or a suite, queued (or pending until `not_before`).

    A suite run is a parent with one child per active, non-skipped item; children are queued at
    once and the workers honour the suite's max_parallel. Raises NotRunnable when the target is in
    another project, deprecated, imported or reported from outside (nothing to run), or a suite
    with nothing to run.
    """
    if (test_case is None) == (test_suite is None):
        raise NotRunnable("Give exactly one of a test case or a test suite.")
    target = test_case or test_suite
    if target.project_id != project.pk:
        raise NotRunnable("That test belongs to another project.", "wrong_project")
    if test_case is not None and test_case.status == CaseStatus.DEPRECATED:
        raise NotRunnable(f"Test case {test_case.key!r} is deprecated.", "case_deprecated")
    if test_case is not None and test_case.origin != CaseOrigin.AUTHORED:
        raise NotRunnable(
            f"Test case {test_case.key!r} was {test_case.origin} from outside: it has no steps"
            " to run here, only the results reported for it.",
            "case_not_runnable",
        )
    now = timezone.now()
    with transaction.atomic():
        execution = Execution(
            project=project,
            test_case=test_case,
            test_suite=test_suite,
            status=S.PENDING if not_before and not_before > now else S.QUEUED,
            priority=priority,
            trigger=trigger,
            triggered_by=actor if actor is not None and actor.is_authenticated else None,
            # The effective parameters are stored, so a run shows exactly what it ran with.
            parameters={**target.parameters, **(parameters or {})},
            environment=environment,
            revision=revision,
            branch=branch,
            labels=labels or {},
            not_before=not_before,
            created_at=now,
            queued_at=now,
            timeout_seconds=timeout_seconds or _default_timeout(test_case),
            step_timeout_seconds=step_timeout_seconds,
            max_retries=max_retries,
            retry_backoff_seconds=retry_backoff_seconds,
            max_parallel=test_suite.max_parallel if test_suite else 1,
            fail_fast=test_suite.fail_fast if test_suite else False,
        )
        insert_new(execution, actor=actor, reason=f"triggered by {trigger}")
        if test_suite is not None and execution.status == S.QUEUED:
            fan_out(execution, actor=actor)
    return execution


def _default_timeout(case: TestCase | None) -> int:
    """A manual run waits for people (IB_MANUAL_TIMEOUT_SECONDS, days); the rest for a worker."""
    if case is not None and case.type == CaseType.MANUAL:
        return settings.IB_MANUAL_TIMEOUT_SECONDS
    return settings.IB_DEFAULT_TIMEOUT_SECONDS
