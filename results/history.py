"""Per-case history and flaky detection, shared by engine finishes and JUnit imports.

Each new result is appended to its case's recent window (CaseStats.recent, the last
IB_FLAKY_WINDOW results). A case is flaky when, within that window,

- it passed and failed on the same revision (two results on one non-empty revision disagree, or
  one result passed only after failed retries: the engine's automatic retries, Surefire's
  flakyFailure), or
- its outcome flipped between pass and fail at least IB_FLAKY_MIN_FLIPS times. One flip is a
  regression or a fix; flipping back and forth is flakiness.

The score (0..1) is the share of flips among consecutive decisive results, plus 0.5 for
same-revision evidence, capped at 1: it orders the "flaky tests" list.

An error of the run's own making (SETUP_ERRORS: a bad parameter or variable, a host the project
does not allow, an undefined BDD step, a lost worker, a cancel) says nothing about the test: it
is counted, but is no decisive result, so it cannot flip a stable case into "flaky" (one such
error on a revision that otherwise passed did).
"""

from collections import defaultdict
from datetime import datetime
from itertools import pairwise
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.bulk import insert_rows, select_any
from results.models import CaseEvent, CaseEventKind, CaseOutcome, CaseResult, CaseStats

Outcome = CaseOutcome
SAME_REVISION_WEIGHT = 0.5
_COUNTER = {
    Outcome.PASSED: "passed",
    Outcome.FAILED: "failed",
    Outcome.ERROR: "errored",
    Outcome.SKIPPED: "skipped",
}
# Error types (CaseResult.details["error"]["type"], from the runners and the lifecycle) that
# come from the run's set-up or the infrastructure rather than from the code under test.
SETUP_ERRORS = frozenset(
    {
        "InvalidParameter",
        "UnsetVariable",
        "InvalidURL",
        "HostNotAllowed",
        "RequestsBlocked",
        "UnknownCheck",
        "UndefinedStep",
        "AmbiguousStep",
        "GherkinSyntaxError",
        "NoSteps",
        "WorkerLost",
        "Cancelled",
        "CommandUserMissing",
        "CommandNotStarted",
        "WorkingDirMissing",
    }
)
STATS_FIELDS = (
    "runs",
    "passed",
    "failed",
    "errored",
    "skipped",
    "last_outcome",
    "last_run_at",
    "recent",
    "flips",
    "flaky_score",
    "is_flaky",
    "flaky_reason",
    "updated_at",
)


class Entry(NamedTuple):
    """What history needs of a result (a CaseResult, or a row an import is writing)."""

    case_id: int
    outcome: str
    duration_ms: int | None
    revision: str
    retries: int
    created_at: datetime
    setup_error: bool = False  # an error of the run's set-up (SETUP_ERRORS), not of the test

    @classmethod
    def of(cls, result: CaseResult) -> "Entry":
        error_type = (result.details or {}).get("error", {}).get("type", "")
        return cls(
            result.case_id,
            result.outcome,
            result.duration_ms,
            result.revision,
            result.retries,
            result.created_at,
            result.outcome == Outcome.ERROR and error_type in SETUP_ERRORS,
        )


def window_entry(entry: Entry) -> dict:
    """What the recent window keeps of a result: short keys, since it is stored per case."""
    kept = {
        "o": str(entry.outcome),
        "ms": entry.duration_ms,
        "rev": entry.revision,
        "r": entry.retries,
        "at": entry.created_at.isoformat(),
    }
    if entry.setup_error:
        kept["setup"] = True
    return kept


def flaky_verdict(recent: list[dict], min_flips: int) -> tuple[int, float, bool, str]:
    """(flips, score, is_flaky, reason) of a window of results, oldest first."""
    decisive = [e for e in recent if e["o"] != Outcome.SKIPPED and not e.get("setup")]
    passed = [e["o"] == Outcome.PASSED for e in decisive]
    flips = sum(1 for a, b in pairwise(passed) if a != b)
    reason = _same_revision_reason(decisive)
    rate = flips / (len(decisive) - 1) if len(decisive) > 1 else 0.0
    score = round(min(1.0, rate + (SAME_REVISION_WEIGHT if reason else 0.0)), 3)
    if not reason and flips >= min_flips:
        reason = f"{flips} pass/fail flips in its last {len(recent)} results"
    return flips, score, bool(reason), reason


def _same_revision_reason(decisive: list[dict]) -> str:
    for e in reversed(decisive):
        if e["o"] == Outcome.PASSED and e.get("r"):
            return f"passed after {e['r']} failed {'try' if e['r'] == 1 else 'tries'} in one run"
    seen: dict[str, set[bool]] = defaultdict(set)
    for e in decisive:
        if e["rev"]:
            seen[e["rev"]].add(e["o"] == Outcome.PASSED)
    for revision, outcomes in seen.items():
        if len(outcomes) == 2:
            return f"passed and failed on revision {revision}"[:255]
    return ""


def stats_apply(stats: dict, entries: list[Entry], window: int, min_flips: int) -> None:
    """Fold entries (oldest first) into a case's stats (a dict of STATS_FIELDS), in memory."""
    recent = list(stats["recent"])
    for entry in entries:
        stats["runs"] += 1
        stats[_COUNTER[entry.outcome]] += 1
        recent.append(window_entry(entry))
        if stats["last_run_at"] is None or entry.created_at >= stats["last_run_at"]:
            stats["last_outcome"], stats["last_run_at"] = str(entry.outcome), entry.created_at
    stats["recent"] = recent[-window:]
    flips, score, flaky, reason = flaky_verdict(stats["recent"], min_flips)
    stats.update(flips=flips, flaky_score=score, is_flaky=flaky, flaky_reason=reason[:255])
    stats["updated_at"] = timezone.now()


def history_record(entries: list[Entry], *, project_id: int, actor_label: str) -> int:
    """Add new results to their cases' stats and record flaky / stable changes as case events.

    Any number of cases in a few statements (an import calls it per batch of testcases): lock
    the cases' stats rows, fold, write back (COPY for new rows, one upsert for the others). The
    lock makes two processors of one case take turns instead of overwriting each other's counts.
    Call inside a transaction. Returns how many cases changed their flaky verdict.
    """
    if not entries:
        return 0
    by_case: dict[int, list[Entry]] = defaultdict(list)
    for entry in entries:  # in the order they happened; ties keep the caller's order
        by_case[entry.case_id].append(entry)
    existing = _locked_stats(list(by_case))
    if len(existing) == len(by_case):
        # Every row is there and locked: nothing can collide, so no savepoint (an engine finish
        # of a case that has run before, the common case).
        return _fold(by_case, existing, project_id, actor_label)
    try:
        with transaction.atomic():
            return _fold(by_case, existing, project_id, actor_label)
    except IntegrityError:
        # Another processor created the stats of some of these cases after we looked (the
        # first results of a case arriving twice at once). They exist now: lock, fold again.
        fresh = [{"case_id": case_id, "project_id": project_id} for case_id in by_case]
        insert_rows(CaseStats, fresh, conflict=("case",))
        return _fold(by_case, _locked_stats(list(by_case)), project_id, actor_label)


def _locked_stats(case_ids: list[int]) -> dict[int, dict]:
    fields = ["case_id", "project_id", *STATS_FIELDS]
    rows = select_any(CaseStats, "case_id", case_ids, fields, lock=True)
    return {row["case_id"]: row for row in rows}


def _fold(
    by_case: dict[int, list[Entry]], existing: dict[int, dict], project_id: int, actor_label: str
) -> int:
    window, min_flips = settings.IB_FLAKY_WINDOW, settings.IB_FLAKY_MIN_FLIPS
    new, changed, events = [], [], []
    for case_id, case_entries in by_case.items():
        stats = existing.get(case_id) or _fresh_stats(case_id, project_id)
        was_flaky = stats["is_flaky"]
        stats_apply(stats, sorted(case_entries, key=lambda e: e.created_at), window, min_flips)
        (changed if case_id in existing else new).append(stats)
        if stats["is_flaky"] != was_flaky:
            events.append(_verdict_event(stats, actor_label))
    insert_rows(CaseStats, new)  # raises IntegrityError if someone created one meanwhile
    insert_rows(CaseStats, changed, conflict=("case",), update=STATS_FIELDS)
    CaseEvent.objects.bulk_create(events)
    return len(events)


def _fresh_stats(case_id: int, project_id: int) -> dict:
    counters = dict.fromkeys(("runs", "passed", "failed", "errored", "skipped", "flips"), 0)
    return {
        "case_id": case_id,
        "project_id": project_id,
        **counters,
        "last_outcome": "",
        "last_run_at": None,
        "recent": [],
        "flaky_score": 0.0,
        "is_flaky": False,
        "flaky_reason": "",
        "updated_at": None,
    }


def _verdict_event(stats: dict, actor_label: str) -> CaseEvent:
    return CaseEvent(
        project_id=stats["project_id"],
        case_id=stats["case_id"],
        kind=CaseEventKind.FLAKY if stats["is_flaky"] else CaseEventKind.STABLE,
        actor_label=actor_label,
        reason=stats["flaky_reason"] or "no flakiness in its recent results",
        data={"score": stats["flaky_score"], "flips": stats["flips"]},
    )
