"""Catalog cases for tests that an outside runner reported (a runner profile's JUnit XML).

A reported test is identified by its stable key `classname.name`, so the same test attaches to the
same TestCase run after run and per-test history works. Used by the `command` action.
"""

from django.db import transaction

from catalog.models import CaseStatus, CaseType, TestCase

NAME_MAX_LENGTH = 255
CHUNK = 500  # keys per query: stays under every database's parameter limit


def test_cases_for_reported(project_id: int, reported: list[dict], *, source: str) -> dict:
    """Find or create one GENERIC, active, step-less TestCase per reported test (by `key`), in one
    transaction; returns {key: TestCase}. Cost stays flat for big reports: one read, one bulk
    insert (conflicts ignored, so two workers reporting the same new test both succeed), one
    re-read."""
    wanted = {r["key"]: r for r in reported}
    found: dict = {}
    with transaction.atomic():
        keys = list(wanted)
        for start in range(0, len(keys), CHUNK):
            found.update(
                _find_or_create(
                    project_id, {k: wanted[k] for k in keys[start : start + CHUNK]}, source
                )
            )
    return found


def _find_or_create(project_id: int, wanted: dict, source: str) -> dict:
    existing = set(
        TestCase.objects.filter(project_id=project_id, key__in=wanted).values_list("key", flat=True)
    )
    TestCase.objects.bulk_create(
        [
            TestCase(
                project_id=project_id,
                key=key,
                name=(r.get("name") or key)[:NAME_MAX_LENGTH],
                description=f"Reported by {source}.",
                type=CaseType.GENERIC,
                steps=[],
                status=CaseStatus.ACTIVE,
            )
            for key, r in wanted.items()
            if key not in existing
        ],
        ignore_conflicts=True,
    )
    cases = TestCase.objects.filter(project_id=project_id, key__in=wanted)
    return {case.key: case for case in cases}
