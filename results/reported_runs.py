"""Results of reported runs: each result a CI job streams in (executions.services.reported) becomes
a CaseResult as its batch arrives, so it is in the case's history, statistics, flaky detection,
analytics and reports like an engine finish or an imported testcase.

The receiver of executions.signals.reported_results_appended, in the appending transaction: a
batch and its case results commit together, and a retried batch (answered from its ReportedBatch
row) sends nothing, so nothing is recorded twice. A batch costs a few bulk statements whatever
its size: the catalog cases (results.reported_cases), one COPY of the results, one fold of the
cases' statistics (results.history), as a JUnit import of the same testcases does.

Each attempt of a test is a result of its own (attempt_number): attempt n counts n-1 failed tries
before it (`retries`), so a test that passed on its rerun is flaky on its own, as an engine retry
or a Surefire flakyFailure makes it.
"""

import logging

from django.utils import timezone

from catalog.models import CaseOrigin
from core.bulk import insert_rows, select_any
from executions.models import Execution
from results.history import Entry, history_record
from results.junit import ParsedCase, case_key, split_key
from results.models import FAILING_OUTCOMES, CaseOutcome, CaseResult
from results.reported_cases import reported_cases_find_or_create
from results.runs import RunRef
from results.signals import failures_of, results_recorded
from results.signatures import signature_of_junit

log = logging.getLogger(__name__)
MESSAGE_MAX = 2000  # as results.processing keeps an engine finish's message
# Step fields -> CaseResult.details keys, as a JUnit import names them (results.reports reads them).
DETAILS = {
    "traceback": "text",
    "stdout": "system_out",
    "stderr": "system_err",
    "outcome": "outcome",
}


def on_reported_results(sender, *, execution: Execution, steps: list[dict], **kwargs) -> None:
    """Receiver of executions.signals.reported_results_appended (connected in results.apps)."""
    reported_results_record(execution, steps)


def reported_results_record(execution: Execution, steps: list[dict]) -> int:
    """Record a batch of a reported run's results (trace steps with their `test`) as CaseResults
    and fold them into their cases' history. Returns how many were recorded: a result whose test
    and attempt this run recorded before (sent again under another batch id) is kept in the
    run's trace but not counted twice. Call inside the batch's transaction, the run locked."""
    tests = [_parsed(step) for step in steps]
    case_ids, _ = reported_cases_find_or_create(
        execution.project_id,
        tests,
        source=f"the CI run #{execution.pk}",
        origin=CaseOrigin.REPORTED,
        created_by_id=execution.triggered_by_id,
    )
    seen = _recorded(execution, list(set(case_ids.values())))
    now = timezone.now()
    suite = execution.test_suite.name if execution.test_suite_id else ""
    rows, entries = [], []
    for step, test in zip(steps, tests, strict=True):
        case_id, attempt = case_ids[test.key], step.get("attempt_of_test", 1)
        if (case_id, attempt) in seen:
            continue
        seen.add((case_id, attempt))
        rows.append(
            {
                "project_id": execution.project_id,
                "case_id": case_id,
                "execution_id": execution.pk,
                "attempt_number": attempt,
                "suite_name": suite,
                "outcome": test.outcome,
                "retries": test.retries,
                "duration_ms": test.duration_ms,
                "revision": execution.revision,
                "branch": execution.branch,
                "environment": execution.environment,
                "labels": execution.labels,
                "message": test.message,
                "details": test.details,
                "signature": signature_of_junit(test.message, test.details)
                if test.outcome in FAILING_OUTCOMES
                else "",
                "created_at": now,
            }
        )
        entries.append(
            Entry(case_id, test.outcome, test.duration_ms, execution.revision, test.retries, now)
        )
    if len(rows) < len(steps):
        log.info(
            "reported run %s: %d results of tests and attempts recorded before were not recorded again",
            execution.pk,
            len(steps) - len(rows),
        )
    insert_rows(CaseResult, rows)
    previous: dict[int, str] = {}
    history_record(
        entries,
        project_id=execution.project_id,
        actor_label=f"reported run #{execution.pk}",
        previous=previous,
    )
    _announce(execution, rows, previous)
    return len(rows)


def _announce(execution: Execution, rows: list[dict], previous: dict[int, str]) -> None:
    """Tell failure groups (triage) about the batch's results, in its transaction, as an import
    does. Its failures are read back for their ids (COPY returns none): the run's failed results
    of the batch's cases, a batch's worth at most."""
    failing = {
        (r["case_id"], r["attempt_number"]) for r in rows if r["outcome"] in FAILING_OUTCOMES
    }
    failures = []
    if failing:
        earlier_or_now = CaseResult.objects.filter(
            execution=execution, case_id__in={case_id for case_id, _ in failing}
        )
        for failure in failures_of(earlier_or_now, "attempt_number"):
            if (failure["case_id"], failure.pop("attempt_number")) in failing:
                failures.append(failure)
    results_recorded.send(
        sender=CaseResult,
        project_id=execution.project_id,
        run=RunRef.of_execution(execution),
        branch=execution.branch,
        revision=execution.revision,
        failures=failures,
        passed=[r["case_id"] for r in rows if r["outcome"] == CaseOutcome.PASSED],
        previous=previous,
    )


def _parsed(step: dict) -> ParsedCase:
    """The test a step reports, as the JUnit reader would have read it: the same key, so a
    test streamed in and the same test uploaded as JUnit XML are one catalog case."""
    test = step["test"]
    if test["key"]:
        key = case_key("", test["key"])
        classname, name = test["classname"], test["name"]
    else:
        classname, name = test["classname"], test["name"]
        key = case_key(classname, name)
    details = {DETAILS[k]: step[k] for k in DETAILS if step.get(k)}
    if step.get("error"):
        details["type"] = step["error"]["type"]
    if split_key(key) != (classname, name):
        # Reports rebuild classname and name from the key; keep them where it would not.
        details["classname"], details["name"] = classname, name
    details["order"] = step["order"]  # the step of the run's trace it is
    return ParsedCase(
        suite="",
        classname=classname,
        name=name,
        key=key,
        outcome=step["status"],
        duration_ms=step.get("duration_ms"),
        message=step.get("message", "")[:MESSAGE_MAX],
        retries=step.get("attempt_of_test", 1) - 1,
        details=details,
    )


def _recorded(execution: Execution, case_ids: list[int]) -> set[tuple[int, int]]:
    """(case, attempt) pairs of these cases this run has recorded already."""
    rows = select_any(
        CaseResult,
        "case_id",
        case_ids,
        ["case_id", "attempt_number"],
        where={"execution_id": execution.pk},
    )
    return {(row["case_id"], row["attempt_number"]) for row in rows}
