"""The in-process channel layer of the embedded mode (no Redis), made cheap per message.

Channels' InMemoryChannelLayer deep-copies a group message once for every member channel and, on
every receive, scans every channel and group membership for expired entries: with 100 sockets
watching one execution that is quadratic work per event on the server's event loop, and it showed
in the live-updates benchmark (docs/performance.md). This subclass copies a group message once per
group_send (the live feed's consumers only read what they receive) and scans for expired entries
at most once a second. Everything else, including dropping a message for a full channel, is the
parent's behaviour.
"""

import asyncio
import contextlib
import time
from copy import deepcopy

from channels.layers import InMemoryChannelLayer

EXPIRY_SCAN_SECONDS = 1.0


class LocalChannelLayer(InMemoryChannelLayer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._next_expiry_scan = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now < self._next_expiry_scan:
            return
        self._next_expiry_scan = now + EXPIRY_SCAN_SECONDS
        super()._clean_expired()

    async def group_send(self, group: str, message: dict) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        shared = deepcopy(message)  # detached from the sender, shared by the receivers
        expires = time.time() + self.expiry
        for channel in list(self.groups.get(group, {})):
            queue = self.channels.setdefault(
                channel, asyncio.Queue(maxsize=self.get_capacity(channel))
            )
            # A full channel misses the message, as with the parent; the live feed's consumers
            # fill such gaps from the event log.
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((expires, shared))
