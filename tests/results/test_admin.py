"""The results admin: pages render (steps through the accessor), actions call the services."""

import pytest
from django.test import Client

from results.models import CaseEvent, CaseStats, SuiteHook
from results.services import hook_rotate
from tests.factories import TestCaseFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "model",
    [
        "executions/trace",
        "results/caseresult",
        "results/importbatch",
        "results/casestats",
        "results/caseevent",
        "results/suitehook",
    ],
)
def test_changelists_render(admin_client, model, project, finish):
    finish(TestCaseFactory(project=project), ["failed", "passed"])

    assert admin_client.get(f"/admin/{model}/").status_code == 200


@pytest.mark.parametrize("threshold", [100, 1], ids=["inline", "rows"])
def test_a_trace_page_shows_its_steps_from_either_storage(
    admin_client, project, finish, settings, threshold
):
    settings.IB_TRACE_INLINE_MAX_STEPS = threshold
    execution = finish(TestCaseFactory(project=project), ["passed"])
    trace = execution.traces.get()

    page = admin_client.get(f"/admin/executions/trace/{trace.pk}/change/").content.decode()

    assert "<td>check</td>" in page


@pytest.mark.parametrize("threshold", [100, 1], ids=["inline", "rows"])
def test_an_execution_page_shows_its_latest_attempts_steps(
    admin_client, project, finish, settings, threshold
):
    settings.IB_TRACE_INLINE_MAX_STEPS = threshold
    execution = finish(TestCaseFactory(project=project), ["failed"])

    page = admin_client.get(f"/admin/executions/execution/{execution.pk}/change/")

    assert page.status_code == 200
    assert "<td>check</td>" in page.content.decode()
    assert "<td>failed</td>" in page.content.decode()


def test_quarantine_action_goes_through_the_service(admin_client, project, finish):
    case = TestCaseFactory(project=project)
    finish(case, ["passed"])

    admin_client.post(
        "/admin/results/casestats/",
        {"action": "quarantine", "_selected_action": [CaseStats.objects.get().pk]},
    )

    case.refresh_from_db()
    assert case.quarantined
    assert CaseEvent.objects.get(case=case).reason == "admin action"


def test_rotate_action_replaces_the_secret(admin_client, project, make_suite):
    suite = make_suite(TestCaseFactory(project=project))
    old = hook_rotate(suite).secret

    admin_client.post(
        "/admin/results/suitehook/", {"action": "rotate", "_selected_action": [suite.pk]}
    )

    assert SuiteHook.objects.get().secret != old
