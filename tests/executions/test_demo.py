"""The demo: target pages served by the app, `load_demo` (idempotent), and every demo case run
for real against the app served on loopback by pytest-django's live_server."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from catalog.models import (
    CaseType,
    Membership,
    Project,
    Role,
    RunnerProfile,
    SuiteItem,
    TestCase,
    TestSuite,
)
from engine import worker as engine
from executions.models import ExecutionStatus
from tests.executions.local_site import needs_browser, run_case, steps_of
from tests.factories import execution_for

S = ExecutionStatus


def snapshot() -> dict:
    """Every row the demo owns, with every column (updated_at included)."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Project, TestCase, TestSuite, SuiteItem, RunnerProfile, Membership)
    }


@pytest.fixture
def demo(db, monkeypatch):
    monkeypatch.setenv("IB_PUBLIC_URL", "http://127.0.0.1:8000")
    call_command("load_demo", stdout=None)
    return Project.objects.get(slug="demo")


# --- the target pages -----------------------------------------------------------------------


def test_the_form_page_and_its_welcome_page(client):
    form = client.get("/demo/")
    welcome = client.get("/demo/welcome/", {"name": "Ada", "color": "blue"})

    assert form.status_code == 200
    assert b'id="name"' in form.content
    assert b"<title>Welcome, Ada</title>" in welcome.content
    assert b"You picked blue." in welcome.content


def test_the_items_api(client):
    listed = client.get("/demo/api/items").json()
    created = client.post("/demo/api/items", {"name": "fig"}, content_type="application/json")

    assert listed["count"] == 3
    assert [i["name"] for i in listed["items"]] == ["apple", "bread", "cheese"]
    assert (created.status_code, created.json()["name"]) == (201, "fig")
    assert (
        client.post("/demo/api/items", "nope", content_type="application/json").status_code == 400
    )
    assert client.get("/demo/api/items/2").json()["name"] == "bread"
    assert client.get("/demo/api/items/9").status_code == 404


def test_the_slow_endpoint_is_capped(client):
    assert client.get("/demo/api/slow", {"ms": "0"}).json() == {"status": "slow", "delay_ms": 0}
    assert client.get("/demo/api/health").json() == {"status": "ok"}


# --- load_demo ------------------------------------------------------------------------------


def test_load_demo_creates_a_case_of_every_kind(demo):
    cases = {c.key: c for c in TestCase.objects.filter(project=demo)}

    assert demo.allowed_hosts == ["127.0.0.1", "localhost"]
    assert {c.type for c in cases.values()} == {CaseType.GENERIC, CaseType.BDD, CaseType.MANUAL}
    assert "Scenario Outline" in cases["DEMO-BDD-ITEMS"].feature
    assert "FAILS ON PURPOSE" in cases["DEMO-HTTP-FAILS"].description
    assert {s["action"] for c in cases.values() for s in c.steps if "action" in s} >= {
        "http", "browser", "command", "python", "defaults"
    }  # fmt: skip
    assert cases["DEMO-HTTP-ITEMS"].steps[0]["params"]["values"] == {
        "base_url": "http://127.0.0.1:8000"
    }
    assert RunnerProfile.objects.get(project=demo).name == "sample-pytest"
    suite = TestSuite.objects.get(project=demo)
    assert suite.items.count() == 6
    for case in cases.values():
        case.full_clean()


def test_load_demo_twice_changes_nothing(demo):
    before = snapshot()
    call_command("load_demo", stdout=None)
    assert snapshot() == before


def test_load_demo_repairs_what_was_changed_but_keeps_added_hosts(demo):
    demo.allowed_hosts = ["api.example.test"]
    demo.save()
    TestCase.objects.filter(key="DEMO-HTTP-ITEMS").update(name="renamed")

    call_command("load_demo", stdout=None)

    demo.refresh_from_db()
    assert demo.allowed_hosts == ["api.example.test", "127.0.0.1", "localhost"]
    assert TestCase.objects.get(key="DEMO-HTTP-ITEMS").name == "Items API answers and echoes"


def test_bootstrap_admin_creates_a_maintainer_of_the_demo_once(demo, monkeypatch, capsys, settings):
    settings.DEBUG = True  # the admin / admin default is for a laptop (refused with DEBUG off)
    monkeypatch.delenv("ADMIN_USERNAME", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    call_command("bootstrap_admin")
    call_command("bootstrap_admin")

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.check_password("admin")
    assert Membership.objects.get(project=demo, user=admin).role == Role.MAINTAINER
    out = capsys.readouterr().out
    assert "password admin" in out
    assert "exists; left unchanged" in out


def test_bootstrap_admin_takes_its_name_and_password_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("ADMIN_USERNAME", "root")
    monkeypatch.setenv("ADMIN_PASSWORD", "s3cret-pass")
    call_command("bootstrap_admin", stdout=None)

    assert get_user_model().objects.get(username="root").check_password("s3cret-pass")


# --- the demo cases, run for real against the app -------------------------------------------


@pytest.fixture
def live_demo(live_server, monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setenv("IB_PUBLIC_URL", live_server.url)
    call_command("load_demo", stdout=None)
    return Project.objects.get(slug="demo")


def demo_case(key: str) -> TestCase:
    return TestCase.objects.get(project__slug="demo", key=key)


@pytest.mark.parametrize(
    ("key", "outcome"),
    [
        ("DEMO-HTTP-ITEMS", S.PASSED),
        ("DEMO-HTTP-FAILS", S.FAILED),
        ("DEMO-BDD-ITEMS", S.PASSED),
        ("DEMO-CHECKS", S.PASSED),
        ("DEMO-MANUAL-CHECKOUT", S.AWAITING_INPUT),
    ],
)
def test_each_demo_case_ends_as_documented(live_demo, key, outcome):
    execution, steps = run_case(demo_case(key))
    assert execution.status == outcome, [s["error"] for s in steps if s["error"]]


def test_the_failing_demo_case_fails_for_the_documented_reasons(live_demo):
    _, steps = run_case(demo_case("DEMO-HTTP-FAILS"))

    message = steps[1]["error"]["message"]
    assert "JSON $.status is \"slow\", expected equals 'fast'" in message
    assert "more than 100 ms" in message


def test_the_pytest_demo_reports_three_tests_one_failing(live_demo):
    execution, (step,) = run_case(demo_case("DEMO-PYTEST-SAMPLE"))

    assert execution.status == S.FAILED
    assert [c["status"] for c in step["children"]] == ["passed", "passed", "failed"]


@pytest.mark.browser
@needs_browser
def test_the_browser_demo_passes(live_demo):
    execution, steps = run_case(demo_case("DEMO-BROWSER-FORM"))

    assert execution.status == S.PASSED, [s["error"] for s in steps if s["error"]]
    assert steps[-1]["attachments"][0]["name"] == "welcome.png"


@pytest.mark.browser
@needs_browser
def test_the_demo_suite_runs_every_case(live_demo):
    suite = TestSuite.objects.get(project=live_demo)
    parent = execution_for(suite=suite)
    while engine.run_next(worker="test-worker") is not None:
        pass

    parent.refresh_from_db()
    assert parent.status == S.FAILED  # two cases fail on purpose
    assert parent.summary["counts"] == {"passed": 4, "failed": 2}
    assert all(steps_of(child) for child in parent.children.all())


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", "8700", "http://127.0.0.1:8700"),
        ("0.0.0.0", "9000", "http://127.0.0.1:9000"),  # listening everywhere: reached on loopback
    ],
)
def test_without_a_public_url_the_demo_calls_the_port_the_app_serves(
    db, monkeypatch, host, port, expected
):
    """`PORT=8700 make run`: serve listens on 8700, so the demo's cases must call 8700 (they called
    8000 and every case failed)."""
    monkeypatch.delenv("IB_PUBLIC_URL", raising=False)
    monkeypatch.setenv("HOST", host)
    monkeypatch.setenv("PORT", port)

    call_command("load_demo", stdout=None)

    case = TestCase.objects.get(key="DEMO-HTTP-ITEMS")
    assert case.steps[0]["params"]["values"] == {"base_url": expected}
