"""Security sweep: every API operation, both WebSocket routes and every dashboard page, each asked by
someone who has no business there: a stranger, an anonymous client, and for every write a viewer of
the project (catalog.access: members read, writes need a tester or a maintainer).

The API operations come from the OpenAPI schema and the dashboard pages and sockets from their URL
confs, so a new endpoint is swept without anyone adding it here; a path parameter the sweep cannot
fill, or an /api/ URL missing from the schema, fails loudly instead of going unchecked.

The victim's objects carry MARKER in their names: no answer to a stranger may contain it.
"""

import io
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import FieldError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from drf_spectacular.generators import SchemaGenerator

from catalog.models import Project
from dashboard.urls import urlpatterns as dashboard_urlpatterns
from executions.models import QueueState, RunSchedule
from executions.services import schedules
from executions.services.reported import reported_run_open
from live.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from live.routing import websocket_urlpatterns
from results.imports import junit_import
from results.services import hook_rotate
from tests.factories import SuiteItemFactory, TestCaseFactory, TestSuiteFactory, execution_for
from tests.monitoring.conftest import communicator, run_async, session_headers
from triage.models import FailureGroup, GroupHit, TriageRule
from triage.services import categories_ensure

MARKER = "victim-secret-5be1"
ROOT = Path(__file__).resolve().parent.parent
HTTP_METHODS = ("get", "put", "post", "patch", "delete")

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in SCHEMA["paths"].items()
    for method, operation in item.items()
    if method in HTTP_METHODS
]
OPERATION_IDS = [f"{method} {path}" for method, path, _ in OPERATIONS]

# What a stranger (a maintainer of another project) gets where the default is not 404 (for an
# object of the victim's) or 200 without the victim's rows (for a list).
STRANGER_EXCEPTIONS = {
    "POST /api/v1/projects/": {201},  # anyone signed in creates a project of their own
    "POST /api/v1/queue/pause/": {403},  # staff only: it stops every project
    "POST /api/v1/queue/resume/": {403},
    "POST /api/v1/auth/token/": {401},  # the victim's username, a guessed password
}
# /api/ URLs that are not API operations: the schema and its docs (public), the browsable API's
# root and its sign-in forms.
NOT_IN_SCHEMA = {
    "/api/v1/",
    "/api/v1/schema/",
    "/api/v1/docs/",
    "/api/v1/auth/login/",
    "/api/v1/auth/logout/",
}

JUNIT = (
    f'<testsuites><testsuite name="{MARKER}"><testcase classname="victim" name="{MARKER}"/>'
    "</testsuite></testsuites>"
).encode()

FAILING_JUNIT = (
    f'<testsuite name="{MARKER}"><testcase classname="victim" name="fails">'
    f'<failure type="AssertionError" message="{MARKER}">boom</failure></testcase></testsuite>'
).encode()


@pytest.fixture
def victim(project, owner):
    """The victim's project with one of everything the API serves."""
    project.name = MARKER
    project.save()
    case = TestCaseFactory(project=project, key="victim-case", name=MARKER)
    suite = TestSuiteFactory(project=project, name=MARKER)
    SuiteItemFactory(suite=suite, case=case)
    schedule = schedules.schedule_save(
        RunSchedule(project=project, name=MARKER, test_case=case, cron="0 2 * * *")
    )
    batch, _ = junit_import(project=project, stream=io.BytesIO(JUNIT), actor=owner)
    junit_import(project=project, stream=io.BytesIO(FAILING_JUNIT), actor=owner)
    category = categories_ensure(project.pk)
    rule = TriageRule.objects.create(
        project=project, category=category, field="message", pattern=MARKER
    )
    hook_rotate(suite, actor=owner)
    QueueState.get()  # the switch's row exists, as in any running system (reads create it)
    return {
        "project": project,
        "owner": owner,
        "case": case,
        "suite": suite,
        "execution": execution_for(case, branch=MARKER),
        "schedule": schedule,
        "batch": batch,
        "group": FailureGroup.objects.get(project=project),
        "hit": GroupHit.objects.get(project=project),
        "category": category,
        "rule": rule,
        "reported": reported_run_open(
            project=project, name=f"{MARKER} reported", actor=owner, lease_seconds=600
        ),
    }


# --- filling in requests --------------------------------------------------------------------

# The object a path's `{id}` names, by the path's first segment after /api/v1/.
ID_OF = {
    "projects": "project",
    "test-cases": "case",
    "test-suites": "suite",
    "executions": "execution",
    "schedules": "schedule",
    "imports": "batch",
    "reported-runs": "reported",
    "analytics": "case",  # analytics/cases/{id}/
    "failure-groups": "group",
    "failure-results": "hit",
    "failure-categories": "category",
    "triage-rules": "rule",
}


def _path_value(path: str, name: str, victim: dict) -> int:
    resource = path.removeprefix("/api/v1/").split("/")[0]
    values = {
        "id": victim[ID_OF[resource]].pk if resource in ID_OF else None,
        "suite_id": victim["suite"].pk,
        "user_id": victim["owner"].pk,
        "order": 1,
    }
    if values.get(name) is None:
        pytest.fail(f"{path}: the sweep does not know which object {{{name}}} names; add it here")
    return values[name]


def _url(path: str, operation: dict, victim: dict) -> str:
    url = re.sub(r"\{(\w+)\}", lambda m: str(_path_value(path, m.group(1), victim)), path)
    query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    if "head" in query:  # /api/v1/compare/: the victim's import against its previous run
        return f"{url}?head=import:{victim['batch'].pk}"
    return f"{url}?project={victim['project'].pk}" if "project" in query else url


def _body(operation: dict, victim: dict) -> tuple[bytes, str] | None:
    """A body pointing at the victim's objects, in the first media type the operation takes."""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = {
            "project": victim["project"].pk,
            "test_case": victim["case"].pk,
            "test_suite": victim["suite"].pk,
            "user": victim["owner"].pk,
            "items": [{"case": victim["case"].pk}],
            "username": victim["owner"].username,
            "password": "a-guess",
            "role": "maintainer",
            "name": "taken over",
            "key": "taken-over",
            "slug": "taken-over",
            "cron": "0 3 * * *",
            "status": "passed",
            "quarantined": True,
            "reason": "because",
        }
        return json.dumps(body).encode(), "application/json"
    if "application/xml" in content:
        return JUNIT, "application/xml"
    return None


def _request(api, method: str, path: str, operation: dict, victim: dict):
    body = _body(operation, victim)
    data, content_type = body if body else (b"", "application/json")
    return api.generic(method, _url(path, operation, victim), data, content_type=content_type)


# Where a victim's data lives, from each model to its project.
_TO_PROJECT = (
    "project",
    "execution__project",
    "suite__project",
    "case__project",
    "batch__project",
    "attempt__execution__project",
    "trace__execution__project",
)


def victim_state(project) -> dict:
    """Every row that belongs to `project` (and every row of global tables such as the queue
    switch), as plain values: equal before and after means nothing of it changed."""
    state = {}
    models = [*apps.get_app_config("executions").get_models()]
    models += apps.get_app_config("results").get_models()
    models += apps.get_app_config("triage").get_models()
    for model in models:
        rows = model.objects.all()
        if model is Project:
            rows = rows.filter(pk=project.pk)
        else:
            for link in _TO_PROJECT:
                try:
                    rows = model.objects.filter(**{link: project})
                    break
                except FieldError:
                    continue
        state[model.__name__] = list(rows.order_by("pk").values())
    return state


# --- the API --------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=OPERATION_IDS)
def test_anonymous_gets_401(anon_api, victim, method, path, operation):
    before = victim_state(victim["project"])

    response = _request(anon_api, method, path, operation, victim)

    # The token endpoint is open to all, and answers a wrong password with 401 too.
    assert response.status_code == 401, response.content[:300]
    assert MARKER.encode() not in response.content
    assert victim_state(victim["project"]) == before


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=OPERATION_IDS)
def test_a_stranger_can_neither_read_nor_change_another_project(
    stranger_api, victim, method, path, operation
):
    before = victim_state(victim["project"])

    response = _request(stranger_api, method, path, operation, victim)

    if f"{method} {path}" in STRANGER_EXCEPTIONS:
        expected = STRANGER_EXCEPTIONS[f"{method} {path}"]
    elif "{" in path or method != "GET":
        expected = {404}
    else:
        expected = {200, 404}  # a list (without the victim's rows), or the project is hidden
    assert response.status_code in expected, response.content[:300]
    assert MARKER.encode() not in response.content
    assert victim_state(victim["project"]) == before


# What a viewer of the victim's project gets where the default for a write (403) is not the answer.
VIEWER_EXCEPTIONS = {
    "POST /api/v1/projects/": {201},  # a project of their own
    "POST /api/v1/auth/token/": {401},  # the victim's username, a guessed password
}
# Bodies that pass the shape checks, so that the role check is what answers: the sweep's one body
# names a case and a suite at once, which a run refuses (400) before it knows its project.
VIEWER_BODIES = {"POST /api/v1/executions/": lambda victim: {"test_case": victim["case"].pk}}
WRITE_OPERATIONS = [(m, p, o) for m, p, o in OPERATIONS if m != "GET"]


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    WRITE_OPERATIONS,
    ids=[f"{m} {p}" for m, p, _ in WRITE_OPERATIONS],
)
def test_a_viewer_can_change_nothing_through_the_api(
    api_for, viewer, victim, method, path, operation
):
    api = api_for(viewer)
    before = victim_state(victim["project"])

    body = VIEWER_BODIES.get(f"{method} {path}")
    if body is None:
        response = _request(api, method, path, operation, victim)
    else:
        url = _url(path, operation, victim)
        response = api.generic(method, url, json.dumps(body(victim)), "application/json")

    expected = VIEWER_EXCEPTIONS.get(f"{method} {path}", {403})
    assert response.status_code in expected, response.content[:300]
    if response.status_code == 403:
        assert response.json()["code"] == "permission_denied"
    assert victim_state(victim["project"]) == before


class _Missing:
    """Stands in for an object no row is: its id is past every real one."""

    pk = 10**12


DETAIL_OPERATIONS = [(m, p, o) for m, p, o in OPERATIONS if "{" in p]
DETAIL_IDS = [f"{m} {p}" for m, p, _ in DETAIL_OPERATIONS]


@pytest.mark.parametrize("persona", ["stranger", "anonymous"])
@pytest.mark.parametrize(("method", "path", "operation"), DETAIL_OPERATIONS, ids=DETAIL_IDS)
def test_another_projects_object_and_a_missing_one_get_the_same_answer(
    stranger_api, anon_api, victim, persona, method, path, operation
):
    # No existence oracle: whoever may not see an object learns nothing from its URL, not from
    # the status, not from the message.
    api = stranger_api if persona == "stranger" else anon_api
    ghost = {key: _Missing() for key in victim}
    body = _body(operation, victim)
    data, content_type = body if body else (b"", "application/json")

    real = api.generic(method, _url(path, operation, victim), data, content_type=content_type)
    missing = api.generic(method, _url(path, operation, ghost), data, content_type=content_type)

    assert (real.status_code, real.content) == (missing.status_code, missing.content)


# Paginated lists ({"count", "results", ...}; drf-spectacular names their schemas Paginated*) that
# filter by project.
LISTS = [
    (method, path, operation)
    for method, path, operation in OPERATIONS
    if method == "GET"
    and "#/components/schemas/Paginated" in json.dumps(operation["responses"])
    and any(p["name"] == "project" for p in operation.get("parameters", []))
]


@pytest.mark.parametrize(
    ("method", "path", "operation"), LISTS, ids=[f"{m} {p}" for m, p, _ in LISTS]
)
def test_a_list_filtered_to_another_project_is_empty(stranger_api, victim, method, path, operation):
    response = _request(stranger_api, method, path, operation, victim)

    assert response.status_code in (200, 404), response.content[:300]
    if response.status_code == 200:
        assert response.json()["results"] == []


def test_every_api_url_is_in_the_schema_or_known():
    def routes(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from routes(pattern.url_patterns, route)
            else:
                yield route

    found = set()
    for route in routes(get_resolver().url_patterns):
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)  # (?P<pk>...) -> {pk}
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)  # <id:pk> -> {pk}
        path = "/" + path.replace("^", "").replace("$", "").replace("{pk}", "{id}")
        if path.startswith("/api/") and "format" not in path:
            found.add(path)

    assert found - set(SCHEMA["paths"]) == NOT_IN_SCHEMA


# --- WebSockets -----------------------------------------------------------------------------


def _socket_paths(victim) -> list[str]:
    values = {"execution_id": victim["execution"].pk, "project_id": victim["project"].pk}
    paths = []
    for pattern in websocket_urlpatterns:
        route = str(pattern.pattern)
        names = re.findall(r"<(?:\w+:)?(\w+)>", route)
        if set(names) - set(values):
            pytest.fail(f"{route}: the sweep does not know which object {names} names")
        paths.append("/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), route))
    return paths


def _connect(path: str, headers) -> tuple[bool, int | None]:
    async def attempt():
        comm = communicator(path, headers)
        connected, code = await comm.connect()
        if connected:
            await comm.disconnect()
        return connected, code

    return run_async(attempt)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", range(len(websocket_urlpatterns)))
def test_anonymous_websocket_handshakes_are_refused(victim, route):
    path = _socket_paths(victim)[route]

    assert _connect(path, [(b"origin", b"http://testserver")]) == (False, CLOSE_UNAUTHENTICATED)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", range(len(websocket_urlpatterns)))
def test_a_strangers_websocket_handshakes_are_refused(victim, stranger, route):
    path = _socket_paths(victim)[route]

    assert _connect(path, session_headers(stranger)) == (False, CLOSE_FORBIDDEN)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", range(len(websocket_urlpatterns)))
def test_cross_origin_websocket_handshakes_are_refused_even_for_members(victim, route):
    path = _socket_paths(victim)[route]
    foreign = session_headers(victim["owner"], origin="https://evil.example")

    connected, _ = _connect(path, foreign)

    assert not connected


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", range(len(websocket_urlpatterns)))
def test_members_websocket_handshakes_are_accepted(victim, route):
    path = _socket_paths(victim)[route]

    connected, _ = _connect(path, session_headers(victim["owner"]))

    assert connected  # so the refusals above are about who asks, not a broken route


# --- The dashboard ----------------------------------------------------------------------------


PAGES = [pattern.name for pattern in dashboard_urlpatterns]
OBJECT_PAGES = [p.name for p in dashboard_urlpatterns if "<" in str(p.pattern)]


def _dashboard_url(name: str, victim) -> str:
    values = {
        "project_id": victim["project"].pk,
        "execution_id": victim["execution"].pk,
        "case_id": victim["case"].pk,
        "group_id": victim["group"].pk,
    }
    pattern = next(p for p in dashboard_urlpatterns if p.name == name)
    names = re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern))
    if set(names) - set(values):
        pytest.fail(f"{pattern.pattern}: the sweep does not know which object {names} names")
    return reverse(f"dashboard:{name}", kwargs={n: values[n] for n in names})


@pytest.mark.parametrize("page", PAGES)
def test_every_dashboard_post_without_a_csrf_token_is_refused(victim, page):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(victim["owner"])
    before = victim_state(victim["project"])

    response = browser.post(_dashboard_url(page, victim), {"quarantined": "on", "reason": "x"})

    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert victim_state(victim["project"]) == before


def test_a_dashboard_post_with_its_csrf_token_goes_through(victim, admin_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    browser.get(reverse("dashboard:queue"))  # sets the CSRF cookie

    response = browser.post(
        reverse("dashboard:queue-pause"),
        {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value},
    )

    assert response.status_code == 302
    assert QueueState.objects.get().paused


@pytest.mark.parametrize("page", OBJECT_PAGES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_stranger_gets_404_for_another_projects_dashboard_pages(victim, stranger, page, method):
    url = _dashboard_url(page, victim)
    browser = Client()  # no CSRF check: what answers is the view's own access rule
    browser.force_login(stranger)
    before = victim_state(victim["project"])

    response = getattr(browser, method)(url, {"quarantined": "on", "reason": "x"})

    # 405: a page that only takes the other method, refused before it looks anything up.
    assert response.status_code in (404, 405)
    assert MARKER.encode() not in response.content
    assert victim_state(victim["project"]) == before


# A POST that each dashboard form could send, filled in so that no form check answers first.
DASHBOARD_POST = {
    "quarantined": "on",
    "reason": "x",
    "order": 1,
    "attempt": 1,
    "status": "passed",
    "only_failed": "on",
}


@pytest.mark.parametrize("page", PAGES)
def test_a_viewer_can_change_nothing_from_the_dashboard(victim, viewer, page):
    browser = Client()
    browser.force_login(viewer)
    before = victim_state(victim["project"])

    response = browser.post(_dashboard_url(page, victim), DASHBOARD_POST)

    # 403: a page that writes, refused by the role check; 405: a page that only reads.
    assert response.status_code in (403, 405)
    assert victim_state(victim["project"]) == before


@pytest.mark.parametrize("url", ["/accounts/login/", "/api/v1/auth/login/", "/admin/login/"])
def test_sign_in_forms_need_a_csrf_token(db, url):
    response = Client(enforce_csrf_checks=True).post(url, {"username": "a", "password": "b"})

    assert response.status_code == 403


def test_the_api_with_a_session_needs_a_csrf_token(owner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)

    response = browser.post(
        "/api/v1/projects/", {"name": "x", "slug": "x"}, content_type="application/json"
    )

    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]
    assert not Project.objects.filter(slug="x").exists()


# --- Production settings -------------------------------------------------------------------


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check_without_warnings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="intellibrowse.example.com",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_debug_there_is_no_default_secret_key():
    result = _manage("check", DEBUG="false", ALLOWED_HOSTS="intellibrowse.example.com")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_without_debug_there_is_no_default_admin_password(db, settings, monkeypatch):
    settings.DEBUG = False
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)

    with pytest.raises(CommandError, match="ADMIN_PASSWORD"):
        call_command("bootstrap_admin")

    assert not apps.get_model("auth", "User").objects.filter(username="admin").exists()
