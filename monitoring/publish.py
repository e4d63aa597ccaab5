"""The one publishing helper: an execution event goes to the groups that watch it.

Groups: `execution.<id>` (the execution page), `execution.<parent id>` (the suite run page watches its
children) and `project.<id>` (the dashboard). Called on commit only, so nobody sees an event that was
rolled back. Without Redis the in-process layer cannot reach a web process from a worker process,
so the web process's relay (monitoring.relay) reads the event log instead and this helper stays quiet.

Delivery is best effort by design: the event row is committed first, and every consumer fills gaps
from the event log (monitoring.consumers), so a lost message delays an update but never loses it.
"""

import asyncio
import logging
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from monitoring.events import ExecutionEventPayload

log = logging.getLogger(__name__)

# A publish that takes longer than this is abandoned (Redis down); the event log still has it.
PUBLISH_TIMEOUT_SECONDS = 2.0


def groups_for(payload: ExecutionEventPayload) -> list[str]:
    groups = [f"execution.{payload['execution']}", f"project.{payload['project']}"]
    if payload["parent"]:
        groups.append(f"execution.{payload['parent']}")
    return groups


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
            _publisher.run(asend_to_groups(payload))
    except Exception:
        # A live update is best effort: the event row is committed and clients resume from it.
        log.exception(
            "could not publish event %s of execution %s", payload["seq"], payload["execution"]
        )


class _PublisherLoop:
    """One long-lived event loop thread per process for publishing to Redis.

    channels_redis keeps one connection per event loop; async_to_sync in a plain thread makes a new
    loop (and so a new Redis connection) for every call. Reusing one loop keeps one connection and
    cuts each publish to a round trip. Callers wait for their send, so events published by one
    thread reach Redis in the order they were committed.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def run(self, coro) -> None:
        loop = self._ensure_loop()
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            future.result(PUBLISH_TIMEOUT_SECONDS)
        except TimeoutError:
            future.cancel()
            raise

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # A forked worker process inherits the attribute but not the thread: start anew.
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                threading.Thread(
                    target=self._loop.run_forever, name="intellibrowse-publisher", daemon=True
                ).start()
            return self._loop


_publisher = _PublisherLoop()
