"""Reads of failure groups: a run's summary (what its report leads with), and the project's list
of groups the Failures page and the API page through."""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, QuerySet

from results.runs import RunRef
from triage.models import STATE_RANK, CaseFix, FailureGroup, GroupHit, GroupState

SUMMARY_MAX = 100  # groups and fixed cases listed per section; the counts are whole
CASES_SHOWN = 20  # cases listed per group
SECTIONS = ("new", "regressed", "fixed", "known")


def run_summary(run: RunRef) -> dict:
    """What matters in a run, in the order a tester reads it: new failures, regressions, fixed
    cases, then known failures (triaged ones first). Registered with results.summaries.

    Counted in SQL (hits per group and state, on the index grouphit_run); only the groups it
    lists are loaded, with at most CASES_SHOWN of their cases."""
    per_group: dict[int, dict] = {}
    counts = (
        GroupHit.objects.filter(run=run.key)
        .values_list("group_id", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    for group_id, state, n in counts:
        entry = per_group.setdefault(group_id, {"state": GroupState.KNOWN, "results": 0})
        entry["results"] += n
        if STATE_RANK[state] > STATE_RANK[entry["state"]]:
            entry["state"] = state
    by_state: dict[str, list[int]] = defaultdict(list)
    for group_id, entry in sorted(per_group.items(), key=lambda item: -item[1]["results"]):
        by_state[entry["state"]].append(group_id)
    shown = {s: ids[:SUMMARY_MAX] for s, ids in by_state.items()}
    groups = _entries([g for ids in shown.values() for g in ids], run, per_group)
    known = sorted(
        (groups[g] for g in shown.get(GroupState.KNOWN, [])),
        key=lambda e: (not e["triaged"], -e["results"]),
    )
    fixed = CaseFix.objects.filter(run=run.key)
    return {
        "what_matters": {
            "counts": {
                "new": len(by_state[GroupState.NEW]),
                "regressed": len(by_state[GroupState.REGRESSED]),
                "fixed": fixed.count(),
                "known": len(by_state[GroupState.KNOWN]),
                "known_triaged": sum(1 for e in known if e["triaged"]),
            },
            "new": [groups[g] for g in shown.get(GroupState.NEW, [])],
            "regressed": [groups[g] for g in shown.get(GroupState.REGRESSED, [])],
            "fixed": [
                {"id": case_id, "key": key}
                for case_id, key in fixed.order_by("case__key").values_list("case_id", "case__key")[
                    :SUMMARY_MAX
                ]
            ],
            "known": known,
        }
    }


def _entries(group_ids: list[int], run: RunRef, per_group: dict[int, dict]) -> dict[int, dict]:
    entries = {}
    for group in FailureGroup.objects.filter(pk__in=group_ids).select_related("category"):
        entry = _group_entry(group)
        entry.update(per_group[group.pk])
        entries[group.pk] = entry
    cases = (
        GroupHit.objects.filter(run=run.key, group_id__in=group_ids)
        .order_by("group_id", "id")
        .values_list("group_id", "case_id", "case__key", "result_id")
    )
    for group_id, case_id, key, result_id in cases.iterator(chunk_size=5000):
        listed = entries[group_id]["cases"]
        if len(listed) < CASES_SHOWN:
            listed.append({"id": case_id, "key": key, "result": result_id})
    return entries


def _group_entry(group: FailureGroup) -> dict:
    return {
        "group": group.pk,
        "signature": group.signature,
        "error_type": group.error_type,
        "message": group.message[:300],
        "category": group.category.name if group.category_id else "",
        "issue_url": group.issue_url,
        "triaged": group.triaged_at is not None,
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
