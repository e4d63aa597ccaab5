"""The web process's background work: the embedded relay and the alert evaluator.

Started by the ASGI lifespan (intellibrowse.asgi) and stopped on shutdown. A server that does not
speak the lifespan protocol starts them lazily on its first request instead, so live updates work
under any ASGI server.
"""

import asyncio
import logging

from django.conf import settings

from live.relay import EventRelay, relay_wanted
from monitoring.alerts import AlertEvaluator

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 5.0


class BackgroundTasks:
    def __init__(self) -> None:
        self._running: list[tuple[EventRelay | AlertEvaluator, asyncio.Task]] = []
        self.started = False

    async def start(self) -> None:
        if self.started:
            return
        self.started = True
        if relay_wanted():
            self._launch(EventRelay(), "ib-event-relay")
            log.info("live updates: relaying the event log (no REDIS_URL)")
        if settings.IB_ALERT_EVALUATE_SECONDS:
            self._launch(AlertEvaluator(settings.IB_ALERT_EVALUATE_SECONDS), "ib-alerts")

    def _launch(self, worker, name: str) -> None:
        self._running.append((worker, asyncio.create_task(worker.run(), name=name)))

    async def stop(self) -> None:
        for worker, _ in self._running:
            worker.stop()
        tasks = [task for _, task in self._running]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_SECONDS)
            for task in late:
                task.cancel()
        self._running.clear()
        self.started = False
