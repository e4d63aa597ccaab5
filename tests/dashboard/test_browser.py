"""Issue 15, findings 1 to 5, in a real headless Chromium against real server (uvicorn) and worker
(qcluster) processes: the API docs with no other origin reachable, a deprecated case that cannot
be started, and a suite run started from the form, watched to its end and re-run: bars coloured
by outcome, failed cases with their first error and links, durations of the latest attempt."""

import contextlib
import re

from playwright.sync_api import Error as PlaywrightError

from executions.models import Execution, ExecutionStatus
from tests.live import free_port, live_env, qcluster
from tests.monitoring.test_browser import pytestmark  # noqa: F401  (browser, live, skip w/o Chromium)
from tests.monitoring.test_csp_browser import chromium, sign_in, with_browser_password
from tests.monitoring.test_live import uvicorn, wait_for_server, wait_for_worker

S = ExecutionStatus
OK, BAD = "rgb(31, 143, 78)", "rgb(199, 53, 53)"  # --ok and --bad of dashboard.css
SHOTS = "/work/shots/dash_a"


def shot(page, name: str) -> None:
    """A copy for a person to look at, when the folder exists (it does on the lead's machine)."""
    with contextlib.suppress(PlaywrightError):
        page.screenshot(path=f"{SHOTS}/test-{name}.png", full_page=True)


def colour_of(page, selector: str) -> str:
    return page.eval_on_selector(selector, "e => getComputedStyle(e).backgroundColor")


def test_api_docs_and_schema_work_with_no_other_origin_reachable(server, member):
    with_browser_password(member)
    outside: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        def offline(route):  # as with no internet: anything not ours fails
            if route.request.url.startswith(server):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", offline)
        failed: list[str] = []
        page.on(
            "response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None
        )
        sign_in(page, server, member.username)
        page.wait_for_load_state("networkidle")  # the favicon is asked for after the load
        page.click("header nav >> text=API")
        page.wait_for_selector(".swagger-ui .info .title")
        page.wait_for_selector(".opblock-tag")
        operations = page.locator(".opblock-tag").count()
        shot(page, "api-docs")
        response = page.goto(f"{server}/api/v1/schema/")  # a download would raise here
        schema_text = page.inner_text("body")

    assert errors == []
    assert failed == []  # the favicon too ("also found": a 404 on every page)
    assert [u for u in outside if not u.startswith(("data:", "blob:"))] == []
    assert operations > 5
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert schema_text.startswith("openapi: 3")


def test_a_deprecated_case_cannot_be_started_and_a_suite_run_says_it_left_it_out(
    server, member, case, deprecated_case, make_suite
):
    with_browser_password(member)
    suite = make_suite(case, deprecated_case)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        sign_in(page, server, member.username)
        page.goto(f"{server}/cases/{deprecated_case.pk}/")
        run_button = page.locator("[data-role=run]")
        disabled = run_button.is_disabled()
        why = page.inner_text("#run-refused")
        shot(page, "deprecated-case")

        # The old button's link, typed or bookmarked: refused, nothing else preselected.
        page.goto(f"{server}/projects/{case.project_id}/run/?target=case:{deprecated_case.pk}")
        refusal = page.inner_text("[data-role=target-refused]")
        chosen = page.eval_on_selector("#id_target", "e => e.value")
        page.click("#run-form button[type=submit]")  # nothing chosen: the browser refuses
        still_on_form = page.url.endswith(f"?target=case:{deprecated_case.pk}")

        page.select_option("#id_target", f"suite:{suite.pk}")
        page.click("#run-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/executions/\d+/$"))
        left_out = page.inner_text("[data-role=left-out]")
        shot(page, "suite-left-out")

    assert disabled is True
    assert why == "Deprecated cases cannot be run."
    assert "old-one is deprecated" in refusal
    assert chosen == ""
    assert still_on_form
    assert left_out == "Left out of this run: old-one (deprecated)."
    parent = Execution.objects.get(parent=None)
    assert list(parent.children.values_list("test_case__key", flat=True)) == ["passes"]
    assert not Execution.objects.filter(test_case=deprecated_case).exists()


def test_a_suite_run_in_the_browser_shows_outcomes_failures_and_attempt_times(
    settings, project, member, case, failing_case, make_suite, tmp_path
):
    with_browser_password(member)
    suite = make_suite(case, failing_case)
    env = live_env(
        REDIS_URL=settings.REDIS_URL, Q_BROKER=settings.Q_BROKER, IB_ALERT_EVALUATE_SECONDS="0"
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        uvicorn(env, port, tmp_path / "uvicorn.log") as web,
        qcluster(env, tmp_path / "qcluster.log") as worker,
    ):
        wait_for_server(port, web)
        wait_for_worker(worker)
        try:
            seen = _run_and_rerun_the_suite(
                base, member.username, project.pk, suite.pk, failing_case.pk
            )
        except BaseException:
            for name in ("uvicorn.log", "qcluster.log"):
                print(f"--- {name} ---\n{(tmp_path / name).read_text()[-5000:]}")
            raise

    # Finding 4: the suite's bar and each child's are segments by outcome, red where it failed.
    assert seen["suite_label"] == "2/2 cases: 1 passed, 1 failed"
    assert seen["suite_segments"] == [("passed", OK), ("failed", BAD)]
    assert seen["failed_child_segments"] == [("passed", OK), ("failed", BAD)]
    assert seen["runs_list_segments"] == [("passed", OK), ("failed", BAD)]
    # Finding 5: the failed child's first error line, inline; its case link leads to the case.
    failed_child = Execution.objects.get(test_case=failing_case)
    assert seen["first_errors"] == [failed_child.status_reason.splitlines()[0]]
    assert seen["first_errors"][0].startswith("step 2 'x is 2':")
    assert seen["case_page_title"].startswith("fails")
    # Finding 3: after the re-run the run's time is the latest attempt's, the total labelled.
    assert seen["duration"] == seen["attempt_2_time"]
    assert seen["attempts_total"].endswith("in total, 2 attempts")
    parent = Execution.objects.get(parent=None)
    assert parent.attempt_count == 2 and parent.status == S.FAILED


def _segments(page, bar_selector: str) -> list[tuple[str, str]]:
    return page.eval_on_selector_all(
        f"{bar_selector} > i.seg",
        "els => els.map(e => [e.dataset.segment, getComputedStyle(e).backgroundColor])",
    )


def _run_and_rerun_the_suite(base, username, project_id, suite_id, failing_case_id) -> dict:
    seen: dict = {}
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(60_000)
        sign_in(page, base, username)
        page.goto(f"{base}/projects/{project_id}/run/?target=suite:{suite_id}")
        page.click("#run-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/executions/\d+/$"))
        execution_url = page.url
        page.wait_for_selector("#execution-status [data-status=failed]")
        page.wait_for_selector("#execution-progress i.seg-failed")
        seen["suite_label"] = page.inner_text("#execution-progress-label")
        seen["suite_segments"] = [tuple(s) for s in _segments(page, "#execution-progress")]
        failed_row = "#children tr:has([data-status=failed])"
        seen["failed_child_segments"] = [
            tuple(s) for s in _segments(page, f"{failed_row} [data-role=progress]")
        ]
        seen["first_errors"] = page.locator("[data-role=first-error]").all_inner_texts()
        shot(page, "suite-run-failed")

        page.click(f"{failed_row} [data-role=case]")
        page.wait_for_url(f"{base}/cases/{failing_case_id}/")
        seen["case_page_title"] = page.inner_text("h1")

        page.goto(f"{base}/projects/{project_id}/")
        row = "#project-runs tr[data-execution-row]"
        seen["runs_list_segments"] = [
            tuple(s) for s in _segments(page, f"{row} [data-role=progress]")
        ]
        shot(page, "project-runs")

        page.goto(execution_url)
        page.click("[data-role=rerun]")
        page.wait_for_selector("[data-role=attempts-total]")
        page.wait_for_selector("#execution-status [data-status=failed]")
        seen["duration"] = page.inner_text("[data-role=duration]")
        seen["attempt_2_time"] = page.inner_text("[data-role=attempt-2-time]")
        seen["attempts_total"] = page.inner_text("[data-role=attempts-total]")
        shot(page, "suite-rerun")
    return seen
