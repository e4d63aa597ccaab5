"""Issue 15, finding 10: tests that only come from reports are marked as such (imported or
reported), cannot be run, and a case with no steps can never pass."""

import io

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from catalog.models import CaseOrigin, CaseType, TestCase
from engine import worker as engine
from executions.errors import NotRunnable
from executions.models import Execution, ExecutionStatus
from executions.services import claim as claiming
from executions.services import worker_writes
from results.imports import junit_import
from tests.factories import TestCaseFactory, execution_for

S = ExecutionStatus
JUNIT = b"""<?xml version="1.0"?>
<testsuite name="shop"><testcase classname="tests.test_cart" name="test_total" time="0.2"/>
<testcase classname="tests.test_cart" name="test_empty" time="0.1"><failure message="boom"/>
</testcase></testsuite>"""


@pytest.fixture
def imported(project):
    junit_import(project=project, stream=io.BytesIO(JUNIT))
    return project.test_cases.get(key__endswith="test_total")


def test_an_imported_test_is_marked_imported(imported):
    assert imported.origin == CaseOrigin.IMPORTED
    assert imported.is_runnable is False


def test_an_imported_test_cannot_be_started(imported):
    with pytest.raises(NotRunnable) as caught:
        execution_for(imported)

    assert caught.value.code == "case_not_runnable"
    assert not Execution.objects.exists()


def test_the_api_refuses_to_run_an_imported_test_with_a_4xx(imported, member_api):
    response = member_api.post("/api/v1/executions/", {"test_case": imported.pk}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "case_not_runnable"
    assert not Execution.objects.exists()


def test_the_api_shows_the_origin_and_a_client_cannot_change_it(imported, owner_api):
    url = f"/api/v1/test-cases/{imported.pk}/"
    assert owner_api.get(url).json()["origin"] == "imported"

    owner_api.patch(url, {"origin": "authored"}, format="json")

    imported.refresh_from_db()
    assert imported.origin == CaseOrigin.IMPORTED


def test_a_suite_run_leaves_reported_tests_out(project, imported, make_suite):
    authored = TestCaseFactory(project=project)
    parent = execution_for(suite=make_suite(imported, authored))

    assert list(parent.children.values_list("test_case", flat=True)) == [authored.pk]


def test_the_start_form_does_not_offer_an_imported_test(imported, member, client):
    client.force_login(member)
    page = client.get(f"/projects/{imported.project_id}/run/").content.decode()

    assert f'value="case:{imported.pk}"' not in page


def test_the_case_page_has_no_run_button_for_an_imported_test(imported, member, client):
    client.force_login(member)
    page = client.get(f"/cases/{imported.pk}/").content.decode()

    assert "?target=case:" not in page
    assert 'data-role="not-runnable"' in page


@pytest.mark.parametrize("case_type", [CaseType.GENERIC, CaseType.MANUAL])
def test_a_case_with_no_steps_cannot_pass(project, case_type):
    case = TestCaseFactory(project=project, type=case_type, steps=[])
    execution = execution_for(case)

    assert engine.run_next(worker="w") == execution.pk

    execution.refresh_from_db()
    assert execution.status == S.ERROR
    assert "no steps" in execution.status_reason


def test_a_case_with_no_steps_is_not_retried(project):
    case = TestCaseFactory(project=project, steps=[])
    execution = execution_for(case, max_retries=2)
    claiming.execution_claim_next(worker="w")

    worker_writes.execution_complete(execution.pk, outcome=S.PASSED, worker="w", attempt=1)

    execution.refresh_from_db()
    assert (execution.status, execution.attempt_count) == (S.ERROR, 1)


def test_a_case_with_steps_still_passes(project):
    execution = execution_for(TestCaseFactory(project=project))

    engine.run_next(worker="w")

    execution.refresh_from_db()
    assert execution.status == S.PASSED


# --- the data migration, on a database built by the migrations before it --------------------

BEFORE = ("catalog", "0002_rename_tables")


@pytest.fixture
def before_origin(transactional_db):
    """The database just before catalog 0003; yields the models of that time."""
    MigrationExecutor(connection).migrate([BEFORE])
    yield MigrationLoader(connection).project_state([BEFORE]).apps
    MigrationExecutor(connection).migrate(MigrationLoader(connection).graph.leaf_nodes())


def test_the_migration_marks_cases_that_only_came_from_reports(before_origin):
    project = before_origin.get_model("catalog", "Project").objects.create(name="M", slug="m")
    cases = before_origin.get_model("catalog", "TestCase").objects

    def case(key, **fields):
        return cases.create(project=project, key=key, name=key, **fields).pk

    ids = {
        "imported": case(
            "t.test_a", tags=["junit"], description="Reported by JUnit import #3 (t)."
        ),
        "reported": case(
            "t.test_b", tags=["junit"], description="Reported by runner profile pytest (t)."
        ),
        "authored": case("api-health", steps=[{"action": "set", "params": {}}]),
        # Someone gave an imported test steps since: it is authored now.
        "given_steps": case(
            "t.test_c",
            tags=["junit"],
            description="Reported by JUnit import #3 (t).",
            steps=[{"action": "set", "params": {}}],
        ),
        "untagged": case("t.test_d", description="Reported by JUnit import #4."),
    }

    MigrationExecutor(connection).migrate(MigrationLoader(connection).graph.leaf_nodes())

    origins = dict(TestCase.objects.filter(pk__in=ids.values()).values_list("pk", "origin"))
    assert {name: origins[pk] for name, pk in ids.items()} == {
        "imported": "imported",
        "reported": "reported",
        "authored": "authored",
        "given_steps": "authored",
        "untagged": "authored",
    }


def test_an_imported_test_given_steps_becomes_authored_and_runs(imported, owner_api):
    steps = [{"name": "set x", "action": "set", "params": {"values": {"x": 1}}}]
    response = owner_api.patch(
        f"/api/v1/test-cases/{imported.pk}/", {"steps": steps}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["origin"] == "authored"
    assert execution_for(project_case(imported)).status == S.QUEUED


def project_case(case):
    return TestCase.objects.get(pk=case.pk)
