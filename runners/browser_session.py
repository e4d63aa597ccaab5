"""One headless Chromium per execution, driven by Playwright's sync API on a thread of its own.

Why not simply `playwright.chromium.launch()` on the runner thread:
- Playwright's sync API may only be called from the thread that started it, but a cancel arrives
  on the watchdog thread. Here every Playwright call runs on the session's own thread; any thread
  may hand it work or close it.
- A cancel must stop a page that is busy (a 30 s wait_for). We start Chromium ourselves in its own
  process group and connect over CDP, so `close()` can kill the whole group at once, from any
  thread; the pending Playwright call then fails immediately and the thread shuts down.

Chromium runs as the command user (runners.command_user: `nobody` when the worker is
root) with the same small environment as a command, so a page that took over the browser holds
neither root nor the worker's secrets. We start it ourselves, so plain Popen arguments do it.

The allow-list is enforced twice. Below the page, Chromium sends every connection through the
session's AllowListProxy (browser_proxy.py), which checks the resolved address of each one,
redirect hops and WebSockets included, and refuses the rest. Above it, a route handler on the
context aborts the requests Playwright does see (the page, an image, a fetch) with their full
URL. take_blocked() hands the action what was refused, with host and port, which it matches
against the page's navigations to tell "the page was sent elsewhere" from "an image was left
out". The proxy also refuses Chromium's own background requests; only refusals of hosts the page
itself asked for are reported. Service workers are blocked: their requests bypass routing.
Used by runners.actions.browser (one session per RunContext, in ctx.resources).
"""

import contextlib
import json
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
from urllib.parse import urlsplit

from django.conf import settings

from core.processes import die_with_parent
from runners.allowlist import url_block_reason
from runners.browser_proxy import AllowListProxy, Refusal
from runners.command_user import (
    CommandUser,
    CommandUserError,
    child_environment,
    command_user,
    hand_over,
    popen_identity,
    read_written_file,
)
from runners.context import RunContext

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
    # Everything goes through the session's proxy (added at launch); '<-loopback>' removes
    # Chromium's built-in bypass for localhost and 127.0.0.1, which the proxy must see too.
    "--proxy-bypass-list=<-loopback>",
    # No path around the proxy: no QUIC, no DNS prefetching (WebRTC: PROFILE_PREFERENCES).
    "--disable-quic",
    "--dns-prefetch-disable",
    # Chromium's own traffic (autofill, translate, safe browsing...) would only be refused by
    # the proxy: switch it off instead.
    "--disable-features=AutofillServerCommunication,Translate,OptimizationHints,MediaRouter,"
    "DialMediaRouteProvider,CertificateTransparencyComponentUpdater",
    "--disable-client-side-phishing-detection",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--metrics-recording-only",
]
# WebRTC sends STUN over UDP straight to any address a page names, past every proxy; this
# policy makes it use the proxy or nothing. Only the profile preference works: Chromium ignores
# --force-webrtc-ip-handling-policy here (tests/executions/test_browser_allowlist.py proves it).
PROFILE_PREFERENCES = {
    "webrtc": {
        "ip_handling_policy": "disable_non_proxied_udp",
        "multiple_routes_enabled": False,
        "nonproxied_udp_enabled": False,
    }
}
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
        self._refused: list[Refusal] = []  # by the route handler: always the page's own
        self._refused_below: list[Refusal] = []  # by the proxy: reported once the page asked
        self._requested: set[tuple[str, int]] = set()  # hosts the page sent requests to
        self._navigations: list[str] = []  # main-frame navigations since the last take
        self._report_lock = threading.Lock()
        self._page = None  # the steps' page (a pop-up's navigations are not the step's)
        self._proxy = AllowListProxy(self.allowed_hosts, self._refused_by_proxy)
        self._jobs: queue.Queue = queue.Queue()
        self._ready: Future = Future()
        self._process: subprocess.Popen | None = None
        # The worker's pid in the name tells whose Chromium a process is (ps, and tests running
        # side by side).
        self._profile_dir = tempfile.mkdtemp(prefix=f"ib-chromium-{os.getpid()}-")
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

    def take_blocked(self) -> tuple[list[Refusal], list[str]]:
        """What the allow-list refused of the page's requests since the last take, and the
        page's main-frame navigations (redirect hops included). A proxy refusal whose request
        Playwright has not reported yet waits for the next take."""
        with self._report_lock:
            below = [r for r in self._refused_below if (r.host, r.port) in self._requested]
            waiting = [r for r in self._refused_below if (r.host, r.port) not in self._requested]
            refused, navigations = [*self._refused, *below], self._navigations
            self._refused, self._refused_below, self._navigations = [], waiting[-100:], []
        return refused, navigations

    def close(self) -> None:
        """Kill Chromium's process group and stop the thread. Safe from any thread, twice."""
        if self._closed:
            return
        self._closed = True
        self._kill()
        self._proxy.close()
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
        try:
            user = command_user()
        except CommandUserError as exc:
            raise BrowserError(str(exc)) from None
        self._proxy.start()
        preferences = Path(self._profile_dir) / "Default" / "Preferences"
        preferences.parent.mkdir(parents=True, exist_ok=True)
        preferences.write_text(json.dumps(PROFILE_PREFERENCES))
        hand_over(self._profile_dir, user)
        worker = os.getpid()
        self._process = subprocess.Popen(
            [
                self.executable,
                *CHROMIUM_ARGS,
                f"--proxy-server={self._proxy.address}",
                f"--user-data-dir={self._profile_dir}",
                "about:blank",
            ],
            env=child_environment(self._profile_dir, user, {}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: close() kills every Chromium process
            # A worker killed outright runs no close(): the kernel ends Chromium with it (it is
            # forked from this session's thread, which lives as long as the session).
            preexec_fn=lambda: die_with_parent(worker),
            **popen_identity(user),
        )
        endpoint = self._devtools_endpoint(user)
        playwright = sync_playwright().start()
        try:
            browser = playwright.chromium.connect_over_cdp(
                endpoint, timeout=START_TIMEOUT_SECONDS * 1000
            )
            context = browser.new_context(
                service_workers="block", viewport={"width": 1280, "height": 800}
            )
            context.route("**/*", self._route)
            # On the context, so pop-ups are heard too; WebSockets are only a page event.
            context.on("request", self._note_request)
            context.on("page", self._listen_for_websockets)
            page = self._page = context.new_page()
        except BaseException:
            playwright.stop()
            raise
        return playwright, browser, page

    def _devtools_endpoint(self, user: CommandUser | None) -> str:
        port_file = Path(self._profile_dir) / "DevToolsActivePort"
        give_up = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < give_up and not self._closed:
            if self._process.poll() is not None:
                raise BrowserError(f"Chromium exited at start (code {self._process.returncode}).")
            try:  # written by Chromium, in a folder it owns: read it as one of its files
                lines = read_written_file(port_file, user, 4096).decode().splitlines()
            except (OSError, ValueError):
                lines = []
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.02)  # polling a file Chromium writes once, within a second
        raise BrowserError(f"Chromium did not start within {START_TIMEOUT_SECONDS:g} s.")

    def _route(self, route) -> None:
        url = route.request.url
        reason = None
        if url.startswith(("http:", "https:", "ws:", "wss:")):
            reason = url_block_reason(url, self.allowed_hosts)
        if reason:
            host, port = host_port(url)
            with self._report_lock:
                self._refused.append(Refusal(url, host, port, reason[0]))
            route.abort("blockedbyclient")
        else:
            route.continue_()

    def _refused_by_proxy(self, refusal: Refusal) -> None:  # on a proxy thread
        with self._report_lock:
            self._refused_below.append(refusal)
            del self._refused_below[:-1000]

    def _listen_for_websockets(self, page) -> None:
        page.on("websocket", lambda socket: self._note_request(None, socket.url))

    def _note_request(self, request, url: str | None = None) -> None:
        # Fired for every redirect hop too (unlike routing), so a refused hop can be matched.
        # An exception here would surface in whatever Playwright call is running: none may leave.
        url = url or request.url
        main = False
        if request is not None and request.is_navigation_request():
            with contextlib.suppress(Exception):  # a pop-up's first request has no frame yet
                main = request.frame.parent_frame is None and request.frame.page is self._page
        with self._report_lock:
            self._requested.add(host_port(url))
            if main:
                self._navigations.append(url)


def _port_of(url: str) -> int:
    parts = urlsplit(url)
    try:
        return parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    except ValueError:
        return 0


def host_port(url: str) -> tuple[str, int]:
    """(host, port) of a URL as the proxy and the route handler record it."""
    return (urlsplit(url).hostname or "").rstrip("."), _port_of(url)
