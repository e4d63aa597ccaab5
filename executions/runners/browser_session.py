"""One headless Chromium per execution, driven by Playwright's sync API on a thread of its own.

Why not simply `playwright.chromium.launch()` on the runner thread:
- Playwright's sync API may only be called from the thread that started it, but a cancel arrives
  on the watchdog thread. Here every Playwright call runs on the session's own thread; any thread
  may hand it work or close it.
- A cancel must stop a page that is busy (a 30 s wait_for). We start Chromium ourselves in its own
  process group and connect over CDP, so `close()` can kill the whole group at once, from any
  thread; the pending Playwright call then fails immediately and the thread shuts down.

The allow-list is enforced inside the browser by a route handler on the context: every request
to a host outside it (the page itself, an image, a fetch) is aborted and remembered in `blocked`.
Used by executions.runners.actions.browser (one session per RunContext, in ctx.resources).
"""

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from django.conf import settings

from executions.runners.allowlist import url_block_reason
from executions.runners.context import RunContext

DEFAULT_EXECUTABLE = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",  # Chromium picks a free port and writes it to DevToolsActivePort
]
START_TIMEOUT_SECONDS = 30.0
_STOP = object()


class BrowserError(RuntimeError):
    """The browser could not be started (missing executable, crashed at start)."""


def browser_executable() -> str:
    return getattr(settings, "IB_BROWSER_EXECUTABLE", "") or DEFAULT_EXECUTABLE


class BrowserSession:
    def __init__(self, allowed_hosts: list[str], *, executable: str | None = None) -> None:
        self.allowed_hosts = list(allowed_hosts)
        self.executable = executable or browser_executable()
        self.blocked: list[str] = []  # requests the route handler aborted (read by the action)
        self._jobs: queue.Queue = queue.Queue()
        self._ready: Future = Future()
        self._process: subprocess.Popen | None = None
        self._profile_dir = tempfile.mkdtemp(prefix="ib-chromium-")
        self._thread = threading.Thread(target=self._serve, name="ib-browser", daemon=True)
        self._closed = False

    # --- called from the runner thread (or any thread) -------------------------------------

    def start(self, ctx: RunContext) -> None:
        """Launch Chromium and connect; raise BrowserError if it does not come up."""
        self._thread.start()
        self._wait(ctx, self._ready, START_TIMEOUT_SECONDS + 5)

    def call(self, ctx: RunContext, func, *, timeout: float):
        """Run `func(page)` on the browser thread and return its result (or raise its error).
        Returns early with Cancelled when the run is stopped (the clean-up kills the browser)."""
        if self._closed:
            raise BrowserError("The browser of this run was closed.")
        job: Future = Future()
        self._jobs.put((func, job))
        return self._wait(ctx, job, timeout)

    def take_blocked(self) -> list[str]:
        blocked, self.blocked = self.blocked, []
        return blocked

    def close(self) -> None:
        """Kill Chromium's process group and stop the thread. Safe from any thread, twice."""
        if self._closed:
            return
        self._closed = True
        self._kill()
        self._jobs.put(_STOP)
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join(timeout=10)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _wait(self, ctx: RunContext, job: Future, timeout: float):
        give_up = time.monotonic() + timeout
        while not job.done():
            ctx.check_cancel()
            if time.monotonic() > give_up:
                raise BrowserError(f"The browser did not answer within {timeout:g} s.")
            with contextlib.suppress(TimeoutError):
                job.result(timeout=0.05)
        ctx.check_cancel()
        return job.result()

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)

    # --- the browser thread ---------------------------------------------------------------------

    def _serve(self) -> None:
        playwright = browser = None
        try:
            try:
                playwright, browser, page = self._launch()
            except BaseException as exc:
                self._ready.set_exception(
                    exc if isinstance(exc, BrowserError) else BrowserError(str(exc))
                )
                return
            self._ready.set_result(None)
            while True:
                item = self._jobs.get()
                if item is _STOP:
                    break
                func, job = item
                if not job.set_running_or_notify_cancel():
                    continue
                try:
                    job.set_result(func(page))
                except BaseException as exc:  # handed to the waiting thread
                    job.set_exception(exc)
        finally:
            with contextlib.suppress(Exception):
                if browser is not None:
                    browser.close()
            with contextlib.suppress(Exception):
                if playwright is not None:
                    playwright.stop()
            self._kill()
            if self._process is not None:
                with contextlib.suppress(Exception):
                    self._process.wait(timeout=10)
            shutil.rmtree(self._profile_dir, ignore_errors=True)
            self._fail_pending()

    def _fail_pending(self) -> None:
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP and item[1].set_running_or_notify_cancel():
                item[1].set_exception(BrowserError("The browser of this run was closed."))

    def _launch(self):
        from playwright.sync_api import sync_playwright

        if not Path(self.executable).exists():
            raise BrowserError(f"No Chromium at {self.executable} (setting IB_BROWSER_EXECUTABLE).")
        self._process = subprocess.Popen(
            [
                self.executable,
                *CHROMIUM_ARGS,
                f"--user-data-dir={self._profile_dir}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: close() kills every Chromium process
        )
        endpoint = self._devtools_endpoint()
        playwright = sync_playwright().start()
        try:
            browser = playwright.chromium.connect_over_cdp(
                endpoint, timeout=START_TIMEOUT_SECONDS * 1000
            )
            context = browser.new_context(
                service_workers="block", viewport={"width": 1280, "height": 800}
            )
            context.route("**/*", self._route)
            page = context.new_page()
        except BaseException:
            playwright.stop()
            raise
        return playwright, browser, page

    def _devtools_endpoint(self) -> str:
        port_file = Path(self._profile_dir) / "DevToolsActivePort"
        give_up = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < give_up and not self._closed:
            if self._process.poll() is not None:
                raise BrowserError(f"Chromium exited at start (code {self._process.returncode}).")
            lines = port_file.read_text().splitlines() if port_file.exists() else []
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.02)  # polling a file Chromium writes once, within a second
        raise BrowserError(f"Chromium did not start within {START_TIMEOUT_SECONDS:g} s.")

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(("http:", "https:", "ws:", "wss:")) and url_block_reason(
            url, self.allowed_hosts
        ):
            self.blocked.append(url)
            route.abort("blockedbyclient")
        else:
            route.continue_()
