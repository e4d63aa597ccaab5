"""Catalog cases for tests that were reported from outside: a runner profile's JUnit XML (the
`command` action) and JUnit imports (results.imports) alike.

A reported test is known by its key (results.junit.case_key), so it finds the same TestCase run
after run, whichever way it arrives, and its results build one history.
"""

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from catalog.models import CaseOrigin, CaseType, TestCase
from core.bulk import insert_rows, select_any
from results.junit import ParsedCase

# Keys per round of statements: what an import writes per batch; stays under SQLite's parameter
# limit on the read, one array parameter on PostgreSQL.
CHUNK = 5000
NAME_MAX = 255  # TestCase.name


def reported_cases_find_or_create(
    project_id: int,
    reported: Iterable[ParsedCase],
    *,
    source: str,
    origin: str = CaseOrigin.IMPORTED,
    created_by_id: int | None = None,
) -> tuple[dict[str, int], int]:
    """Find or create one catalog case per reported test; returns ({key: case id}, how many were
    missing and created).

    A new case is GENERIC, active and step-less, tagged "junit", of `origin` (imported or
    reported: it cannot be run), and its description names `source` ("runner profile
    sample-pytest", "JUnit import #12"). One transaction; per chunk of
    keys one read, one insert, one read back. Safe when two reporters bring the same new test
    at once: a row the other inserted first is skipped, not an error, and read back (its insert
    is waited for, so both get the same id). Keys are inserted in sorted order, so two
    reporters of overlapping sets of new tests wait for each other instead of deadlocking.
    """
    wanted = {case.key: case for case in reported}
    ids: dict[str, int] = {}
    created = 0
    keys = sorted(wanted)
    with transaction.atomic():
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            found = _ids_by_key(project_id, chunk)
            missing = [wanted[key] for key in chunk if key not in found]
            if missing:
                rows = [
                    _new_case(project_id, case, source, origin, created_by_id) for case in missing
                ]
                _insert(rows)
                found.update(_ids_by_key(project_id, [case.key for case in missing]))
                created += len(missing)
            ids.update(found)
    return ids, created


def _insert(rows: list[dict]) -> None:
    try:
        # Most of the time no one else is creating these cases: a plain insert (COPY on
        # PostgreSQL), in a savepoint so that a collision leaves the transaction usable.
        with transaction.atomic():
            insert_rows(TestCase, rows)
    except IntegrityError:
        # Another reporter created some of them first: keep theirs, add the rest.
        insert_rows(TestCase, rows, conflict=("project", "key"))


def _ids_by_key(project_id: int, keys: list[str]) -> dict[str, int]:
    rows = select_any(TestCase, "key", keys, ["key", "id"], where={"project_id": project_id})
    return {row["key"]: row["id"] for row in rows}


def _new_case(
    project_id: int, case: ParsedCase, source: str, origin: str, created_by_id: int | None
) -> dict:
    """The columns of a new case (the others take the model's defaults: active, no steps)."""
    where = f" ({case.classname})" if case.classname else ""
    return {
        "project_id": project_id,
        "key": case.key,
        "name": case.name[:NAME_MAX],
        "type": CaseType.GENERIC,
        "origin": origin,
        "description": f"Reported by {source}{where}.",
        "tags": ["junit"],
        "created_by_id": created_by_id,
    }
