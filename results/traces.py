"""The one accessor for traces, inline or in rows.

Writers call `trace_record_step` (inside the execution's transaction); readers call `trace_steps`
or `trace_step_page`. Neither needs to know where the steps live.
"""

from django.conf import settings
from django.db import transaction

from results.models import StepRecord, Trace, TraceStorage


def trace_for_attempt(attempt) -> Trace:
    trace, _ = Trace.objects.get_or_create(
        attempt=attempt, defaults={"execution_id": attempt.execution_id}
    )
    return trace


def trace_record_step(attempt, step: dict) -> Trace:
    """Store one step result (a dict with at least `order` and `status`).

    A step whose `order` is already recorded replaces it (a manual step recorded again, a running
    step that finished); otherwise it is appended. Crossing the inline threshold moves every step
    to rows in the same transaction. Cost does not grow with the trace once it is in rows: one
    indexed look-up, one insert or update, one trace row update. Call inside the execution's
    transaction.
    """
    threshold = settings.IB_TRACE_INLINE_MAX_STEPS
    order, status = step["order"], step["status"]
    with transaction.atomic():
        trace = Trace.objects.select_for_update().filter(attempt=attempt).first()
        if trace is None:
            trace = trace_for_attempt(attempt)
        counts = dict(trace.counts)
        if trace.storage == TraceStorage.INLINE:
            previous = next((s for s in trace.steps if s["order"] == order), None)
            steps = [s for s in trace.steps if s["order"] != order]
            steps.append(step)
            steps.sort(key=lambda s: s["order"])
            if len(steps) >= threshold:
                _promote(trace, steps)
            else:
                trace.steps = steps
            old_status = previous["status"] if previous else None
        else:
            record = StepRecord.objects.filter(trace=trace, order=order).first()
            old_status = record.status if record else None
            if record is None:
                StepRecord.objects.create(trace=trace, order=order, status=status, data=step)
            else:
                record.status, record.data = status, step
                record.save(update_fields=["status", "data"])
        if old_status is None:
            trace.step_count += 1
        else:
            counts[old_status] = counts.get(old_status, 1) - 1
        counts[status] = counts.get(status, 0) + 1
        trace.counts = {k: v for k, v in counts.items() if v}
        trace.save(update_fields=["storage", "steps", "step_count", "counts", "updated_at"])
    return trace


def _promote(trace: Trace, steps: list[dict]) -> None:
    StepRecord.objects.bulk_create(
        StepRecord(trace=trace, order=s["order"], status=s["status"], data=s) for s in steps
    )
    trace.storage = TraceStorage.ROWS
    trace.steps = []


def trace_steps(trace: Trace | None) -> list[dict]:
    """Every step of a trace, in order, wherever it is stored."""
    if trace is None:
        return []
    if trace.storage == TraceStorage.INLINE:
        return list(trace.steps)
    return list(trace.records.order_by("order").values_list("data", flat=True))


def trace_step_page(trace: Trace, *, after: int = 0, limit: int = 500) -> list[dict]:
    """Steps with order > after, at most `limit` of them: the paginated / streamed read."""
    if trace.storage == TraceStorage.INLINE:
        return [s for s in trace.steps if s["order"] > after][:limit]
    return list(
        trace.records.filter(order__gt=after)
        .order_by("order")
        .values_list("data", flat=True)[:limit]
    )
