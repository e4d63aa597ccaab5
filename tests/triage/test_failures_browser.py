"""The Failures page and a run's "what matters" in a real headless Chromium against a real
server (uvicorn): every page fits 390 px and 1440 px, a tester triages a group in place (the
CSRF-protected form, the redirect back to the filtered list), and the filters work."""

import shutil

import pytest

from engine import worker as engine
from tests.factories import TestCaseFactory, execution_for
from tests.monitoring.test_browser import pytestmark  # noqa: F401  (browser, live, Chromium)
from tests.monitoring.test_csp_browser import chromium, server, sign_in, with_browser_password
from triage.models import FailureGroup, TriageEvent

__all__ = ["server"]
SHOTS = "/work/shots/i17sig"  # screenshots for a person to look at (when the folder exists)
FAILING = [{"name": "x is 2", "action": "assert", "params": {"variable": "x", "equals": 2}}]


def _keep(tmp_path):
    try:
        for shot in tmp_path.glob("*.png"):
            shutil.copy(shot, SHOTS)
    except OSError:  # no such folder outside the development machine: the shots are extras
        pass


@pytest.fixture
def failures(project, member, upload):
    with_browser_password(member)
    upload({"pays": "refused", "adds": "assert", "lists": "pass"})
    upload({"pays": "refused", "adds": "pass", "lists": "npe", "sums": "timeout"})
    case = TestCaseFactory(project=project, key="checkout.discount", steps=FAILING)
    for x in (3, 2, 5):  # fails, passes, fails again: a regression
        execution_for(case, parameters={"x": x})
        engine.run_next(worker="browser-test:1")
    run = case.executions.order_by("-id").first()
    return {
        "failures": f"/projects/{project.pk}/failures/",
        "run": f"/executions/{run.pk}/",
    }


@pytest.mark.parametrize("width,height", [(390, 844), (1440, 900)])
def test_the_failures_page_fits_and_a_tester_triages_in_place(
    server, member, project, failures, width, height, tmp_path
):
    group = FailureGroup.objects.get(error_type="java.net.ConnectException")
    widths = {}
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(30_000)
        sign_in(page, server, member.username)
        for name, path in failures.items():
            page.goto(f"{server}{path}")
            page.screenshot(path=str(tmp_path / f"{name}-{width}.png"), full_page=True)
            widths[name] = page.evaluate("document.documentElement.scrollWidth")
        page.goto(f"{server}{failures['failures']}")
        page.select_option("select[name=state]", "known")
        page.click(".failure-filters button")
        page.wait_for_url("**state=known**")
        listed = page.eval_on_selector_all(".failure h3", "hs => hs.map(h => h.innerText)")
        card = f"#group-{group.pk}"
        page.click(f"{card} summary")  # the triage form folds under each group
        page.select_option(f"{card} select[name=category]", label="Environment issue")
        page.fill(f"{card} input[name=issue_url]", "https://jira.example/OPS-7")
        page.fill(f"{card} textarea[name=comment]", "the database restarted at 02:00")
        page.click(f"{card} button[type=submit]")
        page.wait_for_selector("text=Triage saved.")
        after_url = page.url
        page.screenshot(path=str(tmp_path / f"failures-triaged-{width}.png"), full_page=True)
    _keep(tmp_path)

    assert {name: w for name, w in widths.items() if w > width} == {}
    assert len(listed) == 1 and "ConnectException" in listed[0]
    assert "state=known" in after_url  # back to the list it was triaged from
    group.refresh_from_db()
    assert (group.category.name, group.issue_url) == (
        "Environment issue",
        "https://jira.example/OPS-7",
    )
    assert group.comment == "the database restarted at 02:00"
    assert TriageEvent.objects.get().actor == member
