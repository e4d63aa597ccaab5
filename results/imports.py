"""JUnit import: one report becomes one ImportBatch and one CaseResult per testcase.

Imports stay out of the Execution lifecycle: nothing is queued or run, so 100,000 testcases cost
a few bulk statements per 5,000 of them instead of 100,000 lifecycles. Each testcase attaches to a
catalog case by its stable key (results.junit.case_key), created on first sight by the service the
`command` action uses too (results.reported_cases), so history and flaky detection see imported,
command-reported and engine results of a case in one table.
"""

import uuid

from django.conf import settings
from django.db import IntegrityError, transaction

from catalog.models import Project
from core.bulk import insert_rows
from results.errors import IdempotencyConflict
from results.history import Entry, history_record
from results.junit import JUnitReader, ParsedCase
from results.models import FAILING_OUTCOMES, CaseOutcome, CaseResult, ImportBatch
from results.notify import notify_on_commit
from results.reported_cases import reported_cases_find_or_create
from results.run_refs import IMPORT
from results.runs import RunRef
from results.signals import failures_of, results_recorded
from results.signatures import signature_of_junit

# Testcases written per round of bulk statements: bounded memory (a few MB), few round trips.
BATCH_SIZE = 5000
_COUNTER = {
    CaseOutcome.PASSED: "passed",
    CaseOutcome.FAILED: "failed",
    CaseOutcome.ERROR: "error",
    CaseOutcome.SKIPPED: "skipped",
}


class _Duplicate(Exception):
    """The same report was imported before: undo this one (raised inside the transaction)."""


def junit_import(
    *,
    project: Project,
    stream,
    actor=None,
    filename: str = "",
    revision: str = "",
    branch: str = "",
    environment: str = "",
    idempotency_key: str = "",
    max_bytes: int | None = None,
) -> tuple[ImportBatch, bool]:
    """Import a JUnit XML report read from the binary `stream`. Returns (batch, created).

    Idempotent: with an `idempotency_key` a second upload of the same report (same SHA-256)
    returns the first batch, having only hashed the body, and a different report under that key
    is refused; without a key, a byte-identical report is recognised at the end and undone. All
    of it is one transaction: a report that fails half-way leaves nothing behind. What had to be
    changed to read the report is in `batch.notes`.
    Raises InvalidJUnit / XMLForbidden (400), IdempotencyConflict (409), ImportTooLarge (413).
    """
    key = idempotency_key.strip()[:200]
    reader = JUnitReader(stream, max_bytes or settings.IB_JUNIT_MAX_BYTES)
    if key and (existing := _existing(project, key)):
        return _repeated(existing, reader), False
    try:
        with transaction.atomic():
            batch = ImportBatch.objects.create(
                project=project,
                # a unique placeholder until the content hash is known
                idempotency_key=key or f"pending:{uuid.uuid4().hex}",
                filename=filename[:255],
                revision=revision[:100],
                branch=branch[:200],
                environment=environment[:100],
                created_by=actor if actor is not None and actor.is_authenticated else None,
            )
            _ingest(batch, reader)
            batch.content_sha256 = reader.source.hexdigest()
            if not key:
                key = f"sha256:{batch.content_sha256}"
                if _existing(project, key):
                    raise _Duplicate
                batch.idempotency_key = key
            batch.name = reader.name
            batch.notes = reader.notes()
            batch.suites = reader.suites
            batch.size_bytes = reader.source.size
            batch.save()
            notify_on_commit(IMPORT, batch.pk, project.pk)
    except _Duplicate:
        return _existing(project, key), False
    except IntegrityError:
        # Two uploads with one key at the same time: the other one committed first.
        if key and (existing := _existing(project, key)):
            return _repeated(existing, reader), False
        raise
    return batch, True


def _repeated(existing: ImportBatch, reader: JUnitReader) -> ImportBatch:
    """The batch an Idempotency-Key names, when this body is the report it was used for.

    A client retrying after a timeout sends the same bytes; different bytes under the same key are
    a client bug (a key reused across jobs), and dropping them silently would lose a report."""
    received = reader.source.drain()  # the rest of the body, bounded like an import
    if received != existing.content_sha256:
        raise IdempotencyConflict(
            f"The Idempotency-Key {existing.idempotency_key!r} was used for a different report "
            f"(import #{existing.pk}); nothing was imported. Send a new key for a new report.",
            detail={
                "import": existing.pk,
                "content_sha256": existing.content_sha256,
                "received_sha256": received,
            },
        )
    return existing


def _existing(project: Project, key: str) -> ImportBatch | None:
    return ImportBatch.objects.filter(project=project, idempotency_key=key).first()


def _ingest(batch: ImportBatch, reader: JUnitReader) -> None:
    totals = dict.fromkeys(("tests", "passed", "failed", "error", "skipped", "retries"), 0)
    previous: dict[int, str] = {}
    passed: list[int] = []
    pending: list[ParsedCase] = []
    for parsed in reader:
        pending.append(parsed)
        if len(pending) >= BATCH_SIZE:
            _write(batch, pending, totals, previous, passed)
            pending = []
    _write(batch, pending, totals, previous, passed)
    batch.totals = totals
    _announce(batch, previous, passed)


def _announce(batch: ImportBatch, previous: dict[int, str], passed: list[int]) -> None:
    """Tell failure groups (triage) about the import, once, in its transaction. The failures are
    read back (COPY returns no ids) through the batch's index: a few thousand rows at most."""
    failures = failures_of(CaseResult.objects.filter(batch=batch))
    results_recorded.send(
        sender=CaseResult,
        project_id=batch.project_id,
        run=RunRef.of_batch(batch.pk),
        branch=batch.branch,
        revision=batch.revision,
        failures=failures,
        passed=passed,
        previous=previous,
    )


def _write(
    batch: ImportBatch,
    parsed: list[ParsedCase],
    totals: dict,
    previous: dict[int, str],
    passed: list[int],
) -> None:
    if not parsed:
        return
    case_ids, created = reported_cases_find_or_create(
        batch.project_id,
        parsed,
        source=f"JUnit import #{batch.pk}",
        created_by_id=batch.created_by_id,
    )
    batch.new_cases += created
    rows, entries = [], []
    for p in parsed:
        case_id = case_ids[p.key]
        rows.append(
            {
                "project_id": batch.project_id,
                "case_id": case_id,
                "batch_id": batch.pk,
                "suite_name": p.suite,
                "outcome": p.outcome,
                "retries": p.retries,
                "duration_ms": p.duration_ms,
                "revision": batch.revision,
                "branch": batch.branch,
                "environment": batch.environment,
                "message": p.message,
                "details": p.details,
                "signature": signature_of_junit(p.message, p.details)
                if p.outcome in FAILING_OUTCOMES
                else "",
                "created_at": batch.created_at,
            }
        )
        if p.outcome == CaseOutcome.PASSED:
            passed.append(case_id)
        entries.append(
            Entry(case_id, p.outcome, p.duration_ms, batch.revision, p.retries, batch.created_at)
        )
        totals["tests"] += 1
        totals[_COUNTER[p.outcome]] += 1
        totals["retries"] += p.retries
        batch.duration_ms += p.duration_ms or 0
    insert_rows(CaseResult, rows)
    history_record(
        entries, project_id=batch.project_id, actor_label=f"import #{batch.pk}", previous=previous
    )
