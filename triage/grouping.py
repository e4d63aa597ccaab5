"""Failure groups kept at write time: the receiver of results.signals.results_recorded.

Runs inside the transaction that wrote the results (an engine finish's savepoint, or an import),
so a group's counts never disagree with the results that made them. Cost per write: one query
for the groups (locked), one for which cases they already hit, one insert of the hits, one
update of the groups, and for the first sight of a signature the categories and rules; nothing
scales with the passing results but a dictionary lookup each (the fixes).
"""

import re2
from django.utils import timezone

from core.bulk import insert_rows
from results.runs import RunRef
from triage.models import (
    STATE_RANK,
    CaseFix,
    Category,
    FailureGroup,
    GroupHit,
    GroupState,
    RuleField,
    TriageEvent,
    TriageRule,
)
from triage.services import categories_ensure, rule_matcher

REVISIONS_KEPT = 20
RULE_TEXT_MAX = 500  # characters of a type or message a rule searches
FAILING = ("failed", "error")


def on_results_recorded(
    sender,
    *,
    project_id: int,
    run: RunRef,
    branch: str,
    revision: str,
    failures: list[dict],
    passed: list[int],
    previous: dict[int, str],
    **kwargs,
) -> None:
    group_failures(project_id, run, branch, revision, failures, previous)
    record_fixes(project_id, run, passed, previous)


def group_failures(
    project_id: int,
    run: RunRef,
    branch: str,
    revision: str,
    failures: list[dict],
    previous: dict[int, str],
) -> list[dict]:
    """Add signed failures to their groups (created on first sight); returns the hits' rows."""
    failures = [f for f in failures if f["signature"]]
    if not failures:
        return []
    now = timezone.now()
    groups = _groups_for(project_id, failures, now)
    seen = set(
        GroupHit.objects.filter(
            group_id__in=[g.pk for g in groups.values()],
            case_id__in={f["case_id"] for f in failures},
        ).values_list("group_id", "case_id")
    )
    hits = []
    for f in failures:
        group = groups[f["signature"]]
        state = _state(group, run, branch, previous.get(f["case_id"]))
        hits.append(
            {
                "group_id": group.pk,
                "result_id": f["id"],
                "project_id": project_id,
                "case_id": f["case_id"],
                "run": run.key,
                "branch": branch,
                "state": state,
                "created_at": now,
            }
        )
        _count(group, f["case_id"], seen, revision, now)
        if group.last_run == run.key and STATE_RANK[group.last_state] >= STATE_RANK[state]:
            continue
        group.last_run, group.last_state = run.key, state
    # COPY for an import's thousands (core.bulk); a result is in one group once.
    insert_rows(GroupHit, hits, conflict=("result",))
    FailureGroup.objects.bulk_update(
        groups.values(),
        [
            "occurrences",
            "cases_hit",
            "branches",
            "revisions",
            "last_seen_at",
            "last_run",
            "last_state",
        ],
    )
    return hits


def _groups_for(project_id: int, failures: list[dict], now) -> dict[str, FailureGroup]:
    """The groups of these failures' signatures, locked; the missing ones created first (a
    concurrent writer creating the same one is waited for, then found: ON CONFLICT DO NOTHING)."""
    signatures = {f["signature"] for f in failures}
    # One order for every writer (the signature): two imports sharing faults lock and insert
    # the same rows in the same order, so they queue instead of deadlocking.
    locked = (
        FailureGroup.objects.select_for_update()
        .filter(project_id=project_id, signature__in=signatures)
        .order_by("signature")
    )
    groups = {g.signature: g for g in locked}
    missing = [f for f in failures if f["signature"] not in groups]
    if missing:
        firsts = {}
        for f in missing:
            firsts.setdefault(f["signature"], f)
        categorise = _categoriser(project_id)
        created = []
        for f in sorted(firsts.values(), key=lambda f: f["signature"]):
            category, rule = categorise(f["error_type"], f["message"])
            created.append(
                FailureGroup(
                    project_id=project_id,
                    signature=f["signature"],
                    error_type=f["error_type"][:255],
                    message=f["message"][:2000],
                    first_seen_at=now,
                    last_seen_at=now,
                    category=category,
                    triaged_label=f"rule #{rule.pk}" if rule else "",
                    triaged_at=now if rule else None,
                )
            )
        FailureGroup.objects.bulk_create(created, ignore_conflicts=True)
        groups = {g.signature: g for g in locked.all()}
        _audit_rules(groups, [g for g in created if g.triaged_label], now)
    return groups


def _audit_rules(groups: dict[str, FailureGroup], ruled: list[FailureGroup], now) -> None:
    TriageEvent.objects.bulk_create(
        TriageEvent(
            project_id=g.project_id,
            group=groups[g.signature],
            actor_label=g.triaged_label,
            changes={"category": [None, g.category.name]},
            created_at=now,
        )
        for g in ruled
        # a concurrent writer's group (ours was not inserted) was categorised by that writer
        if groups[g.signature].first_seen_at == now
    )


def _categoriser(project_id: int):
    """A function (error type, message) -> (category, rule or None): the first enabled rule
    that matches, else the project's default category."""
    default = categories_ensure(project_id)
    rules = []
    for rule in TriageRule.objects.filter(project_id=project_id, enabled=True).select_related(
        "category"
    ):
        try:
            rules.append((rule, rule_matcher(rule.pattern)))
        except re2.error:  # validated on save; a rule stored otherwise is skipped, not fatal
            continue

    def categorise(error_type: str, message: str) -> tuple[Category, TriageRule | None]:
        for rule, pattern in rules:
            text = error_type if rule.field == RuleField.ERROR_TYPE else message
            if pattern.search(text[:RULE_TEXT_MAX]):
                return rule.category, rule
        return default, None

    return categorise


def _state(group: FailureGroup, run: RunRef, branch: str, previous: str | None) -> str:
    first_run = group.branches.get(branch)
    if first_run is None:
        group.branches = {**group.branches, branch: run.key}
        return GroupState.NEW
    if first_run == run.key:
        return GroupState.NEW
    if previous == "passed":  # the case passed in between: the fault was gone, and is back
        return GroupState.REGRESSED
    return GroupState.KNOWN


def _count(group: FailureGroup, case_id: int, seen: set, revision: str, now) -> None:
    group.occurrences += 1
    group.last_seen_at = now
    if (group.pk, case_id) not in seen:
        seen.add((group.pk, case_id))
        group.cases_hit += 1
    if revision and revision not in group.revisions[-1:]:
        group.revisions = [*[r for r in group.revisions if r != revision], revision][
            -REVISIONS_KEPT:
        ]


def record_fixes(project_id: int, run: RunRef, passed: list[int], previous: dict[int, str]) -> int:
    fixed = [case_id for case_id in passed if previous.get(case_id) in FAILING]
    if fixed:
        CaseFix.objects.bulk_create(
            [CaseFix(project_id=project_id, case_id=c, run=run.key) for c in fixed],
            ignore_conflicts=True,
        )
    return len(fixed)
