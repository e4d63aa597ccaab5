"""Live updates: commit-to-client latency with many connected WebSocket clients.

A real uvicorn server serves the ASGI app; client processes open `--clients` sockets on one running
execution; this process records steps through the engine's own service
(executions.services.worker_writes.execution_record_step, as a worker does) and notes the moment each
step's transaction commits. Every client notes when each step event reaches it. Reported: p50 / p95
/ p99 of (received - committed) over all deliveries, and deliveries missed or duplicated.

Modes:
- redis: REDIS_URL set; the committing process publishes through channels_redis's pub/sub layer.
- relay: no Redis (the `make run` default); the server's relay polls the event log every
  IB_RELAY_POLL_SECONDS (--relay-poll) and sends through its in-memory layer.

Database: PostgreSQL when DATABASE_URL is set (a scratch database next to it), else a scratch
SQLite file under var/. Clocks: all processes run on this machine and stamp with time.time().

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/live.py
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import OUT, ROOT, child, percentile, scratch_database, wait_until

SOCKETS_PER_CLIENT_PROCESS = 25
PASSWORD_FREE_USER = "bench-live"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--events", type=int, default=400, help="step events to publish")
    parser.add_argument("--rate", type=float, default=50, help="steps committed per second")
    parser.add_argument("--modes", default="redis,relay")
    parser.add_argument("--relay-poll", type=float, default=None, help="IB_RELAY_POLL_SECONDS")
    parser.add_argument(
        "--uvicorn-arg", action="append", default=[], help="extra uvicorn option (repeatable)"
    )
    parser.add_argument("--_run", help=argparse.SUPPRESS)
    parser.add_argument("--_clients-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._clients_of:
        asyncio.run(run_clients(json.loads(args._clients_of)))
    elif args._run:
        print(json.dumps(run_mode(args._run, args)), flush=True)
    else:
        print(f"{args.clients} clients on one execution, {args.events} steps at {args.rate:g}/s\n")
        print("| transport | database | delivered | missed | duplicated | p50 | p95 | p99 | max |")
        print("|---|---|---|---|---|---|---|---|---|")
        for mode in args.modes.split(","):
            report(mode, spawn_mode(mode, args))


# --- orchestration: one child process per mode, so each gets its own settings ---------------------


def spawn_mode(mode: str, args) -> dict | None:
    redis_url = os.environ.get("REDIS_URL", "")
    if mode == "redis" and not redis_url:
        print("| Redis pub/sub | skipped: set REDIS_URL |")
        return None
    env = {**os.environ, "REDIS_URL": redis_url if mode == "redis" else "", "Q_BROKER": "orm"}
    command = [sys.executable, __file__, "--_run", mode]
    command += ["--clients", str(args.clients), "--events", str(args.events)]
    command += ["--rate", str(args.rate)]
    if args.relay_poll:
        command += ["--relay-poll", str(args.relay_poll)]
    command += [f"--uvicorn-arg={option}" for option in args.uvicorn_arg]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"| {mode} | failed |\n\n```\n{done.stderr[-3000:]}\n```")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(mode: str, result: dict | None) -> None:
    if result is None:
        return
    transport = "Redis pub/sub" if mode == "redis" else f"embedded relay{result['poll']}"
    ms = [f"{result[k]:.1f} ms" for k in ("p50", "p95", "p99", "max")]
    print(
        f"| {transport} | {result['database']} | {result['delivered']} | {result['missed']} "
        f"| {result['duplicated']} | {' | '.join(ms)} |"
    )


# --- one mode -------------------------------------------------------------------------------------


def run_mode(mode: str, args) -> dict:
    database_url, database = bench_database()
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intellibrowse.settings")
    if args.relay_poll:
        os.environ["IB_RELAY_POLL_SECONDS"] = str(args.relay_poll)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    execution_id, token = running_execution()

    from tests.live import free_port

    port = free_port()
    server_env = {
        **os.environ,
        "IB_WS_SWEEP_SECONDS": "600",  # measure the live path, not the periodic catch-up
        "IB_ALERT_EVALUATE_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
    }
    server_args = [sys.executable, "-m", "uvicorn", "intellibrowse.asgi:application"]
    server_args += ["--host", "127.0.0.1", "--port", str(port), "--lifespan", "on"]
    server_args += ["--no-access-log", "--log-level", "warning", *args.uvicorn_arg]
    with child(server_args, server_env, f"uvicorn-live-{mode}.log") as server:
        if not wait_until(lambda: port_open(port), timeout=30):
            raise SystemExit(f"the server did not start (see {OUT}/uvicorn-live-{mode}.log)")
        clients = start_clients(port, execution_id, token, args)
        committed = produce(execution_id, args)
        received = [json.loads(c.communicate(timeout=120)[0].splitlines()[-1]) for c in clients]
        assert server.poll() is None, "the server died during the run"

    latencies, missed, duplicated = [], 0, 0
    for per_socket in (socket for batch in received for socket in batch):
        seen: dict[int, float] = {}
        for order, at in per_socket:
            if order in seen:
                duplicated += 1
            seen[order] = at
        missed += len(committed) - len(seen)
        latencies += [(at - committed[order]) * 1000 for order, at in seen.items()]
    poll = settings_poll(database) if mode == "relay" else ""
    return {
        "database": database,
        "poll": poll,
        "delivered": len(latencies),
        "missed": missed,
        "duplicated": duplicated,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "max": max(latencies, default=float("nan")),
    }


def bench_database() -> tuple[str, str]:
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        return scratch_database("intellibrowse_bench_live"), "postgresql"
    path = ROOT / "var" / "bench-live.sqlite3"
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    return f"sqlite:///{path}", "sqlite"


def settings_poll(database: str) -> str:
    from django.conf import settings

    watch = "WAL watch + " if database == "sqlite" else ""
    return f" ({watch}poll {settings.IB_RELAY_POLL_SECONDS * 1000:g} ms)"


def port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def running_execution() -> tuple[int, str]:
    """A case execution claimed by a pretend worker, and a token of a member who may watch it."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from catalog.models import Membership, Project, Role, TestCase
    from executions.services import claim, create

    user = get_user_model().objects.create(username=PASSWORD_FREE_USER)
    project = Project.objects.create(name="Live bench", slug="live-bench")
    Membership.objects.create(project=project, user=user, role=Role.VIEWER)
    case = TestCase.objects.create(
        project=project,
        key="bench",
        name="bench",
        steps=[{"action": "wait", "params": {"seconds": 0}}],
    )
    execution = create.execution_create(project=project, test_case=case)
    claimed = claim.execution_claim_next(worker="bench:1")
    assert claimed is not None and claimed.pk == execution.pk
    return execution.pk, Token.objects.create(user=user).key


def produce(execution_id: int, args) -> dict[int, float]:
    """Commit one step every 1/rate s through the engine's service; note each commit's moment.

    The stamp is an on_commit hook registered before the service's own (which publishes, with
    Redis), so the latency measured includes publishing."""
    from django.db import transaction
    from django.utils import timezone

    from executions.outcome import StepOutcome, step_record
    from executions.services.worker_writes import execution_record_step

    committed: dict[int, float] = {}
    interval = 1 / args.rate
    next_at = time.monotonic()
    for order in range(1, args.events + 1):
        step = step_record(
            order=order,
            name=f"step {order}",
            kind="wait",
            outcome=StepOutcome(),
            started_at=timezone.now(),
            elapsed=0.0,
        )
        with transaction.atomic():
            transaction.on_commit(lambda o=order: committed.__setitem__(o, time.time()))
            execution_record_step(execution_id, step, worker="bench:1", attempt=1)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    return committed


# --- the clients ------------------------------------------------------------------------------------


def start_clients(port: int, execution_id: int, token: str, args) -> list[subprocess.Popen]:
    """Client processes of up to 25 sockets each; returns once every socket has caught up."""
    processes = []
    remaining = args.clients
    while remaining > 0:
        count = min(SOCKETS_PER_CLIENT_PROCESS, remaining)
        remaining -= count
        spec = {
            "url": f"ws://127.0.0.1:{port}/ws/executions/{execution_id}/",
            "token": token,
            "sockets": count,
            "events": args.events,
            "timeout": args.events / args.rate + 60,
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, __file__, "--_clients-of", json.dumps(spec)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for process in processes:
        line = process.stdout.readline().strip()
        if line != "READY":
            raise SystemExit(f"a client process failed to connect: {line!r}")
    return processes


async def run_clients(spec: dict) -> None:
    from websockets.asyncio.client import connect

    results: list[list[tuple[int, float]]] = [[] for _ in range(spec["sockets"])]
    ready = 0
    all_ready = asyncio.Event()

    async def one(index: int) -> None:
        nonlocal ready
        async with connect(
            spec["url"],
            additional_headers={"Authorization": f"Token {spec['token']}"},
            proxy=None,
            max_queue=None,
        ) as ws:
            async for raw in ws:
                at = time.time()
                message = json.loads(raw)
                if message["type"] == "feed.caught_up":
                    ready += 1
                    if ready == spec["sockets"]:
                        all_ready.set()
                elif message["type"] == "execution.event" and message["kind"] == "step":
                    results[index].append((message["step"]["order"], at))
                    if len(results[index]) >= spec["events"]:
                        return

    async def announce() -> None:
        await all_ready.wait()
        print("READY", flush=True)

    tasks = [asyncio.create_task(one(i)) for i in range(spec["sockets"])]
    announcer = asyncio.create_task(announce())
    await asyncio.wait(tasks, timeout=spec["timeout"])
    announcer.cancel()
    print(json.dumps(results), flush=True)
    os._exit(0)  # sockets still open after a timeout need no goodbye


if __name__ == "__main__":
    threading.current_thread().name = "bench-live"
    main()
