"""The one publishing helper: an execution event goes to the groups that watch it.

Groups: `execution.<id>` (the execution page), `execution.<parent id>` (the suite run page watches its
children) and `project.<id>` (the dashboard). Called on commit only, so nobody sees an event that was
rolled back. Without Redis the in-process layer cannot reach a web process from a worker process,
so the web process's relay (live.relay) reads the event log instead and this helper stays quiet.

Delivery is best effort by design: the event row is committed first, and every consumer fills gaps
from the event log (live.consumers), so a lost message delays an update but never loses it.
"""

import asyncio
import logging
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction

from live.events import ExecutionEventPayload, event_payload

log = logging.getLogger(__name__)

# A publish that takes longer than this is abandoned (Redis down); the event log still has it.
PUBLISH_TIMEOUT_SECONDS = 2.0


def groups_for(payload: ExecutionEventPayload) -> list[str]:
    groups = [f"execution.{payload['execution']}", f"project.{payload['project']}"]
    if payload["parent"]:
        groups.append(f"execution.{payload['parent']}")
    return groups


def publish_on_commit(sender, *, execution, events, **kwargs) -> None:
    """Receiver of executions.signals.events_recorded (connected in live.apps): each event is
    published once its transaction commits, in order. The payload is taken now, so it shows the
    execution as it was when the event was recorded."""
    if not settings.REDIS_URL:
        return  # the relay in the web process publishes from the event log
    for event in events:
        payload = event_payload(event, execution)
        transaction.on_commit(lambda payload=payload: publish_execution_event(payload))


def publish_execution_event(payload: ExecutionEventPayload) -> None:
    if not settings.REDIS_URL:
        return  # the relay in the web process publishes from the event log
    send_to_groups(payload)


async def asend_to_groups(payload: ExecutionEventPayload) -> None:
    """Send from async code (the relay, which runs on the server's event loop)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {**payload, "type": "execution.event"}
    for group in groups_for(payload):
        await layer.group_send(group, message)


def send_to_groups(payload: ExecutionEventPayload) -> None:
    """Send from sync code (services on commit, in a worker or a web request thread)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        if isinstance(layer, InMemoryChannelLayer):
            # The in-memory layer belongs to the server's loop; async_to_sync from a request
            # thread runs the send there.
            async_to_sync(asend_to_groups)(payload)
        else:
            _publisher.submit(payload)
    except Exception:
        # A live update is best effort: the event row is committed and clients resume from it.
        log.exception(
            "could not publish event %s of execution %s", payload["seq"], payload["execution"]
        )


class _PublisherLoop:
    """One long-lived event loop thread per process for publishing to Redis.

    channels_redis keeps one connection per event loop; async_to_sync in a plain thread makes a new
    loop (and so a new Redis connection) for every call. Reusing one loop keeps one connection.
    Callers hand the payload over and go on: a worker's run never waits for a Redis round trip
    (three per no-op execution, a tenth of its time). One sender task takes payloads in the order
    they were handed over, so one thread's events reach Redis in the order they were committed.
    When Redis is slow or down the backlog is bounded: beyond MAX_BACKLOG payloads are dropped
    (counted in the log), and clients fill the gap from the event log as with any lost message.
    """

    MAX_BACKLOG = 10_000

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._sender: asyncio.Task | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        self.dropped = 0

    def submit(self, payload: ExecutionEventPayload) -> None:
        loop, queue = self._ensure_loop()
        loop.call_soon_threadsafe(self._enqueue, queue, payload)

    def _enqueue(self, queue: asyncio.Queue, payload: ExecutionEventPayload) -> None:
        try:
            queue.put_nowait(payload)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("publisher backlog full: %s live updates dropped so far", self.dropped)

    async def _send_forever(self, queue: asyncio.Queue) -> None:
        while True:
            payload = await queue.get()
            try:
                await asyncio.wait_for(asend_to_groups(payload), PUBLISH_TIMEOUT_SECONDS)
            except Exception:
                # A live update is best effort: the event row is committed and clients resume.
                log.exception(
                    "could not publish event %s of execution %s",
                    payload["seq"],
                    payload["execution"],
                )

    def _ensure_loop(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue]:
        with self._lock:
            # A forked worker process inherits the attribute but not the thread: start anew.
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                queue = asyncio.Queue(maxsize=self.MAX_BACKLOG)
                self._sender = loop.create_task(self._send_forever(queue))  # kept: tasks are weak
                threading.Thread(
                    target=loop.run_forever, name="intellibrowse-publisher", daemon=True
                ).start()
                self._loop, self._queue, self._pid = loop, queue, os.getpid()
            return self._loop, self._queue


_publisher = _PublisherLoop()
