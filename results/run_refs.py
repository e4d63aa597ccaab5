"""Naming a run to compare: an engine execution (suite run, case run or reported run) or a JUnit
import, and finding the previous comparable run of one.

A ref is `execution:<id>` (or a bare `<id>`), `import:<id>`, or `previous` for the base: the
newest earlier finished run of the same project and suite (or case, or import source and name)
on the same branch. Comparing with "the previous run on this branch" is what a CI job wants
after every run, and what the run pages link to.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse

from catalog import access
from core import errors
from executions.models import TERMINAL, Execution, Trigger
from results.errors import InvalidQuery
from results.models import ImportBatch

EXECUTION, IMPORT = "execution", "import"
PREVIOUS = "previous"
REF_PATTERN = r"^(previous|(execution:|import:)?[0-9]{1,18})$"
_REF = re.compile(REF_PATTERN)
NOT_FOUND = "Run not found."


@dataclass(frozen=True)
class Run:
    """What the comparison needs to know of one side."""

    kind: str  # EXECUTION or IMPORT
    id: int
    project_id: int
    label: str
    branch: str
    revision: str
    status: str
    created_at: datetime
    reported: bool = False  # a reported run: its results are its own, one per test and attempt
    suite_run: bool = False  # an engine suite run: its results are its children's

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def page_url(self) -> str:
        """Where a person reads the run: the execution page, or an import's printable report."""
        if self.kind == EXECUTION:
            return reverse("dashboard:execution", args=[self.id])
        return f"/api/v1/imports/{self.id}/report/?as=html"


def parse_ref(ref: str) -> tuple[str, int | None]:
    """(kind, id) of a ref; ("previous", None) for `previous`. Raises InvalidQuery (400)."""
    ref = (ref or "").strip()
    if not _REF.match(ref):
        raise InvalidQuery(
            f"{ref[:50]!r} names no run: give execution:<id>, import:<id> or previous.",
            detail={"pattern": REF_PATTERN},
        )
    if ref == PREVIOUS:
        return PREVIOUS, None
    kind, _, number = ref.rpartition(":")
    return (kind or EXECUTION), int(number)


def run_resolve(ref: str, user=None) -> Run:
    """The run a ref names (not `previous`). With a `user`, only a run of a project they may
    read: another project's run answers exactly like a missing one (NotFound, 404)."""
    kind, number = parse_ref(ref)
    if kind == PREVIOUS:
        raise InvalidQuery("`previous` names a base only: give the head run.")
    run = _load(kind, number)
    if run is None:
        raise errors.NotFound(NOT_FOUND)
    if user is not None:
        access.require(user, run.project_id, access.READ, hidden=NOT_FOUND)
    return run


def _load(kind: str, number: int) -> Run | None:
    if number > 2**63 - 1:
        return None
    if kind == IMPORT:
        batch = ImportBatch.objects.filter(pk=number).first()
        return _of_import(batch) if batch else None
    execution = (
        Execution.objects.filter(pk=number).select_related("test_suite", "test_case").first()
    )
    return _of_execution(execution) if execution else None


def _of_execution(execution: Execution) -> Run:
    subject = execution.test_suite or execution.test_case
    return Run(
        kind=EXECUTION,
        id=execution.pk,
        project_id=execution.project_id,
        label=f"run #{execution.pk} of {subject}" if subject else f"run #{execution.pk}",
        branch=execution.branch,
        revision=execution.revision,
        status=execution.status,
        created_at=execution.created_at,
        reported=execution.trigger == Trigger.REPORTED,
        suite_run=execution.test_suite_id is not None and execution.trigger != Trigger.REPORTED,
    )


def _of_import(batch: ImportBatch) -> Run:
    return Run(
        kind=IMPORT,
        id=batch.pk,
        project_id=batch.project_id,
        label=f"import #{batch.pk} ({batch.name or batch.filename or batch.source})",
        branch=batch.branch,
        revision=batch.revision,
        status="finished",
        created_at=batch.created_at,
    )


def run_previous(run: Run) -> Run | None:
    """The previous comparable run: same project, same suite (or case: a suite run's child
    counts; or import source and name), same branch, finished, created before `run`. None when
    there is none."""
    if run.kind == IMPORT:
        batch = ImportBatch.objects.get(pk=run.id)
        earlier = (
            ImportBatch.objects.filter(
                project_id=run.project_id,
                source=batch.source,
                name=batch.name,
                branch=run.branch,
                created_at__lte=run.created_at,
            )
            .exclude(pk=run.id)
            .exclude(created_at=run.created_at, pk__gt=run.id)
            .order_by("-created_at", "-id")
            .first()
        )
        return _of_import(earlier) if earlier else None
    execution = Execution.objects.get(pk=run.id)
    same = {"test_suite_id": execution.test_suite_id, "test_case_id": execution.test_case_id}
    earlier = (
        Execution.objects.filter(
            project_id=run.project_id,
            branch=run.branch,
            status__in=TERMINAL,
            created_at__lte=run.created_at,
            **same,
        )
        .exclude(pk=run.id)
        .exclude(created_at=run.created_at, pk__gt=run.id)
        .select_related("test_suite", "test_case")
        .order_by("-created_at", "-id")
        .first()
    )
    return _of_execution(earlier) if earlier else None


def previous_comparison_url(kind: str, run_id: int) -> str:
    """The dashboard comparison of a run with its previous comparable run: the link of every run
    page and report. "" for an unfinished run, a suite run's child, or a run with no previous."""
    run = _load(kind, run_id)
    if run is None or (kind == EXECUTION and run.status not in TERMINAL):
        return ""
    if kind == EXECUTION and Execution.objects.filter(pk=run_id, parent__isnull=False).exists():
        return ""
    base = run_previous(run)
    if base is None:
        return ""
    return f"{reverse('dashboard:compare')}?base={base.ref}&head={run.ref}"


def runs_for_compare(base_ref: str, head_ref: str, user=None) -> tuple[Run | None, Run]:
    """Resolve both refs for a comparison; base `previous` is the head's previous comparable run
    (None when it has none: everything in the head is then new). Raises InvalidQuery when the
    runs are of different projects, NotFound when a run is missing or hidden from `user`."""
    head = run_resolve(head_ref, user)
    if parse_ref(base_ref)[0] == PREVIOUS:
        return run_previous(head), head
    base = run_resolve(base_ref, user)
    if base.project_id != head.project_id:
        raise InvalidQuery("Both runs must be of the same project.")
    return base, head
