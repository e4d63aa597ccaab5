"""Security issue 12 in a real headless Chromium against a real server (uvicorn): a tester's SVG
with a script, opened by a maintainer, must not run in our origin (it used to make the tester a
maintainer); and every kind of page we serve (dashboard, admin, browsable API, Swagger UI, the
demo form) works under the Content-Security-Policy with no violation, at desktop and phone width."""

import shutil
import time
from contextlib import contextmanager

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright
from rest_framework.authtoken.models import Token

from catalog.models import CaseType, Role
from engine import worker as engine
from tests.factories import TestCaseFactory, execution_for
from tests.live import free_port, live_env
from tests.monitoring.test_browser import CHROMIUM, CHROMIUM_ARGS, pytestmark  # noqa: F401
from tests.monitoring.test_live import uvicorn, wait_for_server

PASSWORD = "pw-for-the-browser-1"
# What the reported attack did: read the CSRF cookie, make the uploader a maintainer.
EXPLOIT_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="200" height="50">
<text x="5" y="30">graph</text>
<script>
var csrf = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1];
fetch("/api/v1/projects/{project}/members/", {{
  method: "POST", credentials: "include",
  headers: {{"Content-Type": "application/json", "X-CSRFToken": csrf}},
  body: JSON.stringify({{user: {tester}, role: "maintainer"}})
}});
</script>
</svg>
"""
SHOTS = "/tmp/ib-attach-shots"  # a copy of the screenshots for a person to look at


def with_browser_password(user):
    """The test settings hash with MD5 for speed, which the server process does not accept."""
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    user.save(update_fields=["password"])
    return user


def sign_in(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")


@pytest.fixture
def server(settings, tmp_path):
    env = live_env(IB_MEDIA_ROOT=str(tmp_path / "media"), IB_ALERT_EVALUATE_SECONDS="0")
    port = free_port()
    with uvicorn(env, port, tmp_path / "uvicorn.log") as proc:
        wait_for_server(port, proc)
        try:
            yield f"http://127.0.0.1:{port}"
        except BaseException:
            print((tmp_path / "uvicorn.log").read_text()[-5000:])
            raise


@contextmanager
def chromium():
    """Started after the test's database work: Playwright's sync API runs an event loop in this
    thread, where Django refuses ORM calls."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def upload_as_tester(base, project, tester) -> str:
    """The tester records a manual step with the SVG through the real API, as in the report."""
    case = TestCaseFactory(
        project=project, type=CaseType.MANUAL, steps=[{"instruction": "Draw", "expected": "ok"}]
    )
    execution = execution_for(case)
    assert engine.run_next(worker="test-worker") == execution.pk
    token = httpx.post(
        f"{base}/api/v1/auth/token/", json={"username": tester.username, "password": PASSWORD}
    ).json()["token"]
    svg = EXPLOIT_SVG.format(project=project.pk, tester=tester.pk)
    response = httpx.post(
        f"{base}/api/v1/executions/{execution.pk}/steps/1/result/",
        headers={"Authorization": f"Token {token}"},
        data={"status": "passed"},
        files={"attachment": ("graph.svg", svg.encode(), "image/svg+xml")},
    )
    assert response.status_code == 200, response.text
    return response.json()["step"]["attachments"][0]["url"]


def test_a_maintainer_opening_a_testers_svg_downloads_it_and_roles_stay(
    server, project, owner, member
):
    with_browser_password(owner)
    with_browser_password(member)
    url = upload_as_tester(server, project, member)
    owner_token = Token.objects.create(user=owner).key

    def role_of_tester():  # over the API: the ORM may not run beside Playwright's event loop
        members = httpx.get(
            f"{server}/api/v1/projects/{project.pk}/members/",
            headers={"Authorization": f"Token {owner_token}"},
        ).json()
        return next(m["role"] for m in members if m["user"] == member.pk)

    with chromium() as browser:
        page = browser.new_page(accept_downloads=True)
        page.set_default_timeout(30_000)
        sign_in(page, server, owner.username)
        downloads = []
        page.on("download", lambda download: downloads.append(download))
        try:
            page.goto(f"{server}{url}")
        except PlaywrightError as error:  # a navigation that becomes a download is "aborted"
            assert "Download is starting" in str(error) or "ERR_ABORTED" in str(error)
        # Settled: the browser either saved the file or ran its script (the old behaviour).
        deadline = time.monotonic() + 30
        while not downloads and role_of_tester() == Role.TESTER and time.monotonic() < deadline:
            page.wait_for_timeout(100)  # lets Playwright deliver the download event
        filenames = [d.suggested_filename for d in downloads]

    assert role_of_tester() == Role.TESTER
    assert filenames == ["graph.svg"]


def pages_to_check(project_id, execution_id):
    """(path, selector that shows the page has rendered, including what its scripts draw)."""
    return [
        ("/", "main"),
        (f"/projects/{project_id}/", "main"),
        (f"/executions/{execution_id}/", "[data-role=live-indicator].on"),
        ("/flaky/", "main"),
        ("/api/v1/projects/", ".response-info"),
        ("/api/v1/docs/", ".swagger-ui .info .title"),
        ("/admin/", "#content"),
        ("/admin/executions/execution/", "#changelist"),
        ("/admin/catalog/testcase/add/", "#testcase_form"),
        ("/demo/", "#greet"),
    ]


@pytest.mark.parametrize("width,height", [(1440, 900), (390, 844)])
def test_pages_work_under_the_policy_with_no_violation(
    server, project, owner, width, height, tmp_path
):
    owner.is_staff = owner.is_superuser = True
    owner.save(update_fields=["is_staff", "is_superuser"])
    with_browser_password(owner)
    execution = execution_for(TestCaseFactory(project=project))
    # A reported test's long key made the project page 574 px wide on a 390 px phone.
    TestCaseFactory(project=project, key="test_sample.test_fails_on_purpose_with_a_long_name")

    with chromium() as browser:
        violations, console_errors, outside, too_wide = _visit_every_page(
            browser, server, owner, project.pk, execution.pk, (width, height), tmp_path
        )

    assert violations == {}
    assert console_errors == []
    assert too_wide == {}  # our own pages fit the screen (a wide table scrolls in its panel)
    assert [u for u in outside if not u.startswith(("data:", "blob:"))] == []


def _visit_every_page(browser, server, owner, project_id, execution_id, size, tmp_path):
    width, height = size
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(30_000)
    page.add_init_script(
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation', e =>"
        " window.__violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber + ' ' + e.sample));"
    )
    console_errors = []
    page.on(
        "console",
        lambda m: console_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    outside = []
    page.on("request", lambda r: None if r.url.startswith(server) else outside.append(r.url))
    sign_in(page, server, owner.username)

    violations, too_wide = {}, {}
    for path, ready in pages_to_check(project_id, execution_id):
        response = page.goto(f"{server}{path}")
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy, (path, response.status, policy)
        page.wait_for_selector(ready)
        shot = tmp_path / f"{width}-{path.strip('/').replace('/', '_') or 'overview'}.png"
        page.screenshot(path=str(shot), full_page=True)
        if found := page.evaluate("window.__violations"):
            violations[path] = found
        page_width = page.evaluate("document.documentElement.scrollWidth")
        if page_width > width and not path.startswith(("/admin/", "/api/")):
            too_wide[path] = page_width
    shutil.copytree(tmp_path, SHOTS, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.log"))
    return violations, console_errors, outside, too_wide


def test_the_project_picker_submits_under_the_policy(server, project, owner):
    """The picker's onchange attribute became static/dashboard/forms.js (data-autosubmit)."""
    with_browser_password(owner)
    with chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(30_000)
        sign_in(page, server, owner.username)
        page.select_option("select[name=project]", str(project.pk))
        page.wait_for_url(f"{server}/?project={project.pk}")
        url = page.url

    assert url.endswith(f"?project={project.pk}")
