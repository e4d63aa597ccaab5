"""The sender: a background thread that turns results into batches, spools each batch, sends it,
heartbeats while the tests are quiet, and closes the run. The test session only ever appends to a
list (Reporter.add); every request, every wait and every failure happens on this thread, with
bounded timeouts, so a slow or absent server never slows or fails the tests.

Each batch has an id made of the session's id and its number, fixed when it is formed: sent again
after a lost answer, the server stores it once (it answers "duplicate"). When the server is away,
batches wait in the spool and in memory and go out, in order, once it answers again; if it stayed
away so long that the run's lease ran out (the run ended `interrupted`), the results go to a new
run that names the old one, so none is lost."""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from pytest_intellibrowse.settings import Settings
from pytest_intellibrowse.spool import Spool, spool_path
from pytest_intellibrowse.transport import Refused, Unreachable, request

API = "/api/v1/reported-runs/"
BATCH_RESULTS = 1000  # the server takes up to 5,000 per batch
BATCH_BYTES = 1_000_000  # well under the server's request body limit (2.5 MiB by default)
# Generous: a request waits on this thread, never in the tests, and a slow server that answers
# late still answered (a shorter timeout would only send the same batch again).
REQUEST_TIMEOUT = 30.0
RETRY_MAX_SECONDS = 5.0


@dataclass
class Delivery:
    """What happened on the wire, for the terminal summary."""

    formed: int = 0  # results put into batches
    delivered: int = 0  # results the server has
    repeated: int = 0  # batches sent again after a lost answer, stored once by the server
    outages: int = 0  # times the server stopped answering
    longest_outage: float = 0.0
    down_since: float | None = None
    last_error: str = ""
    last_timed_out: bool = False  # the last failure was a timeout: the server is slow, not gone
    refused: list = field(default_factory=list)  # what the server refused, and why
    runs: list = field(default_factory=list)  # every run opened (more than one after an interrupt)
    closed: str = ""  # the outcome the server closed the run with
    fatal: str = ""  # a reason to stop reporting for good (bad token, unknown project)


class Reporter:
    def __init__(
        self,
        settings: Settings,
        spool_folder: str | Path,
        *,
        batch_results: int = BATCH_RESULTS,
        flush_seconds: float = 0.5,
    ):
        self.settings = settings
        self.session_id = uuid.uuid4().hex[:12]
        self.spool = Spool(spool_path(spool_folder, self.session_id))
        self.spool.write({"open": settings.open_payload()})
        self.delivery = Delivery()
        self.run: dict | None = None
        self._batch_results = batch_results
        self._flush_seconds = flush_seconds
        self._heartbeat_seconds = max(1.0, settings.lease_seconds / 4)
        self._cond = threading.Condition()
        self._pending: list[dict] = []
        self._pending_bytes = 0
        self._outbox: deque = deque()  # (batch id, results), oldest first
        self._formed: list = []  # every batch, for a run opened anew
        self._numbered = 0
        self._last_formed = time.monotonic()
        self._last_contact = time.monotonic()
        self._sending_seconds = 0.0  # spent on batches the server took
        self._next_try = 0.0
        self._delay = 0.0
        self._closing: str | None = None
        self._deadline = float("inf")
        self._closing_failures = 0
        self._closing_retries = 0
        self._thread = threading.Thread(target=self._loop, name="intellibrowse", daemon=True)

    # --- called by the test session ----------------------------------------------------------

    def start(self, open_timeout: float) -> dict | None:
        """Open the run (waiting at most `open_timeout`), then start sending. Answers the run, or
        None when the server did not answer in time (the thread keeps trying)."""
        try:
            self._open(timeout=open_timeout)
            self._contact()
        except Unreachable as error:
            self._failed(error)
        except Refused as error:
            self._refused_open(error)
        self._thread.start()
        return self.run

    def add(self, result: dict) -> None:
        if self.delivery.fatal and not self._formed:  # refused from the start: nothing to keep
            return
        with self._cond:
            self._pending.append(result)
            self._pending_bytes += _size(result)
            if len(self._pending) >= self._batch_results or self._pending_bytes >= BATCH_BYTES:
                self._cond.notify()

    def finish(self, outcome: str, timeout: float) -> None:
        """Send what is left and close the run as `outcome`, for at most `timeout` seconds; give
        up at once when the server was away and still does not answer (the spool keeps it)."""
        self.spool.write({"close": outcome})  # for a later resend, should this not get through
        with self._cond:
            if self._behind(timeout):
                timeout = 0.0  # waiting would not get it through: hand it over at once
            self._closing = outcome
            self._deadline = time.monotonic() + timeout
            self._next_try = 0.0  # one more try now, whatever the backoff was
            # A server that was answering gets a second chance half a second later (an answer
            # lost on the way); one that was away already gets none: the tests are over.
            self._closing_retries = 1 if self.delivery.down_since is None else 0
            self._cond.notify()
        self._thread.join(timeout + 0.5)
        with self._cond:  # the thread may still wait on an answer: spool what it did not batch
            self._form_batches()
        if (self.undelivered == 0 and self.delivery.closed) or not self._formed:
            self.spool.discard()
        else:
            self.spool.close()

    def _behind(self, timeout: float) -> bool:
        """Whether what is left would take the server longer than `timeout`, at the pace its
        answers to batches have come so far (results per second spent waiting on them)."""
        left = self.delivery.formed - self.delivery.delivered + len(self._pending)
        if not left or not self.delivery.delivered or self.delivery.down_since is not None:
            return False
        pace = self.delivery.delivered / max(0.001, self._sending_seconds)
        return pace * timeout < left

    @property
    def slow(self) -> bool:
        """Results are left, and the server answers (slowly): worth handing over to a process
        that goes on delivering (handoff.py) rather than keeping in the spool."""
        left = self.undelivered or not self.delivery.closed
        answering = self.delivery.down_since is None or self.delivery.last_timed_out
        return bool(left and self._formed and not self.delivery.fatal and answering)

    @property
    def undelivered(self) -> int:
        return self.delivery.formed - self.delivery.delivered + len(self._pending)

    # --- the sending thread ------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                wait = self._wait_seconds()
                if wait > 0:
                    self._cond.wait(wait)
                self._form_batches()
                closing = self._closing
            if self.delivery.fatal:
                return
            now = time.monotonic()
            if closing is not None and (now >= self._deadline or self._closing_failures):
                return
            if now < self._next_try:
                continue
            try:
                if self.run is None:
                    self._open(timeout=self._timeout())
                elif self._outbox:
                    self._send(*self._outbox[0])
                elif closing is not None:
                    self._close(closing)
                    return
                elif now - self._last_contact >= self._heartbeat_seconds:
                    self._heartbeat()
                else:
                    continue
                self._contact()
            except Unreachable as error:
                self._failed(error)
            except Refused as error:
                self._refused(error)

    def _wait_seconds(self) -> float:
        """How long the thread may sleep before something is due (0: work now)."""
        now = time.monotonic()
        if self._closing is not None:
            return max(0.0, min(self._next_try - now, self._deadline - now))
        if len(self._pending) >= self._batch_results or self._pending_bytes >= BATCH_BYTES:
            return 0.0
        if now < self._next_try:
            return self._next_try - now
        if self._outbox or self.run is None:
            return 0.0
        return self._flush_seconds

    def _form_batches(self) -> None:
        """Pending results into numbered batches, spooled before they are sent. A batch goes out
        when it is full, or when nothing is in flight and the last one went out a moment ago:
        while the server is slow or away, results gather into fuller batches."""
        now = time.monotonic()
        full = len(self._pending) >= self._batch_results or self._pending_bytes >= BATCH_BYTES
        idle = not self._outbox and now - self._last_formed >= self._flush_seconds
        if not self._pending or not (full or idle or self._closing is not None):
            return
        while self._pending:
            taken, size = 0, 0
            while taken < min(len(self._pending), self._batch_results) and size < BATCH_BYTES:
                size += _size(self._pending[taken])
                taken += 1
            results, self._pending = self._pending[:taken], self._pending[taken:]
            self._pending_bytes -= size
            self._numbered += 1
            batch_id = f"{self.session_id}-{self._numbered}"
            self.spool.write({"batch": batch_id, "results": results})
            self._outbox.append((batch_id, results))
            self._formed.append((batch_id, results))
            self.delivery.formed += len(results)
        self._last_formed = now

    def _timeout(self) -> float:
        if self._closing is None:
            return REQUEST_TIMEOUT
        return max(0.5, min(REQUEST_TIMEOUT, self._deadline - time.monotonic()))

    def _call(self, method: str, path: str, payload=None, timeout: float | None = None) -> dict:
        _, body = request(
            self.settings.url,
            self.settings.token,
            method,
            path,
            payload=payload,
            timeout=timeout or self._timeout(),
        )
        return body

    def _open(self, *, timeout: float) -> None:
        payload = self.settings.open_payload()
        if self.delivery.runs:  # the first run ended while the server was away
            payload["labels"] = {
                **payload["labels"],
                "continues_run": str(self.delivery.runs[-1]["id"]),
            }
        run = self._call("POST", API, payload, timeout)
        self.run = {"id": run["id"], "dashboard_url": run.get("dashboard_url", "")}
        self.delivery.runs.append(self.run)
        self.spool.write({"run": self.run})

    def _send(self, batch_id: str, results: list) -> None:
        started = time.monotonic()
        answer = self._call(
            "POST", f"{API}{self.run['id']}/batches/", {"batch_id": batch_id, "results": results}
        )
        self._sending_seconds += time.monotonic() - started
        self._outbox.popleft()
        self.spool.write({"delivered": batch_id})
        self.delivery.delivered += len(results)
        if answer.get("duplicate"):
            self.delivery.repeated += 1

    def _heartbeat(self) -> None:
        self._call("POST", f"{API}{self.run['id']}/heartbeat/")

    def _close(self, outcome: str) -> None:
        run = self._call("POST", f"{API}{self.run['id']}/close/", {"outcome": outcome})
        self.delivery.closed = run.get("status", outcome)

    def _contact(self) -> None:
        now = time.monotonic()
        if self.delivery.down_since is not None:
            away = now - self.delivery.down_since
            self.delivery.longest_outage = max(self.delivery.longest_outage, away)
            self.delivery.down_since = None
        self._delay = 0.0
        self._next_try = 0.0
        self._last_contact = now

    def _failed(self, error: Unreachable) -> None:
        now = time.monotonic()
        if self.delivery.down_since is None:
            self.delivery.down_since = now
            self.delivery.outages += 1
        self.delivery.last_error = str(error)
        self.delivery.last_timed_out = error.timed_out
        if self._closing is not None:
            if self._closing_retries:
                self._closing_retries -= 1
                self._delay = 0.5
            else:
                self._closing_failures += 1
        else:
            self._delay = min(RETRY_MAX_SECONDS, max(0.5, self._delay * 2))
        self._next_try = now + (error.retry_after if error.retry_after is not None else self._delay)

    def _refused(self, error: Refused) -> None:
        if self.run is None:
            self._refused_open(error)
        elif error.status == 409 and error.code == "transition_not_allowed":
            # The run ended (interrupted: the lease ran out while the server was away, or
            # closed by someone else): everything goes to a new run that names this one.
            ended = self.run
            self.run = None
            self._outbox = deque(self._formed)
            self.delivery.delivered = 0
            self.delivery.refused.append(
                f"run #{ended['id']} was ended ({error}); the results go to a new run"
            )
        elif error.status in (401, 403, 404):
            self.delivery.fatal = str(error)
        else:  # this batch is refused (400, 409 conflict, 413): the others may go through
            batch_id, results = self._outbox.popleft()
            self.delivery.formed -= len(results)
            self.delivery.refused.append(f"batch {batch_id} ({len(results)} results): {error}")

    def _refused_open(self, error: Refused) -> None:
        self.delivery.fatal = f"the server refused to open the run: {error}"


def _size(result: dict) -> int:
    """A result's size in the request body, near enough: its text in UTF-8 (transport.py sends
    it unescaped; clip() has dropped the control characters JSON would escape) and the keys."""
    return 120 + sum(len(v.encode()) for v in result.values() if isinstance(v, str))
