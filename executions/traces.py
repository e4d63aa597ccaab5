"""The one accessor for traces, inline or in rows.

Writers call `trace_record_step` (inside the execution's transaction); readers call `trace_steps`,
`trace_step_page` or `trace_step_json_chunks`. None of them needs to know where the steps live.

Storage: below IB_TRACE_INLINE_MAX_STEPS steps a trace is a JSON list on its row (one row to read;
an append extends the list in the database, which still rewrites it, so its cost grows with the
length); at the threshold every step moves to StepRecord rows in the same transaction, and from
then on an append is one INSERT whatever the size. bench/traces.py measured where the two append
costs cross: that is the default threshold (docs/performance.md, "Traces").
"""

import json
from collections.abc import Iterator

from django.conf import settings
from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone

from core.bulk import insert_rows
from executions.models import StepRecord, Trace, TraceStorage

# Rows fetched per query when a whole trace is read or streamed: large enough that a 5,000-step
# trace is a handful of round trips, small enough to keep the memory of one chunk bounded.
READ_CHUNK = 1000


def trace_for_attempt(attempt) -> Trace:
    trace, _ = Trace.objects.get_or_create(
        attempt=attempt, defaults={"execution_id": attempt.execution_id}
    )
    return trace


def trace_record_step(attempt, step: dict) -> Trace:
    """Store one step result (a dict with at least `order` and `status`).

    A step whose `order` is already recorded replaces it (a manual step recorded again, a running
    step that finished); otherwise it is inserted in order. Reaching the inline threshold moves
    every step to rows in the same transaction, so no reader ever sees a half-moved trace.

    The common case, a new last step, never reads the stored steps: inline it is one UPDATE that
    concatenates in the database, in rows one INSERT plus the UPDATE of the trace's counters.
    Call inside the execution's transaction (which also serializes writers of one attempt).
    """
    order, status = int(step["order"]), step["status"]
    # No savepoint of its own: inside the caller's transaction a failure here fails the whole step
    # record anyway, and a savepoint is two more round trips on every step of every run.
    with transaction.atomic(savepoint=False):
        trace = Trace.objects.select_for_update().defer("steps").filter(attempt=attempt).first()
        if trace is None and _threshold() > 1:
            # An attempt's first step: the trace is born holding it, one INSERT. (The caller holds
            # the execution locked, so no other writer can be creating this attempt's trace.)
            return Trace.objects.create(
                attempt=attempt,
                execution_id=attempt.execution_id,
                storage=TraceStorage.INLINE,
                steps=[step],
                step_count=1,
                last_order=order,
                counts={status: 1},
            )
        trace = trace or trace_for_attempt(attempt)
        fields = ["storage", "step_count", "last_order", "counts", "updated_at"]
        appended_inline = False
        if trace.storage == TraceStorage.INLINE:
            if order > trace.last_order and trace.step_count + 1 < _threshold():
                old_status, appended_inline = None, True
            else:
                old_status = _inline_put(trace, order, step)
                if len(trace.steps) >= _threshold():
                    _promote(trace)
                fields.append("steps")
        else:
            old_status = _rows_put(trace, order, status, step)
        _count(trace, old_status, status)
        trace.last_order = max(trace.last_order, order)
        if appended_inline:
            _inline_append(trace, [step], fields)
        else:
            trace.save(update_fields=fields)
    return trace


def trace_record_steps(attempt, steps: list[dict]) -> Trace:
    """Append new last steps (orders ascending, above every order stored) in a few statements,
    whatever their number: a reported run's batch of results. Inline while the trace stays under
    the threshold (one UPDATE that extends the list), else in rows (one bulk INSERT; the move
    to rows included when this batch crosses the threshold). Raises ValueError for a step that
    is not new. Call inside the execution's transaction, like trace_record_step."""
    if not steps:
        raise ValueError("no steps to record")
    with transaction.atomic(savepoint=False):
        trace = Trace.objects.select_for_update().defer("steps").filter(attempt=attempt).first()
        if trace is None:
            trace = trace_for_attempt(attempt)
        if int(steps[0]["order"]) <= trace.last_order:
            raise ValueError(f"step {steps[0]['order']} is not after {trace.last_order}")
        fields = ["storage", "step_count", "last_order", "counts", "updated_at"]
        counts = dict(trace.counts)
        for step in steps:
            counts[step["status"]] = counts.get(step["status"], 0) + 1
        inline = trace.storage == TraceStorage.INLINE
        if inline and trace.step_count + len(steps) < _threshold():
            appended_inline = True
        else:
            appended_inline = False
            if inline:
                trace.refresh_from_db(fields=["steps"])
                _promote(trace)
                fields.append("steps")
            # COPY on PostgreSQL: bulk_create's array parameters cost more than the rows.
            insert_rows(
                StepRecord,
                [
                    {"trace_id": trace.pk, "order": s["order"], "status": s["status"], "data": s}
                    for s in steps
                ],
            )
        trace.step_count += len(steps)
        trace.counts = counts
        trace.last_order = int(steps[-1]["order"])
        if appended_inline:
            _inline_append(trace, steps, fields)
        else:
            trace.save(update_fields=fields)
    return trace


def _threshold() -> int:
    return settings.IB_TRACE_INLINE_MAX_STEPS


def _inline_append(trace: Trace, steps: list[dict], fields: list[str]) -> None:
    """UPDATE ... SET steps = steps || [steps]: the list is extended where it is stored instead of
    travelling to Python and back whole (bench/traces.py: flat where read-modify-write grows)."""
    trace.updated_at = timezone.now()
    values = {name: getattr(trace, name) for name in fields}
    if connection.vendor == "postgresql":
        values["steps"] = RawSQL("steps || %s::jsonb", [json.dumps(steps)])
    else:
        # SQLite's json_insert appends one value per path: as many '$[#]' as there are steps.
        # The SQL is this constant text repeated; the steps travel as parameters.
        paths = ", ".join(["'$[#]', json(%s)"] * len(steps))
        sql = f"json_insert(steps, {paths})"
        values["steps"] = RawSQL(sql, [json.dumps(s) for s in steps])  # noqa: S611
    Trace.objects.filter(pk=trace.pk).update(**values)
    if "steps" not in trace.get_deferred_fields():
        trace.steps.extend(steps)  # keep a loaded object true to the row


def _inline_put(trace: Trace, order: int, step: dict) -> str | None:
    """Put the step into the inline list; return the status it replaced, if any."""
    steps = trace.steps
    if order > trace.last_order:  # the common case: appended at the end, nothing to look up
        steps.append(step)
        return None
    for i, existing in enumerate(steps):
        if existing["order"] == order:
            steps[i] = step
            return existing["status"]
    steps.append(step)
    steps.sort(key=lambda s: s["order"])
    return None


def _rows_put(trace: Trace, order: int, status: str, step: dict) -> str | None:
    if order <= trace.last_order:
        record = StepRecord.objects.filter(trace=trace, order=order).first()
        if record is not None:
            old_status = record.status
            record.status, record.data = status, step
            record.save(update_fields=["status", "data"])
            return old_status
    StepRecord.objects.create(trace=trace, order=order, status=status, data=step)
    return None


def _promote(trace: Trace) -> None:
    """Inline -> rows, in the caller's transaction: every step, in order, then an empty list."""
    StepRecord.objects.bulk_create(
        StepRecord(trace=trace, order=s["order"], status=s["status"], data=s) for s in trace.steps
    )
    trace.storage = TraceStorage.ROWS
    trace.steps = []


def _count(trace: Trace, old_status: str | None, status: str) -> None:
    counts = dict(trace.counts)
    if old_status is None:
        trace.step_count += 1
    else:
        counts[old_status] = counts.get(old_status, 1) - 1
    counts[status] = counts.get(status, 0) + 1
    trace.counts = {k: v for k, v in counts.items() if v}


# --- reading ---------------------------------------------------------------------------------


def trace_of(execution, attempt_number: int | None = None) -> Trace | None:
    """The trace of one attempt of an execution (the latest attempt by default)."""
    traces = Trace.objects.filter(execution=execution)
    if attempt_number is not None:
        return traces.filter(attempt__number=attempt_number).first()
    return traces.order_by("-attempt__number").first()


def trace_steps(trace: Trace | None) -> list[dict]:
    """Every step of a trace, in order, wherever it is stored."""
    if trace is None:
        return []
    if trace.storage == TraceStorage.INLINE:
        return list(trace.steps)
    steps: list[dict] = []
    after = -1
    while page := trace_step_page(trace, after=after, limit=READ_CHUNK):
        steps.extend(page)
        after = page[-1]["order"]
    return steps


def trace_step_page(trace: Trace, *, after: int = -1, limit: int = 500) -> list[dict]:
    """Steps with order > after, at most `limit` of them: the paginated read (keyset, so page 100
    costs what page 1 costs)."""
    if trace.storage == TraceStorage.INLINE:
        return [s for s in trace.steps if s["order"] > after][:limit]
    return list(
        trace.records.filter(order__gt=after)
        .order_by("order")
        .values_list("data", flat=True)[:limit]
    )


def trace_step_page_json(trace: Trace, *, after: int = -1, limit: int = 500) -> tuple[list, int]:
    """trace_step_page as JSON texts, with the order of the last step returned (or `after`).

    Rows are read as the database's own JSON text (jsonb::text on PostgreSQL), so a large trace
    is never decoded into Python objects only to be encoded again."""
    if trace.storage == TraceStorage.INLINE:
        steps = trace_step_page(trace, after=after, limit=limit)
        return [json.dumps(s) for s in steps], (steps[-1]["order"] if steps else after)
    rows = list(
        trace.records.filter(order__gt=after)
        .order_by("order")
        .annotate(text=Cast("data", TextField()))
        .values_list("order", "text")[:limit]
    )
    return [text for _, text in rows], (rows[-1][0] if rows else after)


def trace_step_json_chunks(trace: Trace | None) -> Iterator[list[str]]:
    """Every step as JSON text, in order, a chunk at a time: what the streaming API writes."""
    if trace is None:
        return
    after = -1
    while True:
        texts, after = trace_step_page_json(trace, after=after, limit=READ_CHUNK)
        if not texts:
            return
        yield texts
        if trace.storage == TraceStorage.INLINE and len(texts) < READ_CHUNK:
            return  # the whole list was in memory already
