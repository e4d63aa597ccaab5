"""Who may do what on every catalog endpoint.

Personas (tests/conftest.py): owner = maintainer of `project`, member = tester, viewer, stranger =
maintainer of another project only, anonymous. Members read; only maintainers write the catalog
(testers run it); strangers get 404 for anything of `project`, including creating in it;
anonymous clients get 401.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog import access
from catalog.models import Membership, Project, Role, TestCase, TestSuite
from core.errors import NotFound, PermissionDenied
from tests.factories import SuiteItemFactory, TestCaseFactory, TestSuiteFactory, UserFactory

PERSONAS = ["owner", "member", "viewer", "stranger", "anonymous"]


@dataclass(frozen=True)
class World:
    project: Project
    case: TestCase
    suite: TestSuite
    owner: object
    viewer: object


@pytest.fixture
def world(project, owner, member, viewer, stranger) -> World:
    case = TestCaseFactory(project=project, key="existing")
    suite = TestSuiteFactory(project=project, name="existing")
    SuiteItemFactory(suite=suite, case=case)
    return World(project, case, suite, owner, viewer)


@pytest.fixture
def client_as(request, api_for, world):
    """client_as("viewer") -> an API client for that persona (None user: anonymous)."""

    def make(persona: str):
        user = None if persona == "anonymous" else request.getfixturevalue(persona)
        return api_for(user)

    return make


@dataclass(frozen=True)
class Call:
    method: str
    url: Callable[[World], str]
    body: Callable[[World], dict] = lambda w: {}


def _codes(owner, member, viewer, stranger, anonymous) -> dict[str, int]:
    return dict(zip(PERSONAS, (owner, member, viewer, stranger, anonymous), strict=True))


READ = _codes(200, 200, 200, 404, 401)
WRITE = _codes(200, 403, 403, 404, 401)
CREATE = _codes(201, 403, 403, 404, 401)
DELETE = _codes(204, 403, 403, 404, 401)

ENDPOINTS = {
    # Projects
    "project detail": (Call("get", lambda w: f"/api/v1/projects/{w.project.pk}/"), READ),
    "project update": (
        Call("patch", lambda w: f"/api/v1/projects/{w.project.pk}/", lambda w: {"name": "N"}),
        WRITE,
    ),
    "project delete": (Call("delete", lambda w: f"/api/v1/projects/{w.project.pk}/"), DELETE),
    "member list": (Call("get", lambda w: f"/api/v1/projects/{w.project.pk}/members/"), READ),
    "member add": (
        Call(
            "post",
            lambda w: f"/api/v1/projects/{w.project.pk}/members/",
            lambda w: {"user": UserFactory().username, "role": Role.VIEWER},
        ),
        CREATE,
    ),
    "member remove": (
        Call("delete", lambda w: f"/api/v1/projects/{w.project.pk}/members/{w.viewer.pk}/"),
        DELETE,
    ),
    # Test cases
    "case detail": (Call("get", lambda w: f"/api/v1/test-cases/{w.case.pk}/"), READ),
    "case create": (
        Call(
            "post",
            lambda w: "/api/v1/test-cases/",
            lambda w: {"project": w.project.pk, "key": "new", "name": "New"},
        ),
        CREATE,
    ),
    "case update": (
        Call("patch", lambda w: f"/api/v1/test-cases/{w.case.pk}/", lambda w: {"name": "N"}),
        WRITE,
    ),
    "case delete": (Call("delete", lambda w: f"/api/v1/test-cases/{w.case.pk}/"), DELETE),
    # Test suites
    "suite detail": (Call("get", lambda w: f"/api/v1/test-suites/{w.suite.pk}/"), READ),
    "suite create": (
        Call(
            "post",
            lambda w: "/api/v1/test-suites/",
            lambda w: {"project": w.project.pk, "name": "New", "items": [{"case": w.case.pk}]},
        ),
        CREATE,
    ),
    "suite update": (
        Call("patch", lambda w: f"/api/v1/test-suites/{w.suite.pk}/", lambda w: {"name": "N"}),
        WRITE,
    ),
    "suite delete": (Call("delete", lambda w: f"/api/v1/test-suites/{w.suite.pk}/"), DELETE),
}

MATRIX = [
    pytest.param(name, persona, codes[persona], id=f"{name}-{persona}")
    for name, (_, codes) in ENDPOINTS.items()
    for persona in PERSONAS
]


@pytest.mark.parametrize(("endpoint", "persona", "expected"), MATRIX)
def test_catalog_endpoint_answers_each_persona(client_as, world, endpoint, persona, expected):
    call, _ = ENDPOINTS[endpoint]
    client = client_as(persona)

    response = getattr(client, call.method)(call.url(world), call.body(world), format="json")

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()) >= {"code", "message", "detail"}


@pytest.mark.parametrize("persona", ["member", "viewer", "stranger", "anonymous"])
def test_a_refused_case_update_changes_nothing(client_as, world, persona):
    client_as(persona).patch(f"/api/v1/test-cases/{world.case.pk}/", {"name": "Hijacked"})

    world.case.refresh_from_db()
    assert world.case.name != "Hijacked"


@pytest.mark.parametrize("persona", ["member", "viewer", "stranger", "anonymous"])
def test_a_refused_suite_update_keeps_the_items(client_as, world, persona):
    client_as(persona).patch(f"/api/v1/test-suites/{world.suite.pk}/", {"items": []}, format="json")

    world.suite.refresh_from_db()
    assert world.suite.items.count() == 1


@pytest.mark.parametrize("persona", ["member", "viewer", "stranger", "anonymous"])
def test_a_refused_member_change_changes_no_role(client_as, world, persona):
    client_as(persona).post(
        f"/api/v1/projects/{world.project.pk}/members/",
        {"user": world.viewer.username, "role": Role.MAINTAINER},
    )

    membership = Membership.objects.get(project=world.project, user=world.viewer)
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER


@pytest.mark.parametrize(
    ("url", "persona", "visible"),
    [
        (url, persona, persona in ("owner", "member", "viewer"))
        for url in ("/api/v1/projects/", "/api/v1/test-cases/", "/api/v1/test-suites/")
        for persona in ("owner", "member", "viewer", "stranger")
    ],
)
def test_lists_hold_only_what_the_persona_may_see(client_as, world, url, persona, visible):
    response = client_as(persona).get(url)

    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    expected = {world.project.pk, world.case.pk, world.suite.pk}
    assert bool(ids & expected) is visible


@pytest.mark.parametrize(
    "url", ["/api/v1/projects/", "/api/v1/test-cases/", "/api/v1/test-suites/"]
)
def test_anonymous_lists_get_401_with_a_token_challenge(anon_api, url):
    response = anon_api.get(url)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "not_authenticated"


def test_a_ci_client_authenticates_with_a_token(world):
    token = Token.objects.create(user=world.viewer)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.get(f"/api/v1/test-cases/{world.case.pk}/")

    assert response.status_code == 200


def test_any_signed_in_user_may_create_a_project(stranger_api):
    response = stranger_api.post("/api/v1/projects/", {"name": "Mine", "slug": "mine"})

    assert response.status_code == 201, response.content


def test_anonymous_may_not_create_a_project(anon_api, db):
    response = anon_api.post("/api/v1/projects/", {"name": "Mine", "slug": "mine"})

    assert response.status_code == 401
    assert not Project.objects.filter(slug="mine").exists()


def test_creating_in_a_project_that_does_not_exist_looks_like_a_hidden_one(owner_api, db):
    response = owner_api.post("/api/v1/test-cases/", {"project": 999_999, "key": "k", "name": "n"})

    assert response.status_code == 404
    assert response.json()["message"] == "Project not found."


def test_stranger_create_gets_the_same_answer_as_a_missing_project(stranger_api, world):
    body = {"project": world.project.pk, "key": "k", "name": "n"}

    response = stranger_api.post("/api/v1/test-cases/", body)

    assert response.status_code == 404
    assert response.json()["message"] == "Project not found."
    assert not TestCase.objects.filter(key="k").exists()


def test_create_without_a_project_is_a_400_on_project(owner_api, db):
    response = owner_api.post("/api/v1/test-cases/", {"key": "k", "name": "n"})

    assert response.status_code == 400
    assert "project" in response.json()["detail"]


def test_superuser_may_write_any_project(api_for, world):
    admin = UserFactory(is_superuser=True, is_staff=True)

    response = api_for(admin).patch(f"/api/v1/test-cases/{world.case.pk}/", {"name": "By admin"})

    assert response.status_code == 200
    world.case.refresh_from_db()
    assert world.case.name == "By admin"


# --- The one check (catalog.access.require) ------------------------------------------------------


def test_require_answers_a_stranger_as_for_a_missing_object(world, stranger):
    with pytest.raises(NotFound) as hidden:
        access.require(stranger, world.project.pk, access.READ, hidden="Suite not found.")

    assert hidden.value.message == "Suite not found."


def test_require_tells_a_member_which_role_is_needed(world, member):
    access.require(member, world.project.pk, access.RUN)  # a tester runs

    with pytest.raises(PermissionDenied) as refused:
        access.require(member, world.project.pk, access.WRITE)

    assert refused.value.message == "This needs the maintainer role or above in the project."


def test_require_lets_a_superuser_do_anything(world):
    admin = UserFactory(is_superuser=True, is_staff=True)

    access.require(admin, world.project.pk, access.WRITE)  # raises nothing


def test_a_viewers_refusal_through_the_api_names_the_role(client_as, world):
    response = client_as("viewer").patch(f"/api/v1/test-cases/{world.case.pk}/", {"name": "N"})

    assert response.status_code == 403
    assert response.json()["message"] == "This needs the maintainer role or above in the project."
