"""What one run costs its worker in database statements.

A worker's throughput is mostly round trips to the database (docs/performance.md, "Execution
engine"): a change that adds a statement to every run shows up here, in every test run, and not
only when someone runs the benchmark.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from executions import engine
from executions.models import ExecutionStatus
from tests.factories import TestCaseFactory, execution_for

pytestmark = pytest.mark.django_db

# A one-step run, measured on PostgreSQL: claim 6 (BEGIN, claim, event, start, attempt, COMMIT),
# step 7 (BEGIN, lock, trace look-up, trace insert, event, counters, COMMIT), finish 12 (BEGIN,
# lock, attempt, event, savepoint, attempts, result, stats lock, stats upsert, release, finish,
# COMMIT); the same on SQLite.
STATEMENTS_PER_RUN = 25


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


def test_a_worker_that_knows_the_suite_run_saves_the_finish_a_lookup(
    project,
):
    from executions.services import lifecycle

    case = TestCaseFactory(project=project)
    execution = execution_for(case)
    lifecycle.execution_claim_next(worker="w")

    with CaptureQueriesContext(connection) as queries:
        lifecycle.execution_complete(
            execution.pk, outcome=ExecutionStatus.PASSED, worker="w", parent_id=None
        )

    assert not any('SELECT "executions_execution"."parent_id"' in q["sql"] for q in queries)
