"""Claiming: a worker takes the best claimable execution (executions.selectors.queue_claimable).

The only compare-and-swap on an execution's status. Locks, in this order: the candidate (SKIP
LOCKED), its project's row (only under a concurrency limit), its suite run's row (SKIP LOCKED: a
finishing child locks its suite run before itself, so a claim never waits on one).

The candidate's read is executions.rows.claim_candidates: queue_claimable's own condition,
compiled by the ORM once per process, in SQL whose columns are built once per process. Built by the
ORM on every claim, the same read cost a worker 5 ms more CPU per execution and a fifth of the
throughput (119 to 96 executions/s, docs/performance.md, "Claim: ORM vs SQL").
"""

from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from catalog.models import Project
from executions.models import Attempt, Execution
from executions.rows import claim_candidates, claimable_exists
from executions.services.transitions import transition

# Looks a claim takes before it gives up until the next doorbell: every refused look leaves its
# candidate or suite out of the next, and sees the claims that won the race, so two are usual.
CLAIM_LOOKS = 10


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
        execution = _first_startable()
        if execution is None:
            return None
        # Progress bars know the size of a case from its steps (a BDD runner tells it later,
        # once the feature is compiled).
        execution.summary = {"steps_total": len(execution.test_case.steps)}
        transition(
            execution,
            execution.start,
            {
                "worker": worker,
                "now": now,
                "deadline": now + timedelta(seconds=execution.timeout_seconds),
            },
            actor_label=f"worker {worker}",
            fields=("summary",),
        )
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


def _first_startable() -> Execution | None:
    """The best claimable execution (executions.selectors.queue_claimable) that this claim could
    lock and confirm, with its project and case loaded; None when there is none. Rows other
    claims hold are skipped, never waited on. A look fails only when a race or a locked suite run
    refuses its candidate, and the next look leaves that candidate (or that suite) out."""
    refused: set[int] = set()
    refused_parents: set[int] = set()
    for _ in range(CLAIM_LOOKS):
        found = claim_candidates(refused=refused, refused_parents=refused_parents)
        if not found:
            return None
        candidate = found[0]
        verdict = _may_start(candidate)
        if verdict is True:
            return candidate  # locked by the candidate's read until this transaction ends
        if verdict == "parent":
            refused_parents.add(candidate.parent_id)
        else:
            refused.add(candidate.pk)
    return None


def _may_start(candidate: Execution) -> bool | str:
    """True, or what holds the locked candidate back: "parent" (another claim or a finishing
    child holds its suite run's row) or "limit" (a claim that held the same lock took the last
    slot first).

    A run under no limit needs no second look. Under a limit, the candidate's read may predate
    another claim's commit: take the lock that serializes the claims on that limit (the project's
    row, waited on; the suite run's row, skipped when taken, since its finishing child may hold
    it), then ask queue_claimable again, in a new statement that sees every claim committed
    before the lock was granted."""
    limited = candidate.project.max_concurrency is not None
    if not limited and candidate.parent_id is None:
        return True
    if limited:
        list(Project.objects.select_for_update().filter(pk=candidate.project_id).values_list("pk"))
    if candidate.parent_id is not None:
        parent = Execution.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            pk=candidate.parent_id
        )
        if not parent.values_list("pk"):
            return "parent"
    return True if claimable_exists(candidate.pk) else "limit"
