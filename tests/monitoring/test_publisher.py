"""The per-process publisher: callers never wait for Redis, order is kept, a backlog is bounded."""

import asyncio
import time

from monitoring import publish


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
    deadline = time.monotonic() + 5
    while len(sent) < 50 and time.monotonic() < deadline:
        time.sleep(0.01)

    assert sent == list(range(1, 51))


def test_a_stuck_channel_layer_drops_beyond_the_backlog_instead_of_growing(monkeypatch):
    async def never_returns(p):
        await asyncio.Event().wait()

    monkeypatch.setattr(publish, "asend_to_groups", never_returns)
    monkeypatch.setattr(publish, "PUBLISH_TIMEOUT_SECONDS", 60)
    publisher = publish._PublisherLoop()
    publisher.MAX_BACKLOG = 3

    started = time.monotonic()
    for seq in range(10):
        publisher.submit(payload(seq))
    handed_over = time.monotonic() - started
    deadline = time.monotonic() + 5
    while publisher.dropped < 6 and time.monotonic() < deadline:
        time.sleep(0.01)

    assert handed_over < 1  # the callers did not wait
    assert publisher.dropped == 6  # one being sent, three waiting, the rest dropped
