"""The dashboard in a real headless Chromium: log in, start a run, watch its steps arrive without
reloading, cancel it. Real server (uvicorn) and worker (qcluster) processes, as in test_live."""

import os
import re

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from playwright.sync_api import sync_playwright
from rest_framework.authtoken.models import Token

from catalog.models import CaseType
from executions.models import Execution, ExecutionStatus
from tests.factories import TestCaseFactory, execution_for
from tests.live import free_port, live_env, qcluster
from tests.monitoring.test_live import uvicorn, wait_for_server, wait_for_worker

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("IB_REQUIRE_BROWSER"),
        reason=f"needs Chromium at {CHROMIUM} (set IB_REQUIRE_BROWSER to make this a failure)",
    ),
]


PASSWORD = "pw-for-the-browser-1"


@pytest.fixture
def browser_user(member):
    """The member, with a password hash the server process can check: the test settings hash
    with MD5 for speed, which a server with production settings does not accept."""
    hasher = PBKDF2PasswordHasher()
    member.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    member.save(update_fields=["password"])
    return member


@pytest.fixture
def slow_case(project):
    steps = [{"name": f"wait {i}", "action": "wait", "params": {"seconds": 0.4}} for i in range(40)]
    return TestCaseFactory(project=project, key="slow-waits", type=CaseType.GENERIC, steps=steps)


def test_start_watch_and_cancel_a_run_in_the_browser(
    settings, project, browser_user, slow_case, tmp_path
):
    env = live_env(
        REDIS_URL=settings.REDIS_URL,
        Q_BROKER=settings.Q_BROKER,
        IB_ALERT_EVALUATE_SECONDS="0",
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    username, case_id, project_id = browser_user.username, slow_case.pk, project.pk
    with (
        uvicorn(env, port, tmp_path / "uvicorn.log") as server,
        qcluster(env, tmp_path / "qcluster.log") as worker,
    ):
        wait_for_server(port, server)
        wait_for_worker(worker)
        try:
            same_document, final_status = _drive_the_dashboard(
                base, username, project_id, case_id, tmp_path
            )
        except BaseException:
            for name in ("uvicorn.log", "qcluster.log"):
                print(f"--- {name} ---\n{(tmp_path / name).read_text()[-5000:]}")
            raise
    assert same_document is True  # the steps came in without a reload
    assert final_status == "cancelled"
    execution = Execution.objects.get()
    assert execution.status == ExecutionStatus.CANCELLED
    assert execution.triggered_by == browser_user


def _drive_the_dashboard(base, username, project_id, case_id, tmp_path):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{base}/accounts/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_url(f"{base}/")

            page.click(f"a[href='/projects/{project_id}/']")
            page.click("text=Start a run")
            page.select_option("#id_target", f"case:{case_id}")
            page.click("#run-form button[type=submit]")
            page.wait_for_url(re.compile(r".*/executions/\d+/$"))

            # A marker on this document: a reload would lose it.
            page.evaluate("window.__sameDocument = true")
            page.wait_for_selector("[data-role=live-indicator].on")
            page.wait_for_selector("#steps tr[data-order='3']")
            same_document = page.evaluate("window.__sameDocument === true")

            page.click("[data-role=cancel]")
            page.wait_for_selector("#execution-status [data-status=cancelled]")
            final_status = page.get_attribute("#execution-status .badge", "data-status")
            page.screenshot(path=str(tmp_path / "cancelled.png"))
            return same_document, final_status
        finally:
            browser.close()


# What a page holding an API token runs: browsers set no headers on a WebSocket, so the token
# goes as the subprotocol pair ["token", key], and the browser insists the server answers it.
OPEN_WITH_TOKEN = """([url, key]) => new Promise((resolve, reject) => {
  const socket = new WebSocket(url, ["token", key]);
  socket.onmessage = (event) => {
    resolve({protocol: socket.protocol, type: JSON.parse(event.data).type});
    socket.close();
  };
  socket.onerror = () => reject(new Error("the socket failed"));
  socket.onclose = (event) => reject(new Error("closed with " + event.code));
})"""


def test_a_browser_connects_with_its_token_as_the_subprotocol(viewer, tmp_path):
    key = Token.objects.create(user=viewer).key
    execution = execution_for(TestCaseFactory(project=viewer.memberships.get().project))
    env = live_env(REDIS_URL="", Q_BROKER="orm", IB_ALERT_EVALUATE_SECONDS="0")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with uvicorn(env, port, tmp_path / "uvicorn.log") as server:
        wait_for_server(port, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_page()
                page.goto(f"{base}/health/live")  # any page of the server: no session
                url = f"ws://127.0.0.1:{port}/ws/executions/{execution.pk}/"
                answer = page.evaluate(OPEN_WITH_TOKEN, [url, key])
            finally:
                browser.close()

    assert answer == {"protocol": "token", "type": "execution.event"}
