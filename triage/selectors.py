"""Reads of failure groups: a run's summary (what its report leads with), and the project's list
of groups the Failures page and the API page through."""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import QuerySet

from results.runs import RunRef
from triage.models import STATE_RANK, CaseFix, FailureGroup, GroupHit, GroupState

SUMMARY_MAX = 100  # groups and fixed cases listed per section; the counts are whole
SECTIONS = ("new", "regressed", "fixed", "known")


def run_summary(run: RunRef) -> dict:
    """What matters in a run, in the order a tester reads it: new failures, regressions, fixed
    cases, then known failures (triaged ones first). Registered with results.summaries."""
    hits = (
        GroupHit.objects.filter(run=run.key)
        .select_related("group__category", "category", "case")
        .order_by("id")
    )
    groups: dict[int, dict] = {}
    for hit in hits.iterator(chunk_size=2000):
        entry = groups.get(hit.group_id)
        if entry is None:
            entry = groups[hit.group_id] = _group_entry(hit.group)
        if STATE_RANK[hit.state] > STATE_RANK[entry["state"]]:
            entry["state"] = hit.state
        if len(entry["cases"]) < 20:
            entry["cases"].append({"id": hit.case_id, "key": hit.case.key, "result": hit.result_id})
        entry["results"] += 1
    fixed = list(
        CaseFix.objects.filter(run=run.key)
        .select_related("case")
        .order_by("case__key")
        .values("case_id", "case__key")
    )
    by_state: dict[str, list] = defaultdict(list)
    for entry in groups.values():
        by_state[entry["state"]].append(entry)
    known = sorted(by_state[GroupState.KNOWN], key=lambda e: (not e["triaged"], -e["results"]))
    return {
        "what_matters": {
            "counts": {
                "new": len(by_state[GroupState.NEW]),
                "regressed": len(by_state[GroupState.REGRESSED]),
                "fixed": len(fixed),
                "known": len(known),
                "known_triaged": sum(1 for e in known if e["triaged"]),
            },
            "new": _ranked(by_state[GroupState.NEW]),
            "regressed": _ranked(by_state[GroupState.REGRESSED]),
            "fixed": [{"id": f["case_id"], "key": f["case__key"]} for f in fixed[:SUMMARY_MAX]],
            "known": known[:SUMMARY_MAX],
        }
    }


def _ranked(entries: list[dict]) -> list[dict]:
    return sorted(entries, key=lambda e: -e["results"])[:SUMMARY_MAX]


def _group_entry(group: FailureGroup) -> dict:
    return {
        "group": group.pk,
        "signature": group.signature,
        "error_type": group.error_type,
        "message": group.message[:300],
        "category": group.category.name if group.category_id else "",
        "issue_url": group.issue_url,
        "triaged": group.triaged_at is not None,
        "state": GroupState.KNOWN,
        "results": 0,
        "cases": [],
    }


@dataclass
class GroupFilter:
    state: str = ""
    category: int | None = None


def groups_for_project(project_id: int, flt: GroupFilter | None = None) -> QuerySet:
    """A project's groups, newest first (the index group_project_recent), filtered by their
    state in their latest run and by category."""
    flt = flt or GroupFilter()
    query = FailureGroup.objects.filter(project_id=project_id).select_related("category")
    if flt.state:
        query = query.filter(last_state=flt.state)
    if flt.category:
        query = query.filter(category_id=flt.category)
    return query.order_by("-last_seen_at", "-id")
