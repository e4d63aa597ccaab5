"""The per-project allow-list: what HTTP, browser and network-check steps may reach."""

import pytest

from executions.models import ExecutionStatus
from executions.runners.allowlist import host_allowed, url_block_reason
from tests.executions.local_site import LocalSite, needs_browser, run_case
from tests.factories import TestCaseFactory

S = ExecutionStatus


@pytest.mark.parametrize(
    ("host", "port", "patterns", "allowed"),
    [
        ("api.example.com", 443, ["api.example.com"], True),
        ("API.Example.com.", 443, ["api.example.com"], True),
        ("api.example.com", 443, ["example.com"], False),
        ("eu.api.example.com", 443, ["*.example.com"], True),
        ("example.com", 443, ["*.example.com"], False),
        ("evil-example.com", 443, ["*.example.com"], False),
        ("10.0.0.5", 8000, ["10.0.0.5:8000"], True),
        ("10.0.0.5", 8001, ["10.0.0.5:8000"], False),
        ("fd00::1", 8000, ["[fd00::1]:8000"], True),
        ("fd00::1", 80, ["fd00::1"], True),
        ("127.0.0.1", 8000, [], True),
        ("127.10.0.1", 1, [], True),
        ("localhost", 5432, [], True),
        ("::1", 80, [], True),
        ("app.localhost", 80, [], True),
        ("0.0.0.0", 80, [], False),
        ("", 80, ["*.example.com"], False),
    ],
)
def test_host_patterns(host, port, patterns, allowed):
    assert host_allowed(host, port, patterns) is allowed


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://127.0.0.1/x", "javascript:alert(1)", "http://", "http://[::1"],
)
def test_only_http_urls_with_a_host_can_be_reached(url):
    assert url_block_reason(url, ["*"]) is not None


def test_default_ports_count_for_port_patterns():
    assert url_block_reason("https://10.0.0.5/x", ["10.0.0.5:443"]) is None
    assert url_block_reason("http://10.0.0.5/x", ["10.0.0.5:443"])[1] == "10.0.0.5"


# --- through real runs ----------------------------------------------------------------------


def http_step(params):
    return {"name": "request", "action": "http", "params": params}


@pytest.mark.django_db
def test_an_http_step_to_a_host_outside_the_list_is_an_error_with_the_fix(project):
    case = TestCaseFactory(
        project=project, steps=[http_step({"url": "https://api.example.test/x"})]
    )
    execution, (step,) = run_case(case)

    assert execution.status == S.ERROR
    assert step["status"] == "error"
    assert step["error"]["type"] == "HostNotAllowed"
    assert step["error"]["message"] == "api.example.test is not in the project's allowed hosts."
    assert step["error"]["suggestion"].startswith(
        "Add 'api.example.test' to the project's allowed hosts"
    )


@pytest.mark.django_db
def test_a_listed_host_is_let_through(project):
    """The listed name does not resolve here, so getting as far as connecting proves the
    allow-list let the request through."""
    project.allowed_hosts = ["*.example.test"]
    project.save()
    case = TestCaseFactory(
        project=project, steps=[http_step({"url": "http://api.example.test:9/x", "timeout": 5})]
    )
    _, (step,) = run_case(case)

    assert step["error"]["type"] in ("ConnectError", "Timeout")


@pytest.mark.django_db
def test_a_redirect_to_a_host_outside_the_list_is_blocked(project):
    with LocalSite() as site:
        url = site.url("/redirect?to=http://evil.example.test/steal")
        case = TestCaseFactory(
            project=project, steps=[http_step({"url": url, "follow_redirects": True})]
        )
        execution, (step,) = run_case(case)

    assert execution.status == S.ERROR
    assert step["error"]["type"] == "HostNotAllowed"
    assert "evil.example.test" in step["error"]["message"]


@pytest.mark.django_db
def test_a_browser_step_to_a_host_outside_the_list_is_an_error(project):
    case = TestCaseFactory(
        project=project,
        steps=[{"action": "browser", "params": {"do": "goto", "url": "https://www.example.test/"}}],
    )
    execution, (step,) = run_case(case)

    assert execution.status == S.ERROR
    assert step["error"]["type"] == "HostNotAllowed"


@pytest.mark.django_db
@pytest.mark.browser
@needs_browser
def test_the_browser_aborts_page_requests_to_hosts_outside_the_list(project, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with LocalSite() as site:
        case = TestCaseFactory(
            project=project,
            steps=[
                {"action": "browser", "params": {"do": "goto", "url": site.url("/page/outside")}}
            ],
        )
        execution, (step,) = run_case(case)

    assert step["status"] == "warning"
    assert step["actual"]["blocked_requests"] == ["http://blocked.example.test/pixel.png"]
    assert "blocked 1 request" in step["error"]["message"]
    assert execution.status == S.PASSED  # a warning does not fail the run
