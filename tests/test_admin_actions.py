"""Admin actions change state (cancel, re-run, pause the queue, start a schedule, quarantine,
rotate a CI hook's secret and show it): Django offers an action without `permissions` to every
operator who may view the list, so each names the permission it needs. A staff user with view
permissions only is offered none of them, and a POST of one changes nothing."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client, RequestFactory

from results.models import SuiteHook
from results.services import hook_rotate
from tests.factories import TestSuiteFactory, UserFactory

pytestmark = pytest.mark.django_db


def _viewer_of_everything():
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


def _offered(user) -> dict[str, list[str]]:
    request = RequestFactory().get("/admin/")
    request.user = user
    offered = {}
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label == "django_q":
            continue  # django-q2's own admin (its resubmit action is django-q2's to guard)
        actions = sorted(set(model_admin.get_actions(request)) - {"delete_selected"})
        if actions:
            offered[model._meta.label] = actions
    return offered


def test_an_operator_who_may_only_view_is_offered_no_action():
    assert _offered(_viewer_of_everything()) == {}


def test_a_superuser_is_still_offered_every_action():
    offered = _offered(UserFactory(is_staff=True, is_superuser=True))

    assert offered["executions.Execution"] == [
        "cancel_selected",
        "rerun_failed_selected",
        "rerun_selected",
    ]
    assert offered["executions.QueueState"] == ["pause", "resume"]
    assert offered["results.SuiteHook"] == ["disable", "enable", "rotate"]
    assert offered["results.CaseStats"] == ["quarantine", "release"]
    assert offered["executions.RunSchedule"] == ["run_now"]


def test_a_view_only_operator_cannot_rotate_a_hook_and_read_its_secret(project):
    hook = hook_rotate(TestSuiteFactory(project=project))
    client = Client()
    client.force_login(_viewer_of_everything())

    client.post(
        "/admin/results/suitehook/",
        {"action": "rotate", "_selected_action": [hook.pk], "index": 0},
    )

    assert SuiteHook.objects.get(pk=hook.pk).secret == hook.secret
