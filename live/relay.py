"""The embedded relay: live updates without Redis.

Without REDIS_URL the channel layer lives in the web process's memory, and a worker (a separate
`qcluster` process) cannot reach it. The relay closes that gap from the web side: it follows the
event log (live.feed.EventFollower, which never skips an event that commits late) and sends
each new event through the same helper the workers use with Redis (live.publish). Started and
stopped by the ASGI lifespan (intellibrowse.asgi); every web process runs its own.

Latency: on SQLite (the `make run` default) a commit by any process changes the database's WAL
file, so the relay checks that file's size and time every few milliseconds (two stat calls, no
query) and reads the log as soon as it changed; otherwise, and on PostgreSQL, it reads every
IB_RELAY_POLL_SECONDS. Figures in docs/performance.md ("Live updates").
"""

import asyncio
import contextlib
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connections

from live.feed import EventFollower
from live.publish import asend_to_groups

log = logging.getLogger(__name__)


class EventRelay:
    def __init__(self, poll_seconds: float | None = None) -> None:
        self.poll_seconds = poll_seconds or settings.IB_RELAY_POLL_SECONDS
        # One thread of its own: its database connection stays open between polls, and a slow
        # query never holds up request handling.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ib-relay")
        self._follower: EventFollower | None = None
        self._stopping: asyncio.Event | None = None
        self._watch = SqliteChangeWatch.for_default_database()
        self.relayed = 0

    async def run(self) -> None:
        """Poll and relay until stop() is called."""
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            while not self._stopping.is_set():
                pause = self.poll_seconds
                try:
                    payloads = await loop.run_in_executor(self._executor, self._poll)
                    for payload in payloads:
                        await asend_to_groups(payload)
                    self.relayed += len(payloads)
                    if payloads:
                        pause = 0  # more may be waiting: a burst is relayed without pausing
                except Exception:
                    # A database hiccup must not end live updates; clients catch up from the log.
                    log.exception("event relay poll failed; retrying")
                    await loop.run_in_executor(self._executor, close_old_connections)
                    pause = 1.0
                await self._pause(pause)
        finally:
            # The thread's own connection: left open, it would keep e.g. a test database busy.
            await loop.run_in_executor(self._executor, connections.close_all)
            self._executor.shutdown(wait=False)

    def stop(self) -> None:
        """Ask run() to return after the current poll. A flag rather than task cancellation:
        the Redis client can swallow a CancelledError that arrives during a publish."""
        if self._stopping is not None:
            self._stopping.set()

    async def _pause(self, seconds: float) -> None:
        """Wait up to `seconds`; return early on stop() or when the SQLite file changed."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        if self._watch is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)
            return
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(SqliteChangeWatch.TICK_SECONDS)
            if self._watch.changed():
                return

    def _poll(self):
        if self._follower is None:
            self._follower = EventFollower.from_now()
            return []
        return self._follower.poll()


class SqliteChangeWatch:
    """Tells cheaply whether another connection may have committed to a SQLite database in WAL
    mode: every commit appends to (or, after a checkpoint, rewrites) the -wal file, which changes
    its size or modification time. A missed change only delays an event to the next regular poll."""

    TICK_SECONDS = 0.005

    def __init__(self, path: str) -> None:
        self.paths = [path, f"{path}-wal"]
        self._last = self._signature()

    @classmethod
    def for_default_database(cls) -> "SqliteChangeWatch | None":
        database = settings.DATABASES["default"]
        if not database["ENGINE"].endswith("sqlite3") or str(database["NAME"]) == ":memory:":
            return None
        return cls(str(database["NAME"]))

    def changed(self) -> bool:
        current = self._signature()
        if current == self._last:
            return False
        self._last = current
        return True

    def _signature(self) -> tuple:
        marks = []
        for path in self.paths:
            try:
                stat = os.stat(path)
            except OSError:
                marks.append(None)
            else:
                marks.append((stat.st_size, stat.st_mtime_ns))
        return tuple(marks)


def relay_wanted() -> bool:
    """Only the in-memory layer needs the relay; with Redis the workers publish themselves."""
    return not settings.REDIS_URL
