"""Fixtures of the monitoring tests: executions driven through the real services, WebSocket
communicators on the real ASGI stack, and session cookies for them."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from executions.services import claim, worker_writes
from tests.factories import TestCaseFactory, execution_for

WORKER = "test-host:1"


@pytest.fixture
def case(project):
    return TestCaseFactory(project=project)


@pytest.fixture
def running(case):
    """A case execution claimed by a (pretend) worker, so steps can be recorded against it."""
    execution = execution_for(case)
    claimed = claim.execution_claim_next(worker=WORKER)
    assert claimed is not None and claimed.pk == execution.pk
    return claimed


def record_step(execution, order: int, status: str = "passed", name: str = "") -> None:
    worker_writes.execution_record_step(
        execution.pk,
        {
            "order": order,
            "name": name or f"step {order}",
            "kind": "wait",
            "status": status,
            "duration_ms": 5,
        },
        worker=WORKER,
        attempt=execution.attempt_count,
    )


def session_headers(user, origin: str = "http://testserver") -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    return [(b"origin", origin.encode()), (b"cookie", cookie.encode())]


def communicator(path: str, headers=None):
    from intellibrowse.asgi import router

    return WebsocketCommunicator(
        router, path, headers=headers or [(b"origin", b"http://testserver")]
    )


def run_async(fn):
    """Run an async test body on a fresh loop (pytest-asyncio is not a dependency)."""
    return async_to_sync(fn)()


async def receive_events(comm, *, until_type: str = "feed.caught_up", timeout: float = 5):
    """Messages up to and including the first of type `until_type`."""
    messages = []
    while True:
        message = await comm.receive_json_from(timeout=timeout)
        messages.append(message)
        if message["type"] == until_type:
            return messages


async def drain(comm, quiet: float = 0.3) -> list[dict]:
    """Everything that arrives until the socket stays quiet for `quiet` seconds."""
    messages = []
    while not await comm.receive_nothing(timeout=quiet):
        messages.append(await comm.receive_json_from())
    return messages


def finish(case, outcome: str = "passed", **create):
    """A case execution run to `outcome` through the services, as a worker would."""
    execution = execution_for(case, **create)
    claimed = claim.execution_claim_next(worker=WORKER)
    assert claimed is not None and claimed.pk == execution.pk
    return worker_writes.execution_complete(
        execution.pk, outcome=outcome, worker=WORKER, attempt=claimed.attempt_count
    )
