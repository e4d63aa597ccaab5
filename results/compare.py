"""Compare two runs of one project: what newly fails, what was fixed, what still fails (with the
same failure signature or another), which tests are new or gone, and which got slower.

A side is read with ONE query of only the columns the buckets need (key, case, outcome,
duration, signature, the result's execution): the CaseResults of an engine run (a case run's own,
a suite run's children's, a reported run's: one per test and attempt, written as its batches
arrive) or of a JUnit import. Tests are matched by their key (TestCase.key: a reported test and
the same test uploaded as JUnit XML are one case), so a suite run, an import and a reported run
of the same tests compare. Two runs of 100,000 tests: docs/performance.md
("Compare").

The signature is CaseResult.signature (results.signatures), read through `_signature()` alone.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, CharField, F, Func, Max, Value, When

from catalog.models import TestCase
from executions.models import Execution
from results.errors import InvalidQuery
from results.models import FAILING_OUTCOMES, CaseOutcome, CaseResult
from results.run_refs import IMPORT, Run

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
        return self.as_sql(
            compiler, connection, template="btrim(split_part(%(expressions)s, chr(10), 1))"
        )

    def as_sqlite(self, compiler, connection, **extra):
        template = (
            "trim(substr(%(expressions)s, 1, instr(%(expressions)s || char(10), char(10)) - 1))"
        )
        return self.as_sql(compiler, connection, template=template)


def _first_error_line():
    """What a person reads of a failure: its message's first line ("" for a result that did not
    fail)."""
    return Case(When(outcome__in=FAILING_OUTCOMES, then=FirstLine("message")), default=Value(""))


def _signature():
    """The failure signature of a CaseResult, as a query expression: "" for a result that did not
    fail (results.signatures, computed when the result was written: the error's type, message and
    innermost frames with ids, times, paths and ports taken out)."""
    return F("signature")


@dataclass(frozen=True, slots=True)
class Side:
    """One test's result on one side."""

    case_id: int | None
    outcome: str
    duration_ms: int | None
    signature: str  # what tells two failures apart (results.signatures)
    execution_id: int | None  # the execution that ran it (a suite run's child), for links
    message: str = ""  # the failure's first line, for people


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
        return [row for row in self.buckets["new_tests"] if row.head.outcome in FAILING_OUTCOMES]

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
    comparison = Comparison(base, head, ratio, min_delta_ms, {name: [] for name in BUCKETS})
    if base is not None:
        pairs, common = _pairs_in_database(base, head, ratio, min_delta_ms)
    else:
        pairs, common = _pairs_in_python(base, head)
    put = comparison.buckets
    changed = 0
    for key, was, now in pairs:
        if was is None:
            put["new_tests"].append(Row(key, None, now))
        elif now is None:
            put["removed_tests"].append(Row(key, was, None))
        elif bucket := _bucket(was, now, ratio, min_delta_ms):
            put[bucket].append(Row(key, was, now))
            changed += 1
    comparison.unchanged = common - changed
    for name in BUCKETS:
        put[name].sort(key=lambda row: row.key)
    put["slower"].sort(key=lambda row: row.head.duration_ms - row.base.duration_ms, reverse=True)
    return comparison


def _bucket(was: Side, now: Side, ratio: float, min_delta_ms: int) -> str | None:
    failed_before, failing_now = was.outcome in FAILING_OUTCOMES, now.outcome in FAILING_OUTCOMES
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


Pair = tuple[str, Side | None, Side | None]


def _pairs_in_python(base: Run | None, head: Run) -> tuple[list[Pair], int]:
    """Both sides read whole and matched by key: a run compared with nothing before it. Returns
    (pairs, tests on both sides)."""
    before = side_results(base) if base is not None else {}
    after = side_results(head)
    pairs: list[Pair] = [(key, before.get(key), now) for key, now in after.items()]
    pairs += [(key, was, None) for key, was in before.items() if key not in after]
    return pairs, sum(1 for key in after if key in before)


# A test both sides ran with the same outcome that needs no look: skipped twice, or passed twice
# and not slower by the comparison's thresholds (a superset of `_bucket`'s "unchanged": it
# only spares the rows that _bucket would certainly leave out; _bucket decides every other row).
_CERTAINLY_UNCHANGED = """
    b.case_id IS NOT NULL AND h.case_id IS NOT NULL AND b.outcome = h.outcome AND (
        b.outcome = 'skipped' OR (b.outcome = 'passed' AND (
            b.duration_ms IS NULL OR h.duration_ms IS NULL
            OR h.duration_ms < b.duration_ms * %s OR h.duration_ms - b.duration_ms < %s)))
"""


def _pairs_in_database(
    base: Run, head: Run, ratio: float, min_delta_ms: int
) -> tuple[list[Pair], int]:
    """Two runs of CaseResults matched by case in ONE statement: the sides' latest result per
    case, FULL OUTER JOINed, the certainly unchanged left in the database, the case keys joined
    on for the rest only. Two runs of 100,000 tests answer well under a second
    (bench/compare.py) where reading both sides into Python took seconds."""
    base_sql, base_params = _side_queryset(base).query.sql_with_params()
    head_sql, head_params = _side_queryset(head).query.sql_with_params()
    table = TestCase._meta.db_table
    # Only compiled querysets and our own table name go into the text; values are parameters.
    sql = f"""
        WITH b AS ({base_sql}), h AS ({head_sql}),
        c AS MATERIALIZED (
            SELECT COALESCE(h.case_id, b.case_id) AS id,
                   b.case_id AS b_case, b.outcome AS b_outcome, b.duration_ms AS b_ms,
                   b.execution_id AS b_execution, b.sig AS b_sig, b.msg AS b_msg,
                   h.case_id AS h_case, h.outcome AS h_outcome, h.duration_ms AS h_ms,
                   h.execution_id AS h_execution, h.sig AS h_sig, h.msg AS h_msg
            FROM b FULL OUTER JOIN h ON b.case_id = h.case_id
            WHERE NOT ({_CERTAINLY_UNCHANGED})
        )
        SELECT (SELECT t.key FROM {table} t WHERE t.id = c.id), c.b_case, c.b_outcome, c.b_ms, c.b_execution, c.b_sig, c.b_msg,
               c.h_case, c.h_outcome, c.h_ms, c.h_execution, c.h_sig, c.h_msg,
               (SELECT count(*) FROM b JOIN h ON b.case_id = h.case_id) AS common
        FROM c
    """  # noqa: S608
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Room for the sides' sorts and the join in memory: at the default 4 MB each of them
            # spilled to disk, doubling the time for 100,000 tests (bench/compare.py).
            # And no JIT: the full join's row estimate is far too high, so PostgreSQL compiled
            # the statement (~100 ms) to run it once.
            cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, (*base_params, *head_params, ratio, min_delta_ms))
        rows = cursor.fetchall()
    if not rows:  # nothing but certainly unchanged tests: every one of them is common
        return [], _side_queryset(head).filter(
            case_id__in=_side_queryset(base).values("case_id")
        ).count()
    pairs = [
        (
            key,
            Side(b_case, b_outcome, b_ms, b_sig, b_ex, b_msg) if b_case is not None else None,
            Side(h_case, h_outcome, h_ms, h_sig, h_ex, h_msg) if h_case is not None else None,
        )
        for key, b_case, b_outcome, b_ms, b_ex, b_sig, b_msg, h_case, h_outcome, h_ms, h_ex, h_sig, h_msg, _ in rows
    ]
    return pairs, rows[0][-1]


def _results_of(run: Run):
    """The CaseResults of an import or an engine run (a suite run's are its children's)."""
    if run.kind == IMPORT:
        return CaseResult.objects.filter(batch_id=run.id)
    if run.suite_run:
        children = Execution.objects.filter(parent_id=run.id).values("pk")
        return CaseResult.objects.filter(execution_id__in=children)
    return CaseResult.objects.filter(execution_id=run.id)


def _side_queryset(run: Run):
    """One side as the columns the buckets need: the latest result of each case in the run (a
    re-run child, or a testcase a report holds twice, counts with its last result)."""
    columns = ("case_id", "outcome", "duration_ms", "execution_id")
    results = _results_of(run)
    if connection.vendor == "postgresql":
        # DISTINCT ON: one sort of the side; the portable max-id semi-join below costs an index
        # look-up per result, seven times as long for 100,000 (bench/compare.py).
        latest = results.order_by("case_id", "-id").distinct("case_id")
    else:
        last_ids = results.order_by().values("case_id").annotate(last=Max("id")).values("last")
        latest = CaseResult.objects.filter(id__in=last_ids).order_by()
    return latest.values(*columns, sig=_signature(), msg=_first_error_line())


def side_results(run: Run) -> dict[str, Side]:
    """{test key: its result} of one run, read whole (a comparison with no base)."""
    rows = (
        _results_of(run)
        .order_by("id")
        .values_list(
            "case__key",
            "case_id",
            "outcome",
            "duration_ms",
            "execution_id",
            _signature(),
            _first_error_line(),
        )
    )
    return {
        key: Side(case, outcome, ms, sig, ex, msg) for key, case, outcome, ms, ex, sig, msg in rows
    }
