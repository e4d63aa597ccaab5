"""Reports of an execution (a case run or a suite run) or of a JUnit import, in four formats:
JSON, printable HTML, CSV and JUnit XML.

A Report is a format-free description (totals, suites, and the rows as a generator); each
renderer walks the rows once, so an import of 100,000 testcases streams instead of being built in
memory. Execution reports read the executions themselves (they are right even before result
processing has run); import reports read the batch's CaseResults.
"""

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice

from django.db.models import Case, Count, Q, Sum, When
from django.template.loader import render_to_string

from executions.models import TERMINAL, Execution, ExecutionStatus, Trigger
from executions.traces import trace_of, trace_steps
from results.junit import ExportCase, SuiteTotals, junit_chunks, split_key
from results.models import CaseOutcome, CaseResult, ImportBatch
from results.processing import FAILING, OUTCOME_OF, attempts_of_this_run, worker_lost
from results.run_refs import previous_comparison_url
from results.runs import RunRef
from results.summaries import run_summary

Outcome = CaseOutcome
FORMATS = ("json", "html", "csv", "junit")
HTML_MAX_ROWS = 5000  # a printable page; the other formats have every row
HTML_MAX_STEPS = 200  # per case
CSV_COLUMNS = [
    "suite",
    "case",
    "key",
    "classname",
    "name",
    "outcome",
    "status",
    "duration_ms",
    "retries",
    "message",
    "execution",
    "attempt",
]


@dataclass
class ReportRow:
    suite: str
    case: int
    key: str
    classname: str
    name: str
    outcome: str
    status: str
    duration_ms: int | None
    retries: int = 0
    message: str = ""
    failure_type: str = ""
    text: str = ""
    system_out: str = ""
    system_err: str = ""
    reruns: list = field(default_factory=list)
    properties: dict = field(default_factory=dict)
    execution: int | None = None
    attempt: int | None = None
    steps: list | None = None


@dataclass
class Report:
    kind: str  # "execution" or "import"
    id: int
    title: str
    project: dict
    status: str
    revision: str
    branch: str
    environment: str
    created_at: str
    finished_at: str | None
    duration_ms: int | None
    totals: dict
    suites: list[SuiteTotals]
    rows: Callable[..., Iterator[ReportRow]]  # rows(attention_first=False)
    # New failures, regressions, fixed, known (results.summaries): what the report leads with.
    summary: dict = field(default_factory=dict)

    def meta(self) -> dict:
        return {
            "kind": self.kind,
            "id": self.id,
            "title": self.title,
            "project": self.project,
            "status": self.status,
            **self.summary,
            "revision": self.revision,
            "branch": self.branch,
            "environment": self.environment,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "duration_ms": self.duration_ms,
            "totals": self.totals,
            "suites": [asdict(s) for s in self.suites],
        }


# --- building ------------------------------------------------------------------------------------


def execution_report(execution: Execution) -> Report:
    """A case run is a report of one case; a suite run, of each child in suite order; a reported
    run, of each result it received."""
    if execution.trigger == Trigger.REPORTED:
        return reported_run_report(execution)
    if execution.is_suite_run:
        members = list(
            execution.children.select_related("test_case")
            .prefetch_related("attempts")
            .order_by("id")
        )
        suite = execution.test_suite.name
        title = f"Suite run #{execution.pk}: {suite}"
    else:
        members = [execution]
        suite = execution.project.name
        title = f"Run #{execution.pk}: {execution.test_case.key}"
    rows = [_execution_row(e, suite) for e in members]
    return _run_report(
        execution,
        title=title,
        totals=_totals(rows),
        suites=[_suite_totals(suite, rows)],
        rows=lambda attention_first=False: iter(rows),
    )


def _run_report(execution: Execution, *, title: str, totals: dict, suites, rows) -> Report:
    """The report of an engine or reported run: the run's own facts around its results."""
    return Report(
        kind="execution",
        id=execution.pk,
        title=title,
        project={"id": execution.project_id, "name": execution.project.name},
        status=execution.status,
        revision=execution.revision,
        branch=execution.branch,
        environment=execution.environment,
        created_at=execution.created_at.isoformat(),
        finished_at=execution.finished_at.isoformat() if execution.finished_at else None,
        duration_ms=_ms(execution.started_at, execution.finished_at),
        totals=totals,
        suites=suites,
        rows=rows,
        summary=run_summary(RunRef.of_execution(execution)),
    )


def _execution_row(execution: Execution, suite: str) -> ReportRow:
    attempts = sorted(execution.attempts.all(), key=lambda a: a.number)
    run = attempts_of_this_run(attempts) if attempts else []
    final = run[-1] if run else None
    finished = execution.status in TERMINAL
    outcome = OUTCOME_OF[execution.status] if finished else Outcome.SKIPPED
    error = (final.error if final else None) or {}
    steps = trace_steps(trace_of(execution))
    failing_step = next((s for s in steps if s.get("error")), None)
    classname, name = split_key(execution.test_case.key)
    tried = [a for a in run[:-1] if a.outcome in FAILING and not worker_lost(a)]
    return ReportRow(
        suite=suite,
        case=execution.test_case_id,
        key=execution.test_case.key,
        classname=classname,
        name=name,
        outcome=outcome,
        status=execution.status,
        duration_ms=_ms(final.started_at, final.finished_at) if final else None,
        retries=len(tried),
        message=execution.status_reason if finished else f"not finished: {execution.status}",
        failure_type=error.get("type", ""),
        text=_failure_text(error, failing_step)
        if outcome in (Outcome.FAILED, Outcome.ERROR)
        else "",
        system_out="\n".join(_step_line(s) for s in steps),
        reruns=[_rerun(a, outcome) for a in tried],
        execution=execution.pk,
        attempt=final.number if final else None,
        steps=steps,
    )


def _failure_text(error: dict, step: dict | None) -> str:
    step_error = (step or {}).get("error") or {}
    parts = [
        f"step {step['order']} {step.get('name', '')!r}: {step_error.get('message', '')}"
        if step
        else "",
        step_error.get("traceback", "") or error.get("traceback", ""),
        step_error.get("suggestion", ""),
    ]
    return "\n".join(p for p in parts if p)


def _step_line(step: dict) -> str:
    ms = step.get("duration_ms")
    return f"{step['order']}. {step.get('name', '')} - {step['status']}" + (
        f" ({ms} ms)" if ms is not None else ""
    )


def _rerun(attempt, final_outcome: str) -> dict:
    prefix = "flaky" if final_outcome == Outcome.PASSED else "rerun"
    kind = "Error" if attempt.outcome == ExecutionStatus.ERROR else "Failure"
    message = (attempt.error or {}).get(
        "message", ""
    ) or f"attempt {attempt.number} {attempt.outcome}"
    return {
        "kind": prefix + kind,
        "message": message,
        "type": (attempt.error or {}).get("type", ""),
    }


def import_report(batch: ImportBatch) -> Report:
    suites, rows = _of_results(batch.results.all())
    totals = {k: batch.totals.get(k, 0) for k in ("tests", "passed", "failed", "error", "skipped")}
    totals["retries"] = batch.totals.get("retries", 0)
    return Report(
        kind="import",
        id=batch.pk,
        title=f"Import #{batch.pk}: {batch.filename or batch.name or 'JUnit XML'}",
        project={"id": batch.project_id, "name": batch.project.name},
        status=_import_status(totals),
        revision=batch.revision,
        branch=batch.branch,
        environment=batch.environment,
        created_at=batch.created_at.isoformat(),
        finished_at=batch.created_at.isoformat(),
        duration_ms=batch.duration_ms,
        totals=totals,
        suites=suites,
        rows=rows,
        summary=run_summary(RunRef.of_batch(batch.pk)),
    )


def reported_run_report(execution: Execution) -> Report:
    """A reported run's report: its CaseResults (one per test and attempt), as an import's."""
    suites, rows = _of_results(CaseResult.objects.filter(execution=execution))
    totals = dict.fromkeys(("tests", "passed", "failed", "error", "skipped", "retries"), 0)
    for suite in suites:
        totals["tests"] += suite.tests
        totals["failed"] += suite.failures
        totals["error"] += suite.errors
        totals["skipped"] += suite.skipped
    totals["passed"] = totals["tests"] - totals["failed"] - totals["error"] - totals["skipped"]
    totals["retries"] = CaseResult.objects.filter(execution=execution, retries__gt=0).count()
    return _run_report(
        execution,
        title=f"Reported run #{execution.pk}: {execution.test_suite.name}",
        totals=totals,
        suites=suites,
        rows=rows,
    )


def _of_results(results) -> tuple[list[SuiteTotals], Callable[..., Iterator[ReportRow]]]:
    """Per-suite totals and the rows (a generator function) of a queryset of CaseResults."""
    per_suite = (
        results.values("suite_name")
        .annotate(
            tests=Count("*"),
            failures=Count("outcome", filter=Q(outcome=Outcome.FAILED)),
            errors=Count("outcome", filter=Q(outcome=Outcome.ERROR)),
            skipped=Count("outcome", filter=Q(outcome=Outcome.SKIPPED)),
            time_ms=Sum("duration_ms", default=0),
        )
        .order_by("suite_name")
    )
    suites = [
        SuiteTotals(
            name=s["suite_name"],
            tests=s["tests"],
            failures=s["failures"],
            errors=s["errors"],
            skipped=s["skipped"],
            time_ms=s["time_ms"],
        )
        for s in per_suite
    ]

    def rows(attention_first: bool = False) -> Iterator[ReportRow]:
        query = results.select_related("case").order_by("suite_name", "id")
        if attention_first:  # the printable page: failures, errors, skips, then passes
            query = query.order_by(
                Case(When(outcome=Outcome.PASSED, then=1), default=0), "suite_name", "id"
            )
        for r in query.iterator(chunk_size=2000):
            classname, name = split_key(r.case.key)
            d = r.details
            yield ReportRow(
                suite=r.suite_name,
                case=r.case_id,
                key=r.case.key,
                classname=d.get("classname", classname),
                name=d.get("name", name),
                outcome=r.outcome,
                status=r.outcome,
                duration_ms=r.duration_ms,
                retries=r.retries,
                message=r.message,
                failure_type=d.get("type", ""),
                text=d.get("text", ""),
                system_out=d.get("system_out", ""),
                system_err=d.get("system_err", ""),
                reruns=d.get("reruns", []),
                properties=d.get("properties", {}),
            )

    return suites, rows


def _import_status(totals: dict) -> str:
    if totals["failed"]:
        return ExecutionStatus.FAILED
    if totals["error"]:
        return ExecutionStatus.ERROR
    return ExecutionStatus.PASSED


def _totals(rows: list[ReportRow]) -> dict:
    totals = dict.fromkeys(("tests", "passed", "failed", "error", "skipped", "retries"), 0)
    for row in rows:
        totals["tests"] += 1
        totals[row.outcome] += 1
        totals["retries"] += row.retries
    return totals


def _suite_totals(name: str, rows: list[ReportRow]) -> SuiteTotals:
    t = _totals(rows)
    return SuiteTotals(
        name=name,
        tests=t["tests"],
        failures=t["failed"],
        errors=t["error"],
        skipped=t["skipped"],
        time_ms=sum(r.duration_ms or 0 for r in rows),
    )


def _ms(start, end) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds() * 1000))


# --- rendering -----------------------------------------------------------------------------------


def render_json(report: Report) -> Iterator[str]:
    head = json.dumps(report.meta())
    yield head[:-1] + ', "cases": ['
    for i, row in enumerate(report.rows()):
        yield ("," if i else "") + json.dumps(_row_json(row, report.kind))
    yield "]}"


def _row_json(row: ReportRow, kind: str) -> dict:
    data = asdict(row)
    if kind == "import":
        for key in ("execution", "attempt", "steps"):
            data.pop(key)
    return data


class _Echo:
    """csv.writer wants a file; this one hands each written line back."""

    def write(self, value: str) -> str:
        return value


def render_csv(report: Report) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for row in report.rows():
        yield writer.writerow(
            [
                # Every cell a user or an uploaded file wrote goes through _csv_safe.
                _csv_safe(row.suite),
                _csv_safe(row.case),
                _csv_safe(row.key),
                _csv_safe(row.classname),
                _csv_safe(row.name),
                row.outcome,
                row.status,
                "" if row.duration_ms is None else row.duration_ms,
                row.retries,
                _csv_safe(row.message),
                row.execution or "",
                row.attempt or "",
            ]
        )


def _csv_safe(text):
    """Spreadsheets run cells that start with = + - @ (or a tab or carriage return before one)
    as formulas: defuse them."""
    if not isinstance(text, str):
        return "" if text is None else text
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_junit(report: Report) -> Iterator[str]:
    properties = {
        k: v
        for k, v in (
            ("revision", report.revision),
            ("branch", report.branch),
            ("environment", report.environment),
            (f"intellibrowse.{report.kind}", str(report.id)),
            *_summary_properties(report.summary),
        )
        if v
    }
    cases = (
        ExportCase(
            suite=row.suite,
            classname=row.classname,
            name=row.name,
            outcome=row.outcome,
            duration_ms=row.duration_ms,
            message=row.message,
            failure_type=row.failure_type,
            text=row.text,
            system_out=row.system_out,
            system_err=row.system_err,
            reruns=row.reruns,
            properties=row.properties,
        )
        for row in report.rows()
    )
    return junit_chunks(report.title, report.suites, cases, properties)


def _summary_properties(summary: dict) -> list[tuple[str, str]]:
    """The run's summary as JUnit properties a CI page shows: counts, then the new failures."""
    matters = summary.get("what_matters")
    if not matters:
        return []
    counts = matters["counts"]
    new = "; ".join(f"{g['error_type']}: {g['message'][:80]}" for g in matters["new"][:10])
    return [
        ("intellibrowse.new_failures", str(counts["new"])),
        ("intellibrowse.regressions", str(counts["regressed"])),
        ("intellibrowse.fixed", str(counts["fixed"])),
        ("intellibrowse.known_failures", str(counts["known"])),
        ("intellibrowse.new_failure_groups", new),
    ]


def _attention_rank(summary: dict) -> Callable[[ReportRow], int]:
    """Rows of new failures first, then regressions, fixed cases, known failures, the rest."""
    matters = summary.get("what_matters") or {}
    rank: dict[int, int] = {}
    for order, section in enumerate(("new", "regressed", "fixed", "known")):
        for entry in matters.get(section, []):
            for case in entry.get("cases", [entry]) if section != "fixed" else [entry]:
                rank.setdefault(case["id"], order)
    return lambda row: rank.get(row.case, 4)


def render_html(report: Report) -> str:
    # Printable: what needs attention first (new, regressed, fixed, known), then the rest.
    shown = list(islice(report.rows(attention_first=True), HTML_MAX_ROWS))
    shown.sort(key=_attention_rank(report.summary))
    for row in shown:
        if row.steps and len(row.steps) > HTML_MAX_STEPS:
            row.steps = row.steps[:HTML_MAX_STEPS]
    return render_to_string(
        "results/report.html",
        {
            "report": report,
            "rows": shown,
            "hidden": max(0, report.totals["tests"] - len(shown)),
            "max_steps": HTML_MAX_STEPS,
            "compare_url": previous_comparison_url(report.kind, report.id),
            "matters": report.summary.get("what_matters"),
        },
    )
