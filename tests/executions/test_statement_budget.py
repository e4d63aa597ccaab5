"""What the engine's hot paths cost in database statements: starting a run through the API, and
one run in a worker.

Their speed is mostly round trips to the database (docs/performance.md, "Execution engine"): a
change that adds a statement to every run shows up here, in every test run, and not only when
someone runs the benchmark.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine import worker as engine
from executions.models import ExecutionStatus
from tests.factories import TestCaseFactory, execution_for

pytestmark = pytest.mark.django_db

# A one-step run, measured on PostgreSQL: claim 6 (BEGIN, claim, event, start, attempt, COMMIT);
# finish with the step 15 (BEGIN, lock, trace look-up, trace insert, step event, attempt, finish
# event, savepoint, attempts, result, stats lock, stats upsert, release, finish, COMMIT); the same
# on SQLite.
STATEMENTS_PER_RUN = 21


# POST /api/v1/executions/ for a case: the token, the case with the caller's role; BEGIN, the execution,
# its first attempt, its first two events (one INSERT), the doorbell (ORM broker, the default: a
# row in the same transaction), COMMIT (in a test: a savepoint).
STATEMENTS_PER_START = 8


def test_starting_a_run_through_the_api_costs_a_fixed_number_of_statements(project, member):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from executions.models import Execution

    case = TestCaseFactory(project=project)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=member).key}")

    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/executions/", {"test_case": case.pk}, format="json")

    assert response.status_code == 201, response.content
    execution = Execution.objects.get(pk=response.json()["id"])
    assert (execution.attempt_count, execution.event_seq) == (1, 2)
    assert list(execution.events.order_by("seq").values_list("seq", "kind")) == [
        (1, "transition"),
        (2, "attempt"),
    ]
    statements = [q["sql"][:120] for q in queries]
    assert len(statements) <= STATEMENTS_PER_START, "\n".join(statements)


def test_a_one_step_run_costs_its_worker_a_fixed_number_of_statements(project):
    case = TestCaseFactory(
        project=project, steps=[{"name": "no-op", "action": "set", "params": {"values": {"a": 1}}}]
    )
    execution_for(case)
    engine.run_next(worker="w")  # the case's first run also creates its statistics row
    execution = execution_for(case)

    with CaptureQueriesContext(connection) as queries:
        engine.run_next(worker="w")

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.PASSED and execution.rolled_up
    statements = [q["sql"][:120] for q in queries]
    assert len(statements) <= STATEMENTS_PER_RUN, "\n".join(statements)
    commits = [sql for sql in statements if sql == "COMMIT"]
    assert len(commits) in (0, 2)  # claim, finish (SQLite's commits are not logged)


def test_a_worker_that_knows_the_suite_run_saves_the_finish_a_lookup(
    project,
):
    from executions.services import claim, worker_writes

    case = TestCaseFactory(project=project)
    execution = execution_for(case)
    claim.execution_claim_next(worker="w")

    with CaptureQueriesContext(connection) as queries:
        worker_writes.execution_complete(
            execution.pk, outcome=ExecutionStatus.PASSED, worker="w", attempt=1, parent_id=None
        )

    assert not any('SELECT "executions_execution"."parent_id"' in q["sql"] for q in queries)


def test_the_last_step_is_stored_with_the_finish_and_every_step_is_kept_in_order(project):
    from executions.traces import trace_steps

    case = TestCaseFactory(project=project)  # two steps: set x, assert x
    execution = execution_for(case, parameters={"x": 1})

    engine.run_next(worker="w")

    execution.refresh_from_db()
    events = list(execution.events.order_by("seq").values_list("kind", "to_status"))
    assert events[-3:] == [("step", ""), ("step", ""), ("transition", ExecutionStatus.PASSED)]
    attempt = execution.attempts.get()
    assert [s["order"] for s in trace_steps(attempt.trace)] == [1, 2]
    assert execution.summary["steps_done"] == 2
    assert execution.summary["counts"] == {"passed": 2}
