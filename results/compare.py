"""Compare two runs of one project: what newly fails, what was fixed, what still fails (with the
same failure signature or another), which tests are new or gone, and which got slower.

A side is read with ONE query of only the columns the buckets need (key, case, outcome,
duration, signature, the result's execution): the CaseResults of an engine run (a case run's own,
a suite run's children's) or of a JUnit import, or for a reported run the steps of its trace
(executions.traces, the one accessor). Tests are matched by their key (TestCase.key; a reported
step's name, which is "classname.name" as an import's key is), so a suite run, an import and a
reported run of the same tests compare. Two runs of 100,000 tests: docs/performance.md
("Compare").

The signature comes through `_signature()` alone: until results carry a computed signature it is
the first line of the message (the lead switches that one line to the `signature` column).
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Case, CharField, Func, Value, When

from executions.models import Execution
from executions.traces import trace_of, trace_steps
from results.errors import InvalidQuery
from results.models import CaseOutcome, CaseResult
from results.run_refs import EXECUTION, IMPORT, Run

FAILING = (CaseOutcome.FAILED, CaseOutcome.ERROR)
# Shown in this order: what needs a person first.
BUCKETS = ("newly_failing", "still_failing", "fixed", "new_tests", "removed_tests", "slower")
BUCKET_TITLES = {
    "newly_failing": "Newly failing",
    "still_failing": "Still failing",
    "fixed": "Fixed",
    "new_tests": "New tests",
    "removed_tests": "Removed tests",
    "slower": "Slower",
}


class FirstLine(Func):
    """The first line of a text column, trimmed (PostgreSQL and SQLite alike)."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="btrim(split_part(%(expressions)s, chr(10), 1))")

    def as_sqlite(self, compiler, connection, **extra):
        template = "trim(substr(%(expressions)s, 1, instr(%(expressions)s || char(10), char(10)) - 1))"
        return self.as_sql(compiler, connection, template=template)


def _signature():
    """The failure signature of a CaseResult, as a query expression: "" for a result that did not
    fail. THE one place to switch to the computed column: `return F("signature")`."""
    return Case(When(outcome__in=FAILING, then=FirstLine("message")), default=Value(""))


def _step_signature(step: dict) -> str:
    """The failure signature of a reported run's step (its error message's first line)."""
    if step.get("status") not in FAILING:
        return ""
    message = (step.get("error") or {}).get("message") or step.get("message") or ""
    return message.split("\n", 1)[0].strip()


@dataclass(frozen=True, slots=True)
class Side:
    """One test's result on one side."""

    case_id: int | None
    outcome: str
    duration_ms: int | None
    signature: str
    execution_id: int | None  # the execution that ran it (a suite run's child), for links


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    base: Side | None
    head: Side | None

    @property
    def case_id(self) -> int | None:
        return (self.head or self.base).case_id

    @property
    def same_signature(self) -> bool:
        return bool(self.base and self.head and self.base.signature == self.head.signature)

    @property
    def ratio(self) -> float | None:
        if not (self.base and self.head and self.base.duration_ms and self.head.duration_ms):
            return None
        return self.head.duration_ms / self.base.duration_ms


@dataclass
class Comparison:
    base: Run | None
    head: Run
    ratio: float
    min_delta_ms: int
    buckets: dict[str, list[Row]] = field(default_factory=dict)
    unchanged: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return {name: len(self.buckets[name]) for name in BUCKETS} | {"unchanged": self.unchanged}

    def failing_new_tests(self) -> list[Row]:
        return [row for row in self.buckets["new_tests"] if row.head.outcome in FAILING]

    @property
    def something_newly_fails(self) -> bool:
        """What CI's exit code says: a test that failed now and did not before (newly failing,
        or a new test that fails)."""
        return bool(self.buckets["newly_failing"]) or bool(self.failing_new_tests())


def runs_compare(
    base: Run | None,
    head: Run,
    *,
    ratio: float | None = None,
    min_delta_ms: int | None = None,
) -> Comparison:
    """Compare `head` with `base` (None: nothing before it, so every test is new).

    A test is newly failing when it failed or erred in head and passed or was skipped in base;
    fixed when it failed or erred in base and passed in head; slower when it passed both times
    and its duration grew by at least `ratio` times AND `min_delta_ms` (so 1 ms -> 3 ms is not
    news). Raises InvalidQuery for a ratio below 1 or a negative delta."""
    ratio = settings.IB_COMPARE_SLOWER_RATIO if ratio is None else ratio
    min_delta_ms = settings.IB_COMPARE_MIN_DELTA_MS if min_delta_ms is None else min_delta_ms
    if not 1 <= ratio <= 1000 or not 0 <= min_delta_ms <= 2**31:
        raise InvalidQuery("`ratio` must be 1..1000 and `min_delta_ms` 0 or more.")
    if base is not None and base.project_id != head.project_id:
        raise InvalidQuery("Both runs must be of the same project.")
    before = side_results(base) if base is not None else {}
    after = side_results(head)
    comparison = Comparison(base, head, ratio, min_delta_ms, {name: [] for name in BUCKETS})
    put = comparison.buckets
    for key, now in after.items():
        was = before.get(key)
        if was is None:
            put["new_tests"].append(Row(key, None, now))
            continue
        bucket = _bucket(was, now, ratio, min_delta_ms)
        if bucket is None:
            comparison.unchanged += 1
        else:
            put[bucket].append(Row(key, was, now))
    put["removed_tests"] = [Row(key, was, None) for key, was in before.items() if key not in after]
    for name in BUCKETS:
        put[name].sort(key=lambda row: row.key)
    put["slower"].sort(key=lambda row: row.head.duration_ms - row.base.duration_ms, reverse=True)
    return comparison


def _bucket(was: Side, now: Side, ratio: float, min_delta_ms: int) -> str | None:
    failed_before, failing_now = was.outcome in FAILING, now.outcome in FAILING
    if failing_now:
        return "still_failing" if failed_before else "newly_failing"
    if failed_before:
        return "fixed" if now.outcome == CaseOutcome.PASSED else None
    if (
        was.outcome == now.outcome == CaseOutcome.PASSED
        and was.duration_ms is not None
        and now.duration_ms is not None
        and now.duration_ms >= was.duration_ms * ratio
        and now.duration_ms - was.duration_ms >= min_delta_ms
    ):
        return "slower"
    return None


def side_results(run: Run) -> dict[str, Side]:
    """{test key: its result} of one run; a test recorded twice (a re-run child, a retried
    reported test, a duplicated testcase) counts with its last result."""
    if run.kind == EXECUTION and run.reported:
        return _reported_steps(run.id)
    results = CaseResult.objects.all()
    if run.kind == IMPORT:
        results = results.filter(batch_id=run.id)
    elif run.suite_run:
        children = Execution.objects.filter(parent_id=run.id).values("pk")
        results = results.filter(execution_id__in=children)
    else:
        results = results.filter(execution_id=run.id)
    rows = results.order_by("id").values_list(
        "case__key", "case_id", "outcome", "duration_ms", "execution_id", _signature()
    )
    return {key: Side(case, outcome, ms, sig, ex) for key, case, outcome, ms, ex, sig in rows}


def _reported_steps(execution_id: int) -> dict[str, Side]:
    trace = trace_of(Execution(pk=execution_id), attempt_number=1)
    return {
        step.get("name") or f"[step {step.get('order')}]": Side(
            None, step.get("status", ""), step.get("duration_ms"), _step_signature(step), None
        )
        for step in trace_steps(trace)
    }
