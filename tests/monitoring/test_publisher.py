"""The per-process publisher: callers never wait for Redis, order is kept, a backlog is bounded."""

import asyncio
import time

from live import publish


def payload(seq: int) -> dict:
    return {"execution": 1, "project": 1, "parent": None, "seq": seq}


def test_payloads_are_sent_in_the_order_they_were_handed_over(monkeypatch):
    sent = []

    async def record(p):
        sent.append(p["seq"])

    monkeypatch.setattr(publish, "asend_to_groups", record)
    publisher = publish._PublisherLoop()

    for seq in range(1, 51):
        publisher.submit(payload(seq))
    wait_for(lambda: len(sent) == 50)

    assert sent == list(range(1, 51))


def test_a_stuck_channel_layer_drops_beyond_the_backlog_instead_of_growing(monkeypatch):
    taken = []

    async def never_returns(p):
        taken.append(p["seq"])
        await asyncio.Event().wait()

    monkeypatch.setattr(publish, "asend_to_groups", never_returns)
    monkeypatch.setattr(publish, "PUBLISH_TIMEOUT_SECONDS", 60)
    publisher = publish._PublisherLoop()
    publisher.MAX_BACKLOG = 3
    publisher.submit(payload(0))
    wait_for(lambda: taken == [0])  # the sender is stuck on the first one

    started = time.monotonic()
    for seq in range(1, 10):
        publisher.submit(payload(seq))
    handed_over = time.monotonic() - started
    wait_for(lambda: publisher.dropped == 6)

    assert handed_over < 1  # the callers did not wait
    assert publisher.dropped == 6  # three wait behind the stuck one, the other six are dropped


def wait_for(predicate, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
