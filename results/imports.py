"""JUnit import: one report becomes one ImportBatch and one CaseResult per testcase.

Imports stay out of the Execution lifecycle: nothing is queued or run, so 100,000 testcases cost
a few bulk statements per 5,000 of them instead of 100,000 lifecycles. Each testcase attaches to a
catalog case by its stable key (results.junit.case_key), created on first sight, so history and
flaky detection see imported and engine results of a case in one table.
"""

import uuid

from django.conf import settings
from django.db import IntegrityError, transaction

from catalog.models import CaseType, Project, TestCase
from results.bulk import insert_rows, select_any
from results.history import Entry, history_record
from results.junit import JUnitReader, ParsedCase
from results.models import CaseOutcome, CaseResult, ImportBatch

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

    Idempotent: with an `idempotency_key` a second upload returns the first batch without reading
    anything; without one, a byte-identical report (same SHA-256) is recognised at the end and
    undone. All of it is one transaction: a report that fails half-way leaves nothing behind.
    Raises InvalidJUnit / XMLForbidden (400) and ImportTooLarge (413).
    """
    key = idempotency_key.strip()[:200]
    if key and (existing := _existing(project, key)):
        return existing, False
    reader = JUnitReader(stream, max_bytes or settings.IB_JUNIT_MAX_BYTES)
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
            batch.suites = reader.suites
            batch.size_bytes = reader.source.size
            batch.save()
    except _Duplicate:
        return _existing(project, key), False
    except IntegrityError:
        # Two uploads with one key at the same time: the other one committed first.
        if key and (existing := _existing(project, key)):
            return existing, False
        raise
    return batch, True


def _existing(project: Project, key: str) -> ImportBatch | None:
    return ImportBatch.objects.filter(project=project, idempotency_key=key).first()


def _ingest(batch: ImportBatch, reader: JUnitReader) -> None:
    totals = dict.fromkeys(("tests", "passed", "failed", "error", "skipped", "retries"), 0)
    pending: list[ParsedCase] = []
    for parsed in reader:
        pending.append(parsed)
        if len(pending) >= BATCH_SIZE:
            _write(batch, pending, totals)
            pending = []
    _write(batch, pending, totals)
    batch.totals = totals


def _write(batch: ImportBatch, parsed: list[ParsedCase], totals: dict) -> None:
    if not parsed:
        return
    case_ids = _case_ids(batch, parsed)
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
                "created_at": batch.created_at,
            }
        )
        entries.append(
            Entry(case_id, p.outcome, p.duration_ms, batch.revision, p.retries, batch.created_at)
        )
        totals["tests"] += 1
        totals[_COUNTER[p.outcome]] += 1
        totals["retries"] += p.retries
        batch.duration_ms += p.duration_ms or 0
    insert_rows(CaseResult, rows)
    history_record(entries, project_id=batch.project_id, actor_label=f"import #{batch.pk}")


def _case_ids(batch: ImportBatch, parsed: list[ParsedCase]) -> dict[str, int]:
    """Catalog case ids by key: one query for those that exist, one insert for the rest (a
    concurrent import may create some first: conflicts are skipped, then all are read back)."""
    wanted = {p.key: p for p in parsed}
    ids = _ids_by_key(batch, list(wanted))
    missing = [wanted[k] for k in wanted if k not in ids]
    if missing:
        rows = [_new_case(batch, p) for p in missing]
        try:
            with transaction.atomic():
                insert_rows(TestCase, rows)
        except IntegrityError:
            # A concurrent import created some of these cases first: keep theirs.
            insert_rows(TestCase, rows, conflict=("project", "key"))
        ids.update(_ids_by_key(batch, [p.key for p in missing]))
        batch.new_cases += len(missing)
    return ids


def _ids_by_key(batch: ImportBatch, keys: list[str]) -> dict[str, int]:
    where = {"project_id": batch.project_id}
    return {
        r["key"]: r["id"] for r in select_any(TestCase, "key", keys, ["key", "id"], where=where)
    }


def _new_case(batch: ImportBatch, parsed: ParsedCase) -> dict:
    """A catalog case for a testcase seen for the first time (other fields: model defaults)."""
    source = f" from {parsed.classname}" if parsed.classname else ""
    return {
        "project_id": batch.project_id,
        "key": parsed.key,
        "name": parsed.name[:255],
        "type": CaseType.GENERIC,
        "description": f"Created by JUnit import #{batch.pk}{source}",
        "tags": ["junit"],
        "created_by_id": batch.created_by_id,
    }
