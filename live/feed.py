"""Reading the event log for the live feed: catch-up for sockets and the follower of the relay.

The event log (executions.ExecutionEvent) is the source of truth; channel-layer messages are only a
fast path. Everything here is synchronous ORM code; consumers call it through
database_sync_to_async and the relay through its own thread.
"""

import time
from collections.abc import Iterator

from django.db.models import Q

from executions.models import Execution, ExecutionEvent
from live.events import ExecutionEventPayload, event_payload

# How many events one read returns; a long history is sent in chunks of this size.
CHUNK = 500


def _payloads(events) -> list[ExecutionEventPayload]:
    """The payloads of events, their executions read once each: a reported run's batch is a
    thousand events of one execution, and a join would build its 59-column row a thousand times
    (bench/reporting.py)."""
    events = list(events)
    executions = Execution.objects.in_bulk({event.execution_id for event in events})
    return [
        event_payload(event, executions[event.execution_id])
        for event in events
        if event.execution_id in executions  # not deleted since (its events go with it)
    ]


def _events():
    return ExecutionEvent.objects.all()


def execution_events_after(
    execution_id: int, after_seq: int, *, upto_seq: int | None = None, limit: int = CHUNK
) -> list[ExecutionEventPayload]:
    """Events of one execution with seq > after_seq (and <= upto_seq), in seq order."""
    events = _events().filter(execution_id=execution_id, seq__gt=after_seq)
    if upto_seq is not None:
        events = events.filter(seq__lte=upto_seq)
    return _payloads(events.order_by("seq")[:limit])


def project_events_after(
    project_id: int, after_id: int, *, limit: int = CHUNK
) -> list[ExecutionEventPayload]:
    """Events of a project with id > after_id, oldest first (the dashboard's resume)."""
    events = _events().filter(project_id=project_id, id__gt=after_id).order_by("id")
    return _payloads(events[:limit])


def latest_seqs(execution_ids) -> dict[int, int]:
    """The newest seq of each execution (Execution.event_seq), for the sockets' periodic catch-up."""
    return dict(Execution.objects.filter(pk__in=execution_ids).values_list("pk", "event_seq"))


def suite_children_seqs(parent_id: int) -> dict[int, int]:
    return dict(Execution.objects.filter(parent_id=parent_id).values_list("pk", "event_seq"))


def project_recent_seqs(project_id: int, since) -> dict[int, tuple[int, int]]:
    """(lowest, highest) seq per execution among the project's events created since `since`."""
    seqs: dict[int, tuple[int, int]] = {}
    rows = ExecutionEvent.objects.filter(project_id=project_id, created_at__gte=since)
    for execution_id, seq in rows.values_list("execution_id", "seq").iterator():
        low, high = seqs.get(execution_id, (seq, seq))
        seqs[execution_id] = (min(low, seq), max(high, seq))
    return seqs


class EventFollower:
    """Follows the whole event log in the order rows become visible, without skipping any.

    Ids are taken at INSERT, not at COMMIT: on PostgreSQL a transaction that took id 100 can commit
    after one that took id 101. A plain "id > last seen" cursor would skip 100 for good. So every id
    below the cursor that was not seen yet is remembered as a gap and asked for again on each poll,
    until it shows up or GAP_TTL_SECONDS pass (the transaction rolled back: ids are never reused).
    Engine transactions last milliseconds, so the TTL is generous. Each id is returned once, which
    also makes (execution, seq) unique in what the follower hands out.
    """

    GAP_TTL_SECONDS = 30.0
    MAX_GAPS = 10_000  # a bound for pathological jumps in the id sequence

    def __init__(self, after_id: int) -> None:
        self.cursor = after_id
        self.gaps: dict[int, float] = {}  # missing id -> when it was first missed (monotonic)

    @classmethod
    def from_now(cls) -> "EventFollower":
        last = ExecutionEvent.objects.order_by("-id").values_list("id", flat=True).first()
        return cls(last or 0)

    def poll(self, limit: int = CHUNK) -> list[ExecutionEventPayload]:
        now = time.monotonic()
        self.gaps = {i: t for i, t in self.gaps.items() if now - t < self.GAP_TTL_SECONDS}
        wanted = Q(id__gt=self.cursor)
        if self.gaps:
            wanted |= Q(id__in=list(self.gaps))
        events = list(_events().filter(wanted).order_by("id")[:limit])
        for event in events:
            if event.pk > self.cursor:
                self._note_gaps(event.pk, now)
                self.cursor = event.pk
            else:
                self.gaps.pop(event.pk, None)
        return _payloads(events)

    def _note_gaps(self, new_id: int, now: float) -> None:
        for missing in _tail_range(self.cursor + 1, new_id, self.MAX_GAPS):
            self.gaps[missing] = now
        if len(self.gaps) > self.MAX_GAPS:
            for oldest in sorted(self.gaps)[: len(self.gaps) - self.MAX_GAPS]:
                del self.gaps[oldest]


def _tail_range(start: int, stop: int, at_most: int) -> Iterator[int]:
    """The last `at_most` integers of range(start, stop)."""
    return iter(range(max(start, stop - at_most), stop))
