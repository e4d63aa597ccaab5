"""WebSocket consumers of the live feed. Thin: authenticate, check access, join groups, forward.

`ws/executions/<id>/`: one execution (and, for a suite run, its children). Gap-free: the client
sends the last seq it has (`?after=N` or a {"type": "resume", "after": N} message) and gets every
event with seq > N from the log, then live events. The consumer remembers the last seq it sent per
execution; an older or repeated message is dropped, and a message that skips ahead first pulls the
missing events from the log. A periodic catch-up (IB_WS_SWEEP_SECONDS) covers messages the channel
layer lost outright (a Redis restart). So nothing is lost and nothing arrives twice.

`ws/projects/<id>/`: the dashboard's feed of a whole project. `?after=<event id>` replays newer events
of the project; per-execution ordering and de-duplication are the same as above.

Close codes before the handshake is accepted: 4401 not authenticated, 4403 no access (also for an id
that does not exist, so a stranger cannot probe for ids). No ORM writes here.
"""

import asyncio
import json
import logging
from datetime import timedelta
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from catalog import access
from executions.models import Execution
from live import feed
from live.auth import SCOPE_SUBPROTOCOL

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# The project feed's catch-up looks at events created this recently (commits take milliseconds;
# the margin covers a slow sweep).
SWEEP_WINDOW = timedelta(seconds=60)


@database_sync_to_async
def _execution_if_readable(user, execution_id: int) -> dict | None:
    row = (
        Execution.objects.filter(pk=execution_id)
        .values("pk", "project_id", "test_suite_id", "event_seq")
        .first()
    )
    if row is None or not access.has_role(user, row["project_id"], access.READ):
        return None
    return row


@database_sync_to_async
def _project_readable(user, project_id: int) -> bool:
    return access.has_role(user, project_id, access.READ)


def _int_or_none(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


class FeedConsumer(AsyncJsonWebsocketConsumer):
    """What both feeds share: auth, resume, ordered and de-duplicated delivery, catch-up."""

    feed_groups: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await self.authorize(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.last_seq: dict[int, int] = {}
        self.connected_at = timezone.now()
        self._send_lock = asyncio.Lock()
        # Join before reading the log: an event committed meanwhile arrives both ways and the
        # seq check drops the second copy, instead of falling between the two.
        for group in self.feed_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = True
        # A browser that sent its token as a subprotocol needs it answered, or it drops the socket.
        await self.accept(self.scope.get(SCOPE_SUBPROTOCOL))
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        await self.resume(_int_or_none((query.get("after") or [None])[0]))
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def disconnect(self, code) -> None:
        sweeper = getattr(self, "_sweeper", None)
        if sweeper is not None:
            sweeper.cancel()
        if getattr(self, "joined", False):
            for group in self.feed_groups:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        try:
            content = json.loads(text_data or "")
        except ValueError:
            await self.send_json({"type": "error", "message": "Send JSON text messages."})
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "resume":
            after = _int_or_none(content.get("after"))
            if after is None:
                await self.send_json({"type": "error", "message": "'after' must be an integer."})
                return
            await self.resume(after)
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "message": f"Unknown message type {kind!r}."})

    async def dispatch(self, message: dict) -> None:
        # Channels closes stale database connections before every handler, a hop to the
        # database thread each time. Live events touch no database (the catch-up reads go through
        # database_sync_to_async, which closes connections itself), so they skip it: with 100
        # sockets at 50 events/s those hops were the server's main cost (docs/performance.md).
        if message.get("type") == "execution.event":
            await self.execution_event(message)
        else:
            await super().dispatch(message)

    async def execution_event(self, message: dict) -> None:
        """A live event from the channel layer (group_send type "execution.event")."""
        async with self._send_lock:
            await self._deliver(message)

    # --- delivery ---------------------------------------------------------------------------

    async def _deliver(self, payload: dict) -> None:
        execution_id, seq = payload["execution"], payload["seq"]
        last = self.last_seq.get(execution_id)
        if last is not None and seq <= last:
            return  # a duplicate, or already sent from the log
        if last is not None and seq > last + 1:
            await self._send_from_log(execution_id, upto=seq - 1)
        await self._send_event(payload)

    async def _send_event(self, payload: dict) -> None:
        await self.send_json({**payload, "type": "execution.event"})
        self.last_seq[payload["execution"]] = payload["seq"]

    async def _send_from_log(self, execution_id: int, upto: int | None = None) -> None:
        """Send what the log has after the last seq sent for this execution (up to `upto`)."""
        while True:
            after = self.last_seq.get(execution_id, 0)
            if upto is not None and after >= upto:
                return
            chunk = await database_sync_to_async(feed.execution_events_after)(
                execution_id, after, upto_seq=upto
            )
            for payload in chunk:
                await self._send_event(payload)
            if len(chunk) < feed.CHUNK:
                return

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(settings.IB_WS_SWEEP_SECONDS)
            try:
                async with self._send_lock:
                    await self.sweep()
            except Exception:
                log.exception("live feed catch-up failed; will retry")

    # --- what each feed defines ---------------------------------------------------------------

    async def authorize(self, user) -> bool:
        raise NotImplementedError

    async def resume(self, after: int | None) -> None:
        raise NotImplementedError

    async def sweep(self) -> None:
        raise NotImplementedError


class ExecutionConsumer(FeedConsumer):
    async def authorize(self, user) -> bool:
        self.execution_id = int(self.scope["url_route"]["kwargs"]["execution_id"])
        row = await _execution_if_readable(user, self.execution_id)
        if row is None:
            return False
        self.is_suite_run = row["test_suite_id"] is not None
        self.feed_groups = [f"execution.{self.execution_id}"]
        return True

    async def resume(self, after: int | None) -> None:
        async with self._send_lock:
            self.last_seq[self.execution_id] = after or 0
            await self._send_from_log(self.execution_id)
            await self.send_json(
                {
                    "type": "feed.caught_up",
                    "execution": self.execution_id,
                    "seq": self.last_seq[self.execution_id],
                }
            )

    async def sweep(self) -> None:
        latest = await database_sync_to_async(feed.latest_seqs)([self.execution_id])
        if self.is_suite_run:
            latest.update(await database_sync_to_async(feed.suite_children_seqs)(self.execution_id))
        for execution_id, seq in latest.items():
            last = self.last_seq.get(execution_id)
            if last is not None and seq > last:
                await self._send_from_log(execution_id, upto=seq)


class ProjectConsumer(FeedConsumer):
    async def authorize(self, user) -> bool:
        self.project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        self.feed_groups = [f"project.{self.project_id}"]
        return await _project_readable(user, self.project_id)

    async def resume(self, after: int | None) -> None:
        async with self._send_lock:
            newest = after or 0
            if after is not None:
                while True:
                    chunk = await database_sync_to_async(feed.project_events_after)(
                        self.project_id, newest
                    )
                    for payload in chunk:
                        await self._deliver(payload)
                        newest = max(newest, payload["event_id"])
                    if len(chunk) < feed.CHUNK:
                        break
            await self.send_json(
                {"type": "feed.caught_up", "project": self.project_id, "event_id": newest}
            )

    async def sweep(self) -> None:
        # Executions this socket has not heard of count only from its own start: older history
        # was not asked for (a client that wants it resumes with ?after=).
        since = max(self.connected_at, timezone.now() - SWEEP_WINDOW)
        recent = await database_sync_to_async(feed.project_recent_seqs)(self.project_id, since)
        for execution_id, (first, newest) in recent.items():
            last = self.last_seq.setdefault(execution_id, first - 1)
            if newest > last:
                await self._send_from_log(execution_id, upto=newest)
