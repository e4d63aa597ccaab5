"""`make screenshots`: the demo on a fresh SQLite database, driven through every dashboard page in
headless Chromium, with full-page screenshots at 1440 and 390 px in var/screenshots/.

It starts `manage.py serve` (web and worker) on a free port in a temporary folder, signs in as
the admin, and does what a tester does: starts a browser case and photographs it while it runs,
starts a case that fails, runs the demo suite, records a manual run step by step, then visits
the overview, the project, the executions list (all and failed only), the analytics, the case,
flaky tests, the queue, the run form, the admin's execution list, the Failures page and a
comparison of two runs. Nothing is loaded from outside; the demo's cases call the app itself.

    .venv/bin/python bench/screenshots.py [--out var/screenshots]
"""

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, process_group

CHROMIUM = os.environ.get("IB_BROWSER_EXECUTABLE", "/usr/bin/chromium")
WIDTHS = {"1440": (1440, 900), "390": (390, 844)}
TERMINAL = {"passed", "failed", "error", "cancelled", "timed_out", "interrupted"}
ADMIN = ("admin", "screenshots-admin-1")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_env(folder: Path, port: int) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "Q_BROKER", "IB_PUBLIC_URL")
    }
    env.update(
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
        IB_MEDIA_ROOT=str(folder / "media"),
        IB_NAMESPACE=f"screenshots-{os.getpid()}",
        HOST="127.0.0.1",
        PORT=str(port),
        ADMIN_USERNAME=ADMIN[0],
        ADMIN_PASSWORD=ADMIN[1],
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict, *args: str) -> None:
    import subprocess

    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=True)


class Tour:
    """One signed-in page; `shoot` photographs it at every width."""

    def __init__(self, page, base: str, out: Path):
        self.page, self.base, self.out = page, base, out
        self.taken: list[Path] = []

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")

    def shoot(self, name: str) -> None:
        for label, (width, height) in WIDTHS.items():
            self.page.set_viewport_size({"width": width, "height": height})
            self.page.wait_for_timeout(150)  # let the layout settle at the new width
            path = self.out / f"{name}-{label}.png"
            self.page.screenshot(path=str(path), full_page=True)
            self.taken.append(path)
        self.page.set_viewport_size({"width": 1440, "height": 900})

    def api(self, path: str) -> dict:
        return json.loads(self.page.request.get(self.base + path).text())

    def start(self, project_id: int, label: str) -> int:
        """Start a run from the dashboard's form; returns the execution's id."""
        self.go(f"/projects/{project_id}/run/")
        self.page.select_option("#id_target", label=label)
        self.page.click("main form button[type=submit]")
        self.page.wait_for_url(re.compile(r".*/executions/\d+/$"))
        return int(re.search(r"/executions/(\d+)/$", self.page.url)[1])

    def wait_status(self, execution_id: int, wanted: set[str], timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.api(f"/api/v1/executions/{execution_id}/")["status"]
            if status in wanted:
                return status
            time.sleep(0.25)
        raise SystemExit(f"execution #{execution_id} never reached {sorted(wanted)}")


def tour(page, base: str, out: Path) -> list[Path]:
    t = Tour(page, base, out)
    t.go("/accounts/login/")
    page.fill("#id_username", ADMIN[0])
    page.fill("#id_password", ADMIN[1])
    page.click("main form button[type=submit]")
    page.wait_for_url(base + "/")
    project = next(p for p in t.api("/api/v1/projects/")["results"] if p["slug"] == "demo")
    pid = project["id"]
    cases = {c["key"]: c for c in t.api(f"/api/v1/test-cases/?project={pid}")["results"]}

    def label(key: str) -> str:
        return f"{key}: {cases[key]['name']}"

    # A live run: the browser case, photographed while its steps arrive.
    live = t.start(pid, label("DEMO-BROWSER-FORM"))
    t.wait_status(live, {"running"} | TERMINAL)
    page.wait_for_timeout(700)
    t.shoot("01-execution-live")
    t.wait_status(live, TERMINAL)
    t.go(f"/executions/{live}/")
    t.shoot("02-execution-passed")
    # A failing run.
    failing = t.start(pid, label("DEMO-HTTP-FAILS"))
    t.wait_status(failing, TERMINAL)
    t.go(f"/executions/{failing}/")
    t.shoot("03-execution-failed")
    # The suite, photographed while it runs and once done.
    t.go(f"/projects/{pid}/run/")
    page.select_option("#id_target", label="Demo smoke suite")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r".*/executions/\d+/$"))
    suite = int(re.search(r"/executions/(\d+)/$", page.url)[1])
    t.wait_status(suite, {"running"} | TERMINAL)
    page.wait_for_timeout(1000)
    t.shoot("04-suite-running")
    t.wait_status(suite, TERMINAL, timeout=300)
    t.go(f"/executions/{suite}/")
    t.shoot("05-suite-done")
    # A manual run, recorded step by step: two pass, the last one fails with a note.
    manual = t.start(pid, label("DEMO-MANUAL-CHECKOUT"))
    t.wait_status(manual, {"awaiting_input"} | TERMINAL)
    t.go(f"/executions/{manual}/manual/")
    t.shoot("06-manual-record")
    answers = [
        ("passed", "The form shows a name field and a colour list.", ""),
        ("passed", "It stays and says 'Type a name first.'", ""),
        ("failed", "The welcome page greets Grace but forgets the colour.", "Seen in Chromium."),
    ]
    for order, (status, actual, note) in enumerate(answers):
        form = page.locator("form.stacked").nth(order)
        form.locator("select[name=status]").select_option(status)
        form.locator("textarea[name=actual]").fill(actual)
        form.locator("input[name=note]").fill(note)
        form.locator("button[type=submit]").click()
        page.wait_for_load_state("networkidle")
    t.wait_status(manual, TERMINAL)
    t.go(f"/executions/{manual}/")
    t.shoot("07-manual-done")
    # Every other page, now that there is history.
    for name, path in (
        ("08-overview", "/"),
        ("09-project", f"/projects/{pid}/"),
        ("10-executions", "/executions/"),
        ("11-executions-failed", "/executions/?status=failed&scope=cases"),
        ("12-analytics", f"/projects/{pid}/analytics/"),
        ("13-case", f"/cases/{cases['DEMO-HTTP-FAILS']['id']}/"),
        ("14-flaky", "/flaky/"),
        ("15-queue", "/queue/"),
        ("16-run-form", f"/projects/{pid}/run/"),
        ("17-admin-executions", "/admin/executions/execution/"),
        ("18-failures", f"/projects/{pid}/failures/"),
        ("19-compare", f"/compare/?base=execution:{live}&head=execution:{failing}"),
    ):
        t.go(path)
        t.shoot(name)
    return t.taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "var" / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="ib-screenshots-") as tmp:
        folder, port = Path(tmp), free_port()
        env = demo_env(folder, port)
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "load_demo")
        manage(env, "bootstrap_admin")
        base = f"http://127.0.0.1:{port}"
        serve = [sys.executable, str(ROOT / "manage.py"), "serve", "--port", str(port)]
        with process_group(serve, env, folder / "serve.log") as proc:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit("the demo did not start:\n" + (folder / "serve.log").read_text())
                try:
                    if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
                )
                try:
                    page = browser.new_page(viewport={"width": 1440, "height": 900})
                    page.set_default_timeout(60_000)
                    taken = tour(page, base, out)
                finally:
                    browser.close()
    for path in taken:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    print(f"{len(taken)} screenshots in {out}")


if __name__ == "__main__":
    main()
