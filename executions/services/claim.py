"""Claiming: a worker takes the best queued execution that may start now.

The only compare-and-swap on an execution's status. Lock order (see executions.services.lifecycle):
the candidate execution, then its project row (only for a project with a concurrency limit), then
its suite run (skip-locked, never waited on).
"""

from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from catalog.models import Project
from engine.rows import db_datetime, row_lock, select_executions
from executions.models import Attempt, Execution, ExecutionStatus, QueueState
from executions.services.events import event_transition

S = ExecutionStatus

# Rows a claim looks at: the best one is usually startable; a few more get past suites at their
# max_parallel and projects at their limit without reading the whole queue.
CLAIM_CANDIDATES = 8
CLAIM_PAGES = 10


def execution_claim_next(*, worker: str) -> Execution | None:
    """Claim the best queued execution (highest priority, then oldest) for `worker`.

    PostgreSQL: candidates are locked with SKIP LOCKED, so concurrent workers never wait on or
    take the same row. SQLite: transactions are serialized, and the FSM save is a compare-and-swap
    (UPDATE ... WHERE status='queued') either way, so a duplicate delivery can never start anything
    twice. Honours the queue pause, project concurrency limits and suites' max_parallel.

    The claimed execution comes back with its project and case loaded and `attempt_id` set to the
    attempt it now runs (the worker's trace belongs to it).
    """
    now = timezone.now()
    with transaction.atomic():
        execution = _first_startable(now)
        if execution is None:
            return None
        before = execution.status
        execution.start(
            worker=worker,
            now=now,
            deadline=now + timedelta(seconds=execution.timeout_seconds),
        )
        # Progress bars know the size of a case from its steps (a BDD runner tells it later,
        # once the feature is compiled).
        execution.summary = {"steps_total": len(execution.test_case.steps)}
        event_transition(execution, before, actor_label=f"worker {worker}")
        execution.save()
        execution.attempt_id = _start_attempt(execution, worker=worker, now=now)
        return execution


def _start_attempt(execution: Execution, *, worker: str, now) -> int:
    """Mark the current attempt started by `worker`; return its id. One UPDATE ... RETURNING
    (PostgreSQL and SQLite alike) instead of an update and a read: the claim is on every
    execution's path."""
    table = connection.ops.quote_name(Attempt._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET started_at = %s, worker = %s"  # noqa: S608 (our own table name)
            " WHERE execution_id = %s AND number = %s RETURNING id",
            [now, worker, execution.pk, execution.attempt_count],
        )
        return cursor.fetchone()[0]


def _first_startable(now) -> Execution | None:
    """The best queued execution that may start now, locked, with its project and case loaded;
    None when there is none (or the queue is paused). Usually the best candidate may start: the
    first look fetches just it. A suite at its max_parallel or a project at its limit is left out
    of the next look, which takes a page of candidates, so a busy suite of many queued children
    cannot hide a startable execution behind it."""
    blocked_parents: set[int] = set()
    blocked_projects: set[int] = set()
    page = 1
    for _ in range(CLAIM_PAGES):
        where, params = _claimable(now, blocked_parents, blocked_projects)
        candidates = select_executions(
            where,
            params,
            related=("project", "test_case"),
            # The order of the partial index exec_claim_idx: best first, then oldest.
            tail=f"ORDER BY e.priority DESC, e.queued_at, e.id LIMIT {page} "
            + row_lock(skip_locked=True),
        )
        for candidate in candidates:
            if candidate.parent_id in blocked_parents or candidate.project_id in blocked_projects:
                continue
            verdict = _may_start(
                candidate.project_id, candidate.parent_id, candidate.project.max_concurrency
            )
            if verdict is True:
                return candidate  # locked by the query above until this transaction ends
            if verdict == "parent":
                blocked_parents.add(candidate.parent_id)
            else:
                blocked_projects.add(candidate.project_id)
        if len(candidates) < page:
            return None
        page = CLAIM_CANDIDATES
    return None


def _claimable(now, blocked_parents: set[int], blocked_projects: set[int]) -> tuple[str, list]:
    """The claim's condition: queued case runs whose time has come, while the queue is not
    paused, outside the suites and projects already found full. Written as SQL because the claim
    runs once per execution (engine.rows)."""
    paused = connection.ops.quote_name(QueueState._meta.db_table)
    where = [
        "e.status = %s AND e.test_case_id IS NOT NULL",
        "(e.not_before IS NULL OR e.not_before <= %s)",
        f"NOT EXISTS (SELECT 1 FROM {paused} q WHERE q.id = 1 AND q.paused)",  # noqa: S608
    ]
    params: list = [S.QUEUED, db_datetime(now)]
    if blocked_parents:
        marks = ", ".join(["%s"] * len(blocked_parents))
        where.append(f"(e.parent_id IS NULL OR e.parent_id NOT IN ({marks}))")
        params += sorted(blocked_parents)
    if blocked_projects:
        marks = ", ".join(["%s"] * len(blocked_projects))
        where.append(f"e.project_id NOT IN ({marks})")
        params += sorted(blocked_projects)
    return " AND ".join(where), params


def _may_start(project_id: int, parent_id: int | None, max_concurrency: int | None) -> bool | str:
    """True, or what holds it back: "project" (its limit) or "parent" (the suite's max_parallel,
    or the suite run is busy or stopping)."""
    if max_concurrency is not None:
        # Serialize claims within a limited project so two workers cannot both take the last slot.
        project = Project.objects.select_for_update().get(pk=project_id)
        running = Execution.objects.filter(
            project_id=project.pk, status__in=(S.RUNNING, S.CANCELLING), test_case__isnull=False
        ).count()
        if running >= project.max_concurrency:
            return "project"
    if parent_id is None:
        return True
    # Never block on a suite run's row (its finishing child may hold it): skip and retry later.
    parent = (
        Execution.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk=parent_id)
        .first()
    )
    if parent is None or parent.status != S.RUNNING:
        return "parent"
    busy = parent.children.filter(status__in=(S.RUNNING, S.CANCELLING)).count()
    return True if busy < parent.max_parallel else "parent"
