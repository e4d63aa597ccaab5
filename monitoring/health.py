"""Liveness and readiness checks for load balancers and orchestrators.

Readiness asks whether this web process can do its job: the database answers, the task broker
answers, the channel layer delivers a message, and work that could start is being taken. Those are
required: one failing makes /health/ready answer 503. Workers are a separate tier: none alive is
reported as a warning ("degraded", still 200), because taking the web process out of rotation
would not bring a worker back and would also hide the dashboard that says so (the no_worker alert
does that job).

`queue` is required although it is about the workers too: with none alive nothing pretends, but
workers that report alive and idle while startable work waits past the lease time (a jammed
cluster) make every run anyone starts wait for ever behind a health check that said "ok".
"""

import asyncio
import time
from collections.abc import Callable

from channels.layers import InMemoryChannelLayer, channel_layers
from django.conf import settings
from django.db import connection

from monitoring.workers import queue_stuck, workers_alive

LAYER_TIMEOUT_SECONDS = 2.0


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_broker() -> str:
    from django_q.brokers import get_broker

    broker = get_broker()
    broker.ping()
    return f"{broker.info()}, {broker.queue_size()} task(s) waiting"


def check_channel_layer() -> str:
    layer = channel_layers.make_backend("default")  # a fresh instance: its connections close after
    if isinstance(layer, InMemoryChannelLayer):
        return "in-process layer (events relayed from the database)"
    return asyncio.run(_round_trip(layer))


async def _round_trip(layer) -> str:
    try:
        channel = await layer.new_channel("health.")
        await layer.send(channel, {"type": "health.ping"})
        message = await asyncio.wait_for(layer.receive(channel), LAYER_TIMEOUT_SECONDS)
        if message.get("type") != "health.ping":
            raise RuntimeError("the channel layer returned another message")
        return "send/receive round trip ok"
    finally:
        await layer.flush()


def check_workers() -> str:
    alive = workers_alive().count()
    if not alive:
        raise RuntimeError("no worker has reported recently; nothing will run")
    return f"{alive} worker(s) alive"


def check_queue() -> str:
    stuck = queue_stuck()
    if stuck is not None:
        raise RuntimeError(
            f"{stuck.waiting} execution(s) that could start have waited up to "
            f"{stuck.oldest_seconds:.0f} s while {stuck.idle_workers} worker(s) sat idle: the "
            "workers are not taking work (restart `qcluster`)"
        )
    return f"no startable work has waited {settings.IB_LEASE_SECONDS:g} s on an idle worker"


# name -> (check, required)
READINESS_CHECKS: dict[str, tuple[Callable[[], str], bool]] = {
    "database": (check_database, True),
    "broker": (check_broker, True),
    "channel_layer": (check_channel_layer, True),
    "queue": (check_queue, True),
    "workers": (check_workers, False),
}


def readiness() -> tuple[int, dict]:
    """(HTTP status, body) for /health/ready."""
    checks, failed, warned = {}, False, False
    for name, (check, required) in READINESS_CHECKS.items():
        started = time.perf_counter()
        try:
            detail, ok = check(), True
        except Exception as exc:
            detail, ok = f"{type(exc).__name__}: {exc}"[:300], False
            failed, warned = failed or required, warned or not required
        checks[name] = {
            "ok": ok,
            "required": required,
            "detail": detail,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }
    status = "unavailable" if failed else "degraded" if warned else "ok"
    return (503 if failed else 200), {"status": status, "checks": checks}
