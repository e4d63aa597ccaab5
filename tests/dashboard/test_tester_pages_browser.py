"""Issue 15, findings 6 to 10 in a real headless Chromium against a real server (uvicorn), and a
real worker (qcluster) where a run must happen while the page watches.

- 7: every dashboard page fits 390 px and 1440 px (no horizontal overflow) and, on a phone, the
  header is one row whose Menu button opens the menu;
- 6: a tester records a manual step; the execution page, open beside it, lists every step from
  the start and shows the tester's words and note as they arrive; "Record again" is prefilled;
- 8: the case history's bars are all one size, coloured by outcome, newest first like the table;
- 9: the live log's times are one 24-hour clock in the browser's own zone, its numbers of two
  digits are not clipped, and a finishing run never shows its outcome beside Cancel;
- 10: an imported test's page has no Run button.
"""

import io
import re
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from catalog.models import CaseType
from engine import worker as engine
from executions.services import people
from results.imports import junit_import
from tests.factories import SuiteItemFactory, TestCaseFactory, TestSuiteFactory, execution_for
from tests.live import free_port, live_env, qcluster
from tests.monitoring.test_browser import pytestmark  # noqa: F401  (browser, live, Chromium)
from tests.monitoring.test_csp_browser import chromium, server, sign_in, with_browser_password
from tests.monitoring.test_live import uvicorn, wait_for_server, wait_for_worker

__all__ = ["server"]  # the fixture, imported for these tests
SHOTS = "/work/shots/dash_b"  # full-page screenshots for a person to look at (when it exists)
WORKER = "browser-test:1"
FAILING = [
    {"name": "set x", "action": "set", "params": {"values": {"x": 1}}},
    {"name": "x is 2", "action": "assert", "params": {"variable": "x", "equals": 2}},
]
JUNIT = b"""<?xml version="1.0"?>
<testsuite name="shop"><testcase classname="tests.test_cart" name="test_total" time="0.2"/>
</testsuite>"""
MANUAL_STEPS = [
    {"name": "open", "instruction": "Open the shop", "expected": "The shop opens"},
    {"name": "pay", "instruction": "Pay with a card", "expected": "A receipt"},
    {"name": "log out", "instruction": "Log out", "expected": "The login page"},
]


def _keep(tmp_path, pattern="*.png"):
    try:
        for shot in tmp_path.glob(pattern):
            shutil.copy(shot, SHOTS)
    except OSError:  # no such folder outside the development machine: the shots are extras
        pass


@pytest.fixture
def pages(project, owner):
    """A project with a bit of everything, run through the real engine in this process: a
    passed and a failed case run (re-run once), a suite run, a manual run waiting for input, an
    imported test. Returns {name: path}."""
    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    with_browser_password(owner)
    passing = TestCaseFactory(project=project, key="checkout-total")
    failing = TestCaseFactory(project=project, key="checkout-discount", steps=FAILING)
    manual = TestCaseFactory(project=project, type=CaseType.MANUAL, steps=MANUAL_STEPS)
    suite = TestSuiteFactory(project=project, name="Checkout smoke")
    for order, case in enumerate((passing, failing)):
        SuiteItemFactory(suite=suite, case=case, order=order)
    junit_import(project=project, stream=io.BytesIO(JUNIT))
    imported = project.test_cases.get(origin="imported", key__endswith="test_total")

    passed = execution_for(passing)
    engine.run_next(worker=WORKER)
    failed = execution_for(failing)
    engine.run_next(worker=WORKER)
    people.execution_rerun(failed.pk, actor=owner)
    engine.run_next(worker=WORKER)
    suite_run = execution_for(suite=suite)
    while engine.run_next(worker=WORKER):
        pass
    waiting = execution_for(manual)
    engine.run_next(worker=WORKER)
    return {
        "overview": "/",
        "project": f"/projects/{project.pk}/",
        "start": f"/projects/{project.pk}/run/",
        "passed": f"/executions/{passed.pk}/",
        "failed": f"/executions/{failed.pk}/",
        "suite": f"/executions/{suite_run.pk}/",
        "manual": f"/executions/{waiting.pk}/",
        "record": f"/executions/{waiting.pk}/manual/",
        "case": f"/cases/{failing.pk}/",
        "imported": f"/cases/{imported.pk}/",
        "flaky": "/flaky/",
        "queue": "/queue/",
        # issue 17: two runs compared (one case removed, another new and failing)
        "compare": f"/compare/?base=execution:{passed.pk}&head=execution:{failed.pk}",
    }


@pytest.mark.parametrize("width,height", [(390, 844), (1440, 900)])
def test_every_dashboard_page_fits_the_screen(server, owner, pages, width, height, tmp_path):
    widths, header = {}, {}
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(30_000)
        sign_in(page, server, owner.username)
        for name, path in pages.items():
            page.goto(f"{server}{path}")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(tmp_path / f"pages-{width}-{name}.png"), full_page=True)
            widths[name] = page.evaluate("document.documentElement.scrollWidth")
        header["height"] = page.evaluate("document.querySelector('.topbar').offsetHeight")
        header["menu shown"] = page.is_visible(".topbar nav")
        if width < 640:
            page.click(".menu-toggle")
            header["menu shown after the button"] = page.is_visible(".topbar nav a[href='/flaky/']")
            header["expanded"] = page.get_attribute(".menu-toggle", "aria-expanded")
            page.screenshot(path=str(tmp_path / f"pages-{width}-menu-open.png"))
            page.click(".topbar nav a[href='/flaky/']")
            page.wait_for_url(f"{server}/flaky/")
    _keep(tmp_path)

    assert {name: w for name, w in widths.items() if w > width} == {}
    assert len(widths) == len(pages)
    if width < 640:  # a phone: one row with the brand and the Menu button, the menu closed
        assert header == {
            "height": header["height"],
            "menu shown": False,
            "menu shown after the button": True,
            "expanded": "true",
        }
        assert header["height"] <= 56
    else:
        assert header["menu shown"] is True


def test_a_manual_step_shows_on_the_execution_page_as_it_is_recorded(
    server, owner, pages, tmp_path
):
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        watcher = context.new_page()
        watcher.set_default_timeout(30_000)
        sign_in(watcher, server, owner.username)
        watcher.goto(f"{server}{pages['manual']}")
        watcher.wait_for_selector("[data-role=live-indicator].on")
        before = watcher.eval_on_selector_all(
            "#steps tr", "rows => rows.map(r => r.querySelector('.badge').dataset.status)"
        )

        tester = context.new_page()  # the same tester, in a second tab
        tester.set_default_timeout(30_000)
        tester.goto(f"{server}{pages['record']}")
        default_choice = tester.eval_on_selector("#s1_status", "select => select.value")
        tester.select_option("#s1_status", "failed")
        tester.fill("#s1_actual", "The total shows 0.00")
        tester.fill("#s1_note", "Firefox on a phone")
        tester.click("#s1_status >> xpath=ancestor::form//button[@type='submit']")
        tester.wait_for_selector("text=Step 1 recorded.")
        again = {
            "status": tester.eval_on_selector("#s1_status", "select => select.value"),
            "actual": tester.input_value("#s1_actual"),
            "note": tester.input_value("#s1_note"),
            "button": tester.inner_text(
                "#s1_status >> xpath=ancestor::form//button[@type='submit']"
            ),
        }

        watcher.wait_for_selector("#steps tr[data-order='1'] [data-role=actual]")
        row = watcher.inner_text("#steps tr[data-order='1']")
        after = watcher.eval_on_selector_all(
            "#steps tr", "rows => rows.map(r => r.querySelector('.badge').dataset.status)"
        )
        watcher.screenshot(path=str(tmp_path / "manual-1440-execution.png"), full_page=True)
        tester.screenshot(path=str(tmp_path / "manual-1440-record.png"), full_page=True)
    _keep(tmp_path)

    assert before == ["pending", "pending", "pending"]
    assert default_choice == ""
    assert after == ["failed", "pending", "pending"]
    assert "The total shows 0.00" in row and "Firefox on a phone" in row
    assert "ManualFailure" not in row
    assert again == {
        "status": "failed",
        "actual": "The total shows 0.00",
        "note": "Firefox on a phone",
        "button": "Record again",
    }


def test_the_case_history_bars_are_equal_and_read_like_the_table(server, owner, pages):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(30_000)
        sign_in(page, server, owner.username)
        page.goto(f"{server}{pages['case']}")
        bars = page.eval_on_selector_all(
            ".sparkline rect",
            "rects => rects.map(r => ({h: r.getBoundingClientRect().height,"
            " fill: getComputedStyle(r).fill, status: r.dataset.status,"
            " title: r.querySelector('title').textContent}))",
        )
        rows = page.eval_on_selector_all(
            "#case-history tbody tr", "rows => rows.map(r => r.cells[0].innerText)"
        )
        headers = page.eval_on_selector_all("#case-history th", "ths => ths.map(t => t.innerText)")
        imported = page.goto(f"{server}{pages['imported']}") and page.content()

    # Newest first: the suite's run of the case, then the re-run (attempt 2), then attempt 1.
    assert len({b["h"] for b in bars}) == 1 and bars[0]["h"] >= 20
    assert [b["status"] for b in bars] == ["failed", "failed", "failed"]
    assert bars[0]["fill"] == "rgb(199, 53, 53)"  # --bad
    assert [b["title"].split(":")[0] for b in bars] == [r.replace("\n", " ") for r in rows]
    assert [r.split()[-1] for r in rows] == ["1", "2", "1"]
    assert rows[1].split()[0] == rows[2].split()[0] == "#" + pages["failed"].split("/")[2]
    assert all(headers) and len(headers) == 5
    assert "?target=case:" not in imported and "results only" in imported


def test_the_live_log_reads_one_clock_and_a_finish_is_shown_at_once(
    settings, project, owner, tmp_path
):
    with_browser_password(owner)
    steps = [{"name": f"wait {i}", "action": "wait", "params": {"seconds": 0.3}} for i in range(10)]
    case = TestCaseFactory(project=project, key="twelve-events", steps=steps)
    env = live_env(REDIS_URL="", Q_BROKER="orm", IB_ALERT_EVALUATE_SECONDS="0")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        uvicorn(env, port, tmp_path / "uvicorn.log") as web,
        qcluster(env, tmp_path / "qcluster.log") as worker,
    ):
        wait_for_server(port, web)
        wait_for_worker(worker)  # before Chromium: no ORM beside Playwright's event loop
        with chromium() as browser:
            mixed, log, reloaded = _watch_a_run(browser, base, owner, project, case, tmp_path)
    _keep(tmp_path)

    assert mixed == []
    assert len(log) >= 12 and [int(e["seq"]) for e in log] == list(range(1, len(log) + 1))
    assert all(e["inside"] for e in log)
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", e["time"]) for e in log)
    local = [
        datetime.fromisoformat(e["at"].replace("Z", "+00:00"))
        .astimezone(ZoneInfo(ZONE))
        .strftime("%H:%M:%S")
        for e in log
    ]
    # Lines that arrived live and lines the server rendered read the same clock, the browser's.
    assert [e["time"] for e in log] == local == reloaded


ZONE = "America/New_York"  # not the server's (UTC): the page must use the browser's


def _watch_a_run(browser, base, owner, project, case, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, timezone_id=ZONE)
    # Every change of the panel is checked: an outcome beside Cancel or "in progress" is a
    # page telling two stories at once.
    context.add_init_script(
        """document.addEventListener('DOMContentLoaded', () => {
          window.__mixed = [];
          const check = () => {
            const badge = document.querySelector('#execution-status .badge');
            const ended = badge && ['passed','failed','error','cancelled','timed_out']
              .includes(badge.dataset.status);
            const cancel = document.querySelector('[data-role=cancel]');
            const open = [...document.querySelectorAll('[data-role=attempt-outcome]')]
              .some(c => c.innerText.includes('in progress'));
            if (ended && (cancel || open)) window.__mixed.push(badge.dataset.status);
          };
          new MutationObserver(check).observe(document.body, {subtree: true,
            childList: true, characterData: true, attributes: true});
        });"""
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    sign_in(page, base, owner.username)
    page.goto(f"{base}/projects/{project.pk}/run/")
    page.select_option("#id_target", f"case:{case.pk}")
    page.click("#run-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/executions/\d+/$"))
    page.wait_for_selector("[data-role=live-indicator].on")
    page.wait_for_selector("#execution-status [data-status=passed]", timeout=60_000)
    page.wait_for_timeout(500)  # the panel's own refresh after the finish
    mixed = page.evaluate("window.__mixed")
    log = page.eval_on_selector_all(
        "#event-log li",
        """items => items.map(li => {
          const seq = li.querySelector('.seq'), time = li.querySelector('time');
          const box = seq.getBoundingClientRect(), log = li.parentElement.getBoundingClientRect();
          return {seq: seq.innerText, time: time.innerText, at: time.getAttribute('datetime'),
                  inside: box.left >= log.left && seq.scrollWidth <= seq.clientWidth + 1};
        })""",
    )
    reloaded = page.reload() and page.eval_on_selector_all(
        "#event-log time", "ts => ts.map(t => t.innerText)"
    )
    page.screenshot(path=str(tmp_path / "live-390-finished.png"), full_page=True)
    return mixed, log, reloaded
