"""How far a run has got, split by outcome: the one reading of progress that every progress bar
shows (the dashboard's execution, suite and runs-list bars, and `manage.py run --wait`).

A bar is made of segments, one per outcome (passed, failed, error, skipped) in that order, plus
the part not done yet; the label counts each outcome, so "2/2 steps" never reads as if both
failed. A case run counts its steps (the trace's counts, kept in `summary` as steps finish); a
suite run counts its children by their status.
"""

from dataclasses import dataclass, field

from django.db.models import Count

from executions.models import TERMINAL, Execution, ExecutionStatus, Trigger
from executions.outcome import StepStatus

S = ExecutionStatus
SEGMENTS = ("passed", "failed", "error", "skipped")
# Step statuses and execution statuses onto the four segments, as they decide a run's outcome
# (StepStatus.FAILING fails it, StepStatus.BROKEN errors it, a warning does neither). What a
# cancel stopped (an interrupted step, a cancelled child) did not get a verdict: "skipped".
# A timed-out child failed.
_SEGMENT_OF = {
    StepStatus.PASSED: "passed",
    StepStatus.WARNING: "passed",
    StepStatus.FAILED: "failed",
    StepStatus.ERROR: "error",
    StepStatus.UNDEFINED: "error",
    StepStatus.BLOCKED: "error",
    StepStatus.SKIPPED: "skipped",
    StepStatus.INTERRUPTED: "skipped",
    S.TIMED_OUT: "failed",
    S.CANCELLED: "skipped",
}


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    unit: str  # "steps" or "cases"
    counts: dict[str, int] = field(default_factory=dict)  # segment -> how many, SEGMENTS order

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.done / self.total)) if self.total else 0

    def segments(self) -> list[tuple[str, int, float]]:
        """(segment, count, percent of the bar) of the segments that have any."""
        whole = max(self.total, self.done)
        return [
            (name, n, round(100 * n / whole, 2) if whole else 0.0)
            for name, n in self.counts.items()
            if n
        ]

    @property
    def label(self) -> str:
        """ "3/5 steps: 2 passed, 1 failed" (no counts before anything finished)."""
        head = f"{self.done}/{self.total or '?'} {self.unit}"
        parts = ", ".join(f"{n} {name}" for name, n in self.counts.items() if n)
        return f"{head}: {parts}" if parts else head


def segment_counts(statuses: dict[str, int]) -> dict[str, int]:
    """{status: n} of steps or finished executions -> {segment: n} in SEGMENTS order."""
    counts = dict.fromkeys(SEGMENTS, 0)
    for status, n in statuses.items():
        if status in (StepStatus.PENDING, StepStatus.RUNNING):
            continue  # not done: the unfilled part of the bar
        counts[_SEGMENT_OF.get(status, "error")] += n
    return counts


def children_statuses(parent_ids) -> dict[int, dict[str, int]]:
    """{suite run id: {status: n}} of the children of these suite runs, in one query (a list
    page reads them for all its suite runs at once)."""
    found: dict[int, dict[str, int]] = {pk: {} for pk in parent_ids}
    rows = (
        Execution.objects.filter(parent_id__in=list(found))
        .values("parent_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        found[row["parent_id"]][row["status"]] = row["n"]
    return found


def execution_progress(execution: Execution, child_statuses: dict[str, int] | None = None):
    """The Progress of a run. A suite run counts its children: pass their {status: n} when the
    caller has them (children_statuses), else they are read here."""
    summary = execution.summary or {}
    if execution.trigger == Trigger.REPORTED:
        # A reported run's results are the steps of its trace; how many will come, only its
        # client knows until it closes the run.
        done = summary.get("steps_done", 0)
        counts = segment_counts(summary.get("counts") or {})
        total = done if execution.is_terminal else 0
        return Progress(done=done, total=total, unit="results", counts=counts)
    if not execution.is_suite_run:
        counts = segment_counts(summary.get("counts") or {})
        done = summary.get("steps_done", 0)
        return Progress(done=done, total=summary.get("steps_total", 0), unit="steps", counts=counts)
    if child_statuses is None:
        child_statuses = children_statuses([execution.pk])[execution.pk]
    finished = {s: n for s, n in child_statuses.items() if s in TERMINAL}
    total = summary.get("children") or sum(child_statuses.values())
    return Progress(
        done=sum(finished.values()), total=total, unit="cases", counts=segment_counts(finished)
    )
