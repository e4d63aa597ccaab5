"""Reported runs: tests that run in a CI job and report their results through the API. A reported
run is a suite run held by its client instead of a worker: opened running, fed batches of results
(each a step of its trace and an event, so it is live and in the event log like any run), kept
alive by a lease the client renews, and closed by the client, or by the reaper as `interrupted`
when the client went silent for longer than its lease (execution_interrupt_silent, reaper.py).
"""

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import Project, TestSuite
from executions.errors import InvalidTransition, ReportedBatchConflict
from executions.models import (
    Attempt,
    EventKind,
    Execution,
    ExecutionStatus,
    ReportedBatch,
    Trigger,
)
from executions.services.events import event_build, events_insert
from executions.services.lifecycle import locked
from executions.services.transitions import insert_new, transition
from executions.signals import reported_results_appended
from executions.traces import trace_record_steps

S = ExecutionStatus
STEP_STATUSES = ("passed", "failed", "error", "skipped")


def reported_run_open(
    *,
    project: Project,
    name: str,
    actor=None,
    revision: str = "",
    branch: str = "",
    environment: str = "",
    labels: dict | None = None,
    ci_url: str = "",
    lease_seconds: int,
    timeout_seconds: int | None = None,
) -> Execution:
    """Open a reported run of the suite called `name` (created, empty, on first report): running
    at once, held by its client for `lease_seconds` from now."""
    now = timezone.now()
    timeout = timeout_seconds or settings.IB_DEFAULT_TIMEOUT_SECONDS
    with transaction.atomic():
        suite = _suite_named(project, name)
        execution = Execution(
            project=project,
            test_suite=suite,
            status=S.RUNNING,
            trigger=Trigger.REPORTED,
            triggered_by=actor if actor is not None and actor.is_authenticated else None,
            revision=revision,
            branch=branch,
            environment=environment,
            labels={**(labels or {}), **({"ci_url": ci_url} if ci_url else {})},
            queued_at=now,
            started_at=now,
            heartbeat_at=now,
            lease_seconds=lease_seconds,
            timeout_seconds=timeout,
            deadline_at=now + timedelta(seconds=timeout),
            summary={"steps_done": 0, "counts": {}},
        )
        insert_new(execution, actor=actor, reason="opened by a CI client")
    return execution


def _suite_named(project: Project, name: str) -> TestSuite:
    try:
        with transaction.atomic():
            suite, _ = TestSuite.objects.get_or_create(
                project=project,
                name=name,
                defaults={"description": "Results reported from CI.", "tags": ["reported"]},
            )
    except IntegrityError:  # another client created it first
        suite = TestSuite.objects.get(project=project, name=name)
    return suite


def reported_run_append(
    execution_id: int, *, batch_id: str, results: list[dict]
) -> tuple[int, bool]:
    """Append a batch of results (trace steps: name, status, duration_ms, message, test, ...) as
    steps of the run's trace, each with its event, record them as case results (the
    reported_results_appended hook, same transaction), and renew the lease. Returns (results
    stored, created).

    A batch id seen before with the same results is not stored again (created False); with other
    results it raises ReportedBatchConflict (409). Raises InvalidTransition (409) when the run is
    closed, interrupted or timed out."""
    digest = _digest(results)
    with transaction.atomic():
        execution = _held(execution_id)
        seen = ReportedBatch.objects.filter(execution=execution, batch_id=batch_id).first()
        if seen is not None:
            if seen.sha256 != digest:
                raise ReportedBatchConflict(
                    f"Batch {batch_id!r} of run #{execution_id} was sent before with other "
                    "results; nothing was stored. Send new results under a new batch id.",
                    detail={"batch_id": batch_id, "stored_results": seen.results},
                )
            _renew(execution)
            return seen.results, False
        ReportedBatch.objects.create(
            execution=execution, batch_id=batch_id, sha256=digest, results=len(results)
        )
        if results:
            _append(execution, results)
        execution.heartbeat_at = timezone.now()
        execution.save(update_fields=["summary", "event_seq", "heartbeat_at"])
    return len(results), True


def _append(execution: Execution, results: list[dict]) -> None:
    """The batch's results as steps of the run's trace (a few statements, however many), one
    step event each (one INSERT), and, through reported_results_appended, case results."""
    attempt = Attempt(pk=_attempt_id(execution), execution=execution, number=1)
    first = execution.summary.get("steps_done", 0) + 1  # orders count from 1
    steps = [{**result, "order": first + i, "attempt": 1} for i, result in enumerate(results)]
    for step in steps:
        if not step["name"]:
            # Neither name nor key (a test with an empty title): named after its position, as
            # the JUnit import names such a testcase, rather than refusing the whole batch.
            test = {**step["test"], "name": f"[unnamed {step['order']}]"}
            classname = test["classname"]
            step["test"] = test
            step["name"] = f"{classname}.{test['name']}" if classname else test["name"]
    trace = trace_record_steps(attempt, steps)
    # The summary first: each event's live payload carries the run's counts as of this batch.
    execution.summary = {
        **execution.summary,
        "steps_done": trace.step_count,
        "counts": trace.counts,
    }
    events = [
        event_build(
            execution,
            execution.event_seq + i,
            kind=EventKind.STEP,
            actor_label="CI client",
            reason=step.get("message", "")[:500] if step["status"] != "passed" else "",
            data={
                "step": {k: step.get(k) for k in ("order", "name", "kind", "status", "duration_ms")}
            },
            attempt_number=1,
        )
        for i, step in enumerate(steps, start=1)
    ]
    execution.event_seq += len(events)
    events_insert(execution, events)
    reported_results_appended.send(sender=Execution, execution=execution, steps=steps)


def reported_run_heartbeat(execution_id: int) -> Execution:
    """Renew the lease. Raises InvalidTransition (409) when the run is no longer open."""
    with transaction.atomic():
        execution = _held(execution_id)
        _renew(execution)
    return execution


def reported_run_close(execution_id: int, *, actor=None, outcome: str = "") -> Execution:
    """running -> passed / failed (or the client's `outcome`): failed when any result failed or
    erred. Raises InvalidTransition (409) when it was closed before."""
    with transaction.atomic():
        execution = _held(execution_id)
        counts = execution.summary.get("counts", {})
        failing = counts.get("failed", 0) + counts.get("error", 0)
        outcome = outcome or (S.FAILED if failing else S.PASSED)
        transition(
            execution,
            execution.finish,
            {"outcome": outcome, "reason": "closed by the CI client", "now": timezone.now()},
            actor=actor,
            reason="closed by the CI client",
            close_attempt=outcome,
        )
    return execution


def _held(execution_id: int) -> Execution:
    execution = locked(execution_id)
    if execution.trigger != Trigger.REPORTED:
        raise InvalidTransition(f"Execution #{execution_id} is not a reported run.")
    if execution.status != S.RUNNING:
        raise InvalidTransition(
            f"Reported run #{execution_id} is {execution.status}: it takes no more results.",
            detail={"status": execution.status, "reason": execution.status_reason},
        )
    return execution


def _renew(execution: Execution) -> None:
    execution.heartbeat_at = timezone.now()
    execution.save(update_fields=["heartbeat_at"])


def _attempt_id(execution: Execution) -> int:
    return execution.attempts.values_list("pk", flat=True).get(number=1)


def _digest(results: list[dict]) -> str:
    canonical = json.dumps(results, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
