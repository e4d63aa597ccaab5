"""The executions page and a project's analytics page in a real headless Chromium against a real
server (one uvicorn for the whole module): they fit 390 px and 1440 px, the executions filters
work from the form, the analytics charts are drawn and have room."""

import os

import pytest

from engine import worker as engine
from tests.factories import TestCaseFactory, execution_for
from tests.live import free_port, live_env
from tests.monitoring.test_browser import pytestmark  # noqa: F401  (browser, live, Chromium)
from tests.monitoring.test_csp_browser import chromium, sign_in, with_browser_password
from tests.monitoring.test_live import uvicorn, wait_for_server

SHOTS = "/work/shots/i15"
FAILING = [
    {"name": "set x", "action": "set", "params": {"values": {"x": 1}}},
    {"name": "x is 2", "action": "assert", "params": {"variable": "x", "equals": 2}},
]
WIDTHS = [(390, 844), (1440, 900)]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    """One server for the module: each test's data is in the database it reads."""
    folder = tmp_path_factory.mktemp("server")
    with django_db_blocker.unblock():
        env = live_env(IB_MEDIA_ROOT=str(folder / "media"), IB_ALERT_EVALUATE_SECONDS="0")
    port = free_port()
    with uvicorn(env, port, folder / "uvicorn.log") as proc:
        wait_for_server(port, proc)
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def history(project, owner):
    """Runs through the real engine: passes and failures of two cases on two branches."""
    with_browser_password(owner)
    ok = TestCaseFactory(project=project, key="login-works")
    bad = TestCaseFactory(project=project, key="checkout-discount-is-applied", steps=FAILING)
    for i in range(3):
        execution_for(ok, branch="main", environment="staging")
        execution_for(bad, branch="feature/very-long-branch-name-for-a-phone", revision=f"r{i}")
    while engine.run_next(worker="browser-test:1"):
        pass
    return project


def _shot(page, name):
    if os.path.isdir(SHOTS):  # the development machine's; elsewhere the shots are extras
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


@pytest.mark.parametrize("width,height", WIDTHS)
def test_both_pages_fit_the_screen(server, owner, history, width, height):
    widths = {}
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(30_000)
        sign_in(page, server, owner.username)
        for name, path in (
            ("project", f"/projects/{history.pk}/"),
            ("overview", "/"),
            ("executions", "/executions/"),
            ("analytics", f"/projects/{history.pk}/analytics/"),
        ):
            page.goto(server + path)
            page.wait_for_load_state("networkidle")
            _shot(page, f"{name}-{width}")
            widths[name] = page.evaluate("document.documentElement.scrollWidth")
        chart = page.eval_on_selector(
            "#chart-results svg",
            "s => [s.getBoundingClientRect().width, s.getBoundingClientRect().height]",
        )
        bars = page.eval_on_selector_all("#chart-results rect", "rs => rs.length")
    assert widths == {"project": width, "overview": width, "executions": width, "analytics": width}
    assert chart[0] > 100 and chart[1] > 60
    assert bars >= 2  # today's passes and failures, stacked


def test_filtering_the_executions_from_the_form(server, owner, history):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(30_000)
        sign_in(page, server, owner.username)
        page.click(".topbar nav a[href='/executions/']")
        page.wait_for_url(f"{server}/executions/")
        everything = page.eval_on_selector_all("tr[data-execution-row]", "rows => rows.length")
        page.click(".filters summary")
        page.select_option("#id_status", "failed")
        page.fill("#id_branch", "feature/very-long-branch-name-for-a-phone")
        page.click("#execution-filters button[type=submit]")
        page.wait_for_url("**/executions/?*status=failed*")
        statuses = page.eval_on_selector_all(
            "tr[data-execution-row] [data-role=status] .badge",
            "bs => bs.map(b => b.dataset.status)",
        )
        heading = page.inner_text("[data-role=match-count]")
        first_link = page.get_attribute("tr[data-execution-row] a", "href")
        page.click("tr[data-execution-row] a")
        page.wait_for_url(f"{server}{first_link}")
        _shot(page, "execution-from-list-1440")
    assert everything == 6
    assert statuses == ["failed", "failed", "failed"]
    assert heading == "3 runs match"


def test_the_admin_execution_list_fits_1440_px_and_shows_seconds(server, owner, history):
    """Issue 15, "also found": the admin's execution list ran off the right edge at 1440 px and
    its times had no seconds."""
    owner.is_staff = owner.is_superuser = True
    owner.save(update_fields=["is_staff", "is_superuser"])
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(30_000)
        sign_in(page, server, owner.username)
        page.goto(f"{server}/admin/executions/execution/")
        _shot(page, "admin-executions-1440")
        right = page.evaluate(
            "Math.max(...[...document.querySelectorAll('#result_list th, #result_list td')]"
            ".map(c => c.getBoundingClientRect().right))"
        )
        overflow = page.evaluate(
            "(() => { const r = document.querySelector('.results'); "
            "return r.scrollWidth - r.clientWidth; })()"
        )
        created = page.inner_text("#result_list tbody tr td.field-created")
    assert right <= 1440 and overflow <= 0
    assert len(created) == len("2026-12-08 02:36:33") and created.count(":") == 2


def test_on_a_phone_a_steps_detail_is_as_wide_as_the_panel(server, owner, history):
    """Issue 15, finding 7 (text one word per line): the steps table's Detail column was a few
    words wide at 390 px; on a phone the detail goes under its step at full width."""
    failed = history.executions.filter(status="failed").latest("id")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.set_default_timeout(30_000)
        sign_in(page, server, owner.username)
        page.goto(f"{server}/executions/{failed.pk}/")
        page.wait_for_load_state("networkidle")
        _shot(page, "execution-failed-390")
        detail = page.eval_on_selector(
            "#steps tr[data-order='2'] td[data-role=detail]",
            "td => td.getBoundingClientRect().width",
        )
        width = page.evaluate("document.documentElement.scrollWidth")
    assert detail > 250 and width == 390
