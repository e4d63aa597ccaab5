"""Alerts: conditions an operator must hear about, raised once and cleared when they pass.

- failure_rate: more than 20% of the runs that finished in the last hour failed, errored or timed
  out, over more than 10 runs; projects with `failure_alerts` off (the demo) are left out.
- queue_stuck: work that could start has waited longer than the lease time while a live worker sat
  idle as long (monitoring.workers.queue_stuck: a jammed cluster; the readiness check fails on the
  same condition); or claimable work has waited more than IB_ALERT_QUEUE_STUCK_MINUTES although
  workers are alive (too few for the backlog) or the queue is paused (someone forgot to resume it).
- no_worker: no worker's watchdog reported within IB_WORKER_ALIVE_SECONDS.

`alerts_check()` only reads (the dashboard shows its answer). `alerts_evaluate()` records each
condition as an Alert row when it starts and stamps `cleared_at` when it ends, and POSTs both moments
to IB_ALERT_WEBHOOK_URL. Every web process evaluates every IB_ALERT_EVALUATE_SECONDS (see
intellibrowse.background); the one-open-alert-per-kind constraint keeps concurrent evaluators from
raising the same alert twice.
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import IntegrityError, close_old_connections, connections, transaction
from django.db.models import Count, Min
from django.utils import timezone

from executions.models import Execution, ExecutionStatus, QueueState
from executions.selectors import queue_waiting
from monitoring.models import Alert, AlertKind
from monitoring.workers import queue_stuck, workers_alive, workers_forget_gone

log = logging.getLogger(__name__)
S = ExecutionStatus

FAILURE_RATE_THRESHOLD = 0.20
FAILURE_MIN_RUNS = 10  # "more than 10 runs": a couple of failures in a quiet hour is not an alert
WEBHOOK_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Condition:
    kind: str
    message: str
    detail: dict = field(default_factory=dict)


def alerts_check(now=None) -> list[Condition]:
    """The alert conditions that hold right now (reads only)."""
    now = now or timezone.now()
    found = []
    for check in (_failure_rate, _no_worker, _queue_stuck):
        condition = check(now)
        if condition is not None:
            found.append(condition)
    return found


def _failure_rate(now) -> Condition | None:
    recent = Execution.objects.filter(
        test_case__isnull=False,
        finished_at__gte=now - timedelta(hours=1),
        project__failure_alerts=True,  # not the demo's failures on purpose
        status__in=(S.PASSED, S.FAILED, S.ERROR, S.TIMED_OUT),
    )
    counts = {
        r["status"]: r["n"] for r in recent.values("status").annotate(n=Count("id")).order_by()
    }
    total = sum(counts.values())
    failing = total - counts.get(S.PASSED, 0)
    if total <= FAILURE_MIN_RUNS or failing / total <= FAILURE_RATE_THRESHOLD:
        return None
    rate = failing / total
    return Condition(
        AlertKind.FAILURE_RATE,
        f"{rate:.0%} of the {total} runs finished in the last hour failed "
        f"(threshold {FAILURE_RATE_THRESHOLD:.0%}).",
        {"failure_rate": round(rate, 4), "runs": total, "failing": failing},
    )


def _no_worker(now) -> Condition | None:
    if workers_alive().exists():
        return None
    return Condition(
        AlertKind.NO_WORKER,
        f"No worker has reported in the last {settings.IB_WORKER_ALIVE_SECONDS:g} s: nothing "
        "will run. Start one with `manage.py qcluster` (`make worker`).",
        {"alive_seconds": settings.IB_WORKER_ALIVE_SECONDS},
    )


def _queue_stuck(now) -> Condition | None:
    return _queue_jammed(now) or _queue_waited_long(now)


def _queue_jammed(now) -> Condition | None:
    stuck = queue_stuck(now)
    if stuck is None:
        return None
    return Condition(
        AlertKind.QUEUE_STUCK,
        f"{stuck.waiting} execution(s) that could start have waited up to "
        f"{stuck.oldest_seconds:.0f} s while {stuck.idle_workers} worker(s) sat idle: the "
        "workers are not taking work. Restart `qcluster`.",
        {
            "waiting": stuck.waiting,
            "oldest_minutes": round(stuck.oldest_seconds / 60, 1),
            "paused": False,
            "idle_workers": stuck.idle_workers,
        },
    )


def _queue_waited_long(now) -> Condition | None:
    limit = timedelta(minutes=settings.IB_ALERT_QUEUE_STUCK_MINUTES)
    waiting = queue_waiting(now).filter(queued_at__lt=now - limit)
    stats = waiting.aggregate(n=Count("id"), oldest=Min("queued_at"))
    if not stats["n"]:
        return None
    state = QueueState.get()
    alive = workers_alive().count()
    if not state.paused and not alive:
        return None  # that is the no_worker alert
    minutes = (now - stats["oldest"]).total_seconds() / 60
    why = (
        f"the queue is paused ({state.reason or 'no reason given'})"
        if state.paused
        else f"{alive} worker(s) are alive but not taking it"
    )
    return Condition(
        AlertKind.QUEUE_STUCK,
        f"{stats['n']} execution(s) have waited more than "
        f"{settings.IB_ALERT_QUEUE_STUCK_MINUTES:g} min (oldest {minutes:.0f} min): {why}.",
        {"waiting": stats["n"], "oldest_minutes": round(minutes, 1), "paused": state.paused},
    )


def alerts_evaluate(now=None) -> dict:
    """Raise the alerts whose condition started and clear those whose condition ended.

    Returns {"raised": [kinds], "cleared": [kinds]}. Webhooks go out after commit."""
    now = now or timezone.now()
    current = {c.kind: c for c in alerts_check(now)}
    done: dict[str, list[str]] = {"raised": [], "cleared": []}
    with transaction.atomic():
        open_alerts = {
            a.kind: a for a in Alert.objects.select_for_update().filter(cleared_at__isnull=True)
        }
        for kind, condition in current.items():
            if kind in open_alerts:
                continue
            alert = _raise(condition)
            if alert is not None:
                done["raised"].append(kind)
                transaction.on_commit(lambda a=alert: alert_notify(a, "raised"))
        for kind, alert in open_alerts.items():
            if kind not in current:
                alert.cleared_at = now
                alert.save(update_fields=["cleared_at"])
                done["cleared"].append(kind)
                transaction.on_commit(lambda a=alert: alert_notify(a, "cleared"))
    return done


def _raise(condition: Condition) -> Alert | None:
    try:
        with transaction.atomic():
            return Alert.objects.create(
                kind=condition.kind, message=condition.message, detail=condition.detail
            )
    except IntegrityError:
        return None  # another web process raised it a moment ago


def alerts_open():
    return Alert.objects.filter(cleared_at__isnull=True)


def alert_notify(alert: Alert, state: str) -> None:
    """POST the alert to the webhook, if one is set. Failures are logged, never raised."""
    url = settings.IB_ALERT_WEBHOOK_URL
    if not url:
        return
    body = {
        "source": "intellibrowse",
        "state": state,
        "kind": alert.kind,
        "title": alert.get_kind_display(),
        "message": alert.message,
        "detail": alert.detail,
        "raised_at": alert.raised_at.isoformat(),
        "cleared_at": alert.cleared_at.isoformat() if alert.cleared_at else None,
    }
    try:
        response = httpx.post(url, json=body, timeout=WEBHOOK_TIMEOUT_SECONDS)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("alert webhook failed for %s (%s): %s", alert.kind, state, exc)


class AlertEvaluator:
    """Evaluates every `interval` seconds in a thread of its own until stop() is called."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stopping: asyncio.Event | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ib-alerts")
        try:
            while not await self._stopped_within(self.interval):
                try:
                    await loop.run_in_executor(executor, _evaluate_once)
                except Exception:
                    log.exception("alert evaluation failed; will retry")
        finally:
            await loop.run_in_executor(executor, connections.close_all)
            executor.shutdown(wait=False)

    def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True


def _evaluate_once() -> None:
    close_old_connections()
    try:
        result = alerts_evaluate()
        if result["raised"] or result["cleared"]:
            log.warning("alerts raised %s, cleared %s", result["raised"], result["cleared"])
        workers_forget_gone()
    finally:
        close_old_connections()
