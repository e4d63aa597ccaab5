"""The CI hook (signature, token, user token) and the suite badge."""

import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from executions.models import Execution, ExecutionStatus, Trigger
from results.hooks import signature_of
from results.models import SuiteHook
from results.services import hook_rotate, hook_set_enabled
from tests.factories import TestCaseFactory

pytestmark = pytest.mark.django_db
S = ExecutionStatus


@pytest.fixture
def suite(project, make_suite):
    return make_suite(TestCaseFactory(project=project), TestCaseFactory(project=project))


@pytest.fixture
def hook(suite):
    return hook_rotate(suite)


def run_url(suite) -> str:
    return f"/api/v1/hooks/suites/{suite.pk}/run/"


def post_signed(suite, payload: dict, secret: str, **headers):
    raw = json.dumps(payload).encode()
    return APIClient().post(
        run_url(suite),
        data=raw,
        content_type="application/json",
        HTTP_X_INTELLIBROWSE_SIGNATURE=signature_of(secret, raw),
        **headers,
    )


# --- triggering ---------------------------------------------------------------------------------


def test_a_signed_call_starts_a_ci_run_of_the_suite(suite, hook):
    response = post_signed(suite, {"revision": "abc123", "branch": "main"}, hook.secret)

    body = response.json()
    assert response.status_code == 201
    execution = Execution.objects.get(pk=body["execution"])
    assert (execution.test_suite, execution.trigger) == (suite, Trigger.CI)
    assert (execution.revision, execution.branch) == ("abc123", "main")
    assert execution.children.count() == 2
    assert body["links"]["self"].endswith(f"/api/v1/executions/{execution.pk}/")
    assert body["links"]["dashboard"].endswith(f"/executions/{execution.pk}/")
    assert response["Location"] == body["links"]["self"]
    hook.refresh_from_db()
    assert hook.last_triggered_at is not None


def test_a_signature_of_another_body_is_refused(suite, hook):
    raw = json.dumps({"revision": "abc"}).encode()

    response = APIClient().post(
        run_url(suite),
        data=json.dumps({"revision": "evil"}),
        content_type="application/json",
        HTTP_X_INTELLIBROWSE_SIGNATURE=signature_of(hook.secret, raw),
    )

    assert response.status_code == 403
    assert response.json()["code"] == "bad_signature"
    assert not Execution.objects.exists()


def test_a_signature_with_the_wrong_secret_is_refused(suite, hook):
    response = post_signed(suite, {}, "not-the-secret")

    assert response.status_code == 403


def test_a_rotated_secret_stops_the_old_one(suite, hook):
    old = hook.secret
    hook_rotate(suite)

    assert post_signed(suite, {}, old).status_code == 403


def test_the_token_header_works_for_tools_that_cannot_sign(suite, hook):
    response = APIClient().post(
        run_url(suite), {"revision": "r1"}, format="json", HTTP_X_INTELLIBROWSE_TOKEN=hook.secret
    )

    assert response.status_code == 201


def test_a_wrong_token_is_refused(suite, hook):
    response = APIClient().post(
        run_url(suite), {}, format="json", HTTP_X_INTELLIBROWSE_TOKEN="guess"
    )

    assert response.status_code == 403


def test_no_credentials_is_a_401(suite, hook):
    response = APIClient().post(run_url(suite), {}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "hook_unauthenticated"


def test_a_suite_without_a_hook_refuses_any_signature(suite):
    assert post_signed(suite, {}, "anything").status_code == 403


def test_a_disabled_hook_refuses_its_own_secret(suite, hook):
    hook_set_enabled(suite, enabled=False)

    assert post_signed(suite, {}, hook.secret).status_code == 403


def answer(response) -> tuple[int, dict]:
    return response.status_code, response.json()


MISSING = 999999  # no suite has this id


def test_without_credentials_an_unknown_suite_answers_like_a_known_one(suite, hook):
    known = APIClient().post(run_url(suite), {}, format="json")
    unknown = APIClient().post(f"/api/v1/hooks/suites/{MISSING}/run/", {}, format="json")

    assert answer(unknown) == answer(known)
    assert known.status_code == 401


def test_with_a_wrong_signature_an_unknown_suite_answers_like_a_known_one(suite, hook):
    raw = b"{}"
    headers = {"HTTP_X_INTELLIBROWSE_SIGNATURE": signature_of("a guess", raw)}
    known = APIClient().post(run_url(suite), raw, content_type="application/json", **headers)
    unknown = APIClient().post(
        f"/api/v1/hooks/suites/{MISSING}/run/", raw, content_type="application/json", **headers
    )

    assert answer(unknown) == answer(known)
    assert known.status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/api/v1/hooks/suites/{}/run/"), ("get", "/api/v1/hooks/suites/{}/")],
)
def test_a_stranger_gets_one_answer_for_a_foreign_and_an_unknown_suite(
    suite, stranger_api, method, path
):
    call = getattr(stranger_api, method)
    foreign = call(path.format(suite.pk), {}, format="json")
    unknown = call(path.format(MISSING), {}, format="json")

    assert answer(foreign) == answer(unknown)
    assert foreign.status_code == 404


def test_a_testers_api_token_starts_a_run(suite, member):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=member).key}")

    response = client.post(run_url(suite), {"branch": "main"}, format="json")

    assert response.status_code == 201
    assert Execution.objects.get(pk=response.json()["execution"]).triggered_by == member


def test_a_viewer_cannot_start_a_run_and_a_stranger_cannot_see_the_suite(
    suite, viewer_api, stranger_api
):
    assert viewer_api.post(run_url(suite), {}, format="json").status_code == 403
    assert stranger_api.post(run_url(suite), {}, format="json").status_code == 404


def test_bad_input_is_a_400_not_a_500(suite, hook):
    response = post_signed(suite, {"priority": "urgent!!"}, hook.secret)

    assert response.status_code == 400


def test_a_suite_with_nothing_to_run_is_a_400(project, make_suite):
    empty = make_suite()
    hook = hook_rotate(empty)

    response = post_signed(empty, {}, hook.secret)

    assert response.status_code == 400
    assert response.json()["code"] == "suite_empty"


# --- managing the hook --------------------------------------------------------------------------


def test_a_maintainer_rotates_and_sees_the_secret_once(suite, owner_api, viewer_api):
    rotated = owner_api.post(f"/api/v1/hooks/suites/{suite.pk}/").json()
    seen = viewer_api.get(f"/api/v1/hooks/suites/{suite.pk}/").json()

    assert rotated["secret"] == SuiteHook.objects.get().secret
    assert "secret" not in seen
    assert seen["configured"] and seen["enabled"]
    assert "key=" in seen["badge_url"]


def test_rotating_needs_a_maintainer(suite, member_api, stranger_api, anon_api):
    url = f"/api/v1/hooks/suites/{suite.pk}/"

    assert member_api.post(url).status_code == 403
    assert stranger_api.post(url).status_code == 404
    assert anon_api.post(url).status_code == 401


# --- the badge ----------------------------------------------------------------------------------


def badge(client, suite, key=""):
    return client.get(f"/api/v1/suites/{suite.pk}/badge.svg" + (f"?key={key}" if key else ""))


def test_the_badge_shows_the_latest_finished_run(suite, hook):
    from engine import worker as engine
    from tests.factories import execution_for

    execution_for(suite=suite)
    while engine.run_next(worker="w") is not None:
        pass

    response = badge(APIClient(), suite, hook.badge_key)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Cache-Control"] == "no-cache, max-age=0"
    svg = response.content.decode()
    assert svg.startswith("<svg") and ">passed</text>" in svg


def test_a_suite_without_finished_runs_has_a_grey_badge(suite, hook):
    svg = badge(APIClient(), suite, hook.badge_key).content.decode()

    assert "no runs" in svg and "#8c959f" in svg


def test_the_badge_needs_its_key_or_a_member(suite, hook, viewer_api, stranger_api, anon_api):
    assert badge(viewer_api, suite).status_code == 200
    assert badge(stranger_api, suite).status_code == 404
    assert badge(anon_api, suite).status_code == 401
    assert badge(anon_api, suite, "wrong-key").status_code == 404


def test_an_anonymous_badge_request_answers_alike_for_known_and_unknown_suites(suite, hook):
    known = APIClient().get(f"/api/v1/suites/{suite.pk}/badge.svg")
    unknown = APIClient().get(f"/api/v1/suites/{MISSING}/badge.svg")

    assert answer(unknown) == answer(known)
    assert known.status_code == 401


def test_a_wrong_badge_key_answers_alike_for_known_and_unknown_suites(suite, hook):
    known = APIClient().get(f"/api/v1/suites/{suite.pk}/badge.svg?key=guess")
    unknown = APIClient().get(f"/api/v1/suites/{MISSING}/badge.svg?key=guess")

    assert answer(unknown) == answer(known)
    assert known.status_code == 404


def test_a_stranger_gets_one_badge_answer_for_a_foreign_and_an_unknown_suite(suite, stranger_api):
    foreign = stranger_api.get(f"/api/v1/suites/{suite.pk}/badge.svg")
    unknown = stranger_api.get(f"/api/v1/suites/{MISSING}/badge.svg")

    assert answer(foreign) == answer(unknown)
    assert foreign.status_code == 404


def test_the_badge_escapes_the_suite_name(project, make_suite):
    suite = make_suite(TestCaseFactory(project=project), name='<script>"x"</script>')
    hook = hook_rotate(suite)

    svg = badge(APIClient(), suite, hook.badge_key).content.decode()

    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_the_badge_is_served_sandboxed(suite, hook):
    response = badge(APIClient(), suite, hook.badge_key)

    # An SVG is a document that may run script; the suite name in it is a user's text.
    assert response["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert response["X-Content-Type-Options"] == "nosniff"
