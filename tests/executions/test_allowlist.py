"""The per-project allow-list: what HTTP, browser and network-check steps may reach."""

import socket

import pytest

from executions.models import ExecutionStatus
from runners.allowlist import (
    HostNotAllowed,
    host_allowed,
    resolve_allowed,
    url_block_reason,
)
from tests.executions.local_site import LocalSite, needs_browser, run_case
from tests.executions.outside import OutsideListener, localhost_alias
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


# --- names are judged by the address they resolve to ------------------------------------------


@pytest.fixture
def outside():
    """A listener on a non-loopback address of this machine that no project allows."""
    with OutsideListener() as listener:
        yield listener


@pytest.fixture
def alias(outside):
    """A name under .localhost that resolves to the outside listener."""
    with localhost_alias(outside.address) as name:
        yield name


def test_a_localhost_name_that_resolves_to_loopback_is_allowed():
    assert resolve_allowed("localhost", 80, []) == ["127.0.0.1"]


def test_a_localhost_name_that_resolves_elsewhere_is_refused_with_its_address(outside, alias):
    with pytest.raises(HostNotAllowed) as refused:
        resolve_allowed(alias, outside.port, [])

    assert f"resolves to {outside.address}" in str(refused.value)


def test_an_address_pattern_admits_a_name_that_resolves_to_it(outside, alias):
    assert resolve_allowed(alias, outside.port, [outside.address]) == [outside.address]


@pytest.mark.django_db
def test_an_http_step_to_a_localhost_name_pointing_outside_reaches_nothing(project, outside, alias):
    url = f"http://{alias}:{outside.port}/steal"
    case = TestCaseFactory(project=project, steps=[http_step({"url": url})])
    execution, (step,) = run_case(case)

    assert outside.accepted == []
    assert execution.status == S.ERROR
    assert step["error"]["type"] == "HostNotAllowed"
    assert f"resolves to {outside.address}" in step["error"]["message"]


@pytest.mark.django_db
def test_an_http_redirect_to_a_localhost_name_pointing_outside_reaches_nothing(
    project, outside, alias
):
    with LocalSite() as site:
        url = site.url(f"/redirect?to=http://{alias}:{outside.port}/steal")
        case = TestCaseFactory(
            project=project, steps=[http_step({"url": url, "follow_redirects": True})]
        )
        _, (step,) = run_case(case)

    assert outside.accepted == []
    assert step["error"]["type"] == "HostNotAllowed"
    assert alias in step["error"]["message"]


@pytest.mark.django_db
def test_a_port_check_on_a_localhost_name_pointing_outside_reaches_nothing(project, outside, alias):
    args = {"host": alias, "port": outside.port}
    case = TestCaseFactory(
        project=project,
        steps=[{"action": "python", "params": {"check": "tcp_port_open", "args": args}}],
    )
    _, (step,) = run_case(case)

    assert outside.accepted == []
    assert step["error"]["type"] == "HostNotAllowed"


@pytest.mark.django_db
def test_an_http_step_connects_to_the_address_it_checked(project, outside, monkeypatch):
    """DNS rebinding: a name that answers loopback to the check and an outside address to any
    later lookup must still be connected to at the checked address. The resolver is the one
    thing faked here (it is outside the house); the server and the request are real."""
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1"])

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.localhost":
            return real(next(answers, outside.address), port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with LocalSite() as site:
        url = f"http://rebind.localhost:{site.port}/json"
        case = TestCaseFactory(project=project, steps=[http_step({"url": url, "timeout": 5})])
        _, (step,) = run_case(case)

    assert step["status"] == "passed", step["error"]
    assert site.seen == ["/json"]
    assert outside.accepted == []
