"""The embedded mode's in-process channel layer behaves as Channels' in-memory layer."""

from live.layers import LocalChannelLayer
from tests.monitoring.conftest import run_async


def test_group_send_reaches_every_member_once():
    async def scenario():
        layer = LocalChannelLayer()
        channels = [await layer.new_channel() for _ in range(3)]
        for channel in channels:
            await layer.group_add("execution.1", channel)
        message = {"type": "execution.event", "seq": 1}
        await layer.group_send("execution.1", message)
        message["seq"] = 99  # the sender's dict is not what receivers hold
        received = [await layer.receive(channel) for channel in channels]
        return received, [layer.channels.get(c) for c in channels]

    received, leftovers = run_async(scenario)
    assert received == [{"type": "execution.event", "seq": 1}] * 3
    assert leftovers == [None, None, None]


def test_a_full_channel_misses_the_message_and_others_still_get_it():
    async def scenario():
        layer = LocalChannelLayer(capacity=1)
        slow, fast = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("g", slow)
        await layer.group_add("g", fast)
        await layer.group_send("g", {"type": "x", "n": 1})
        await layer.receive(fast)
        await layer.group_send("g", {"type": "x", "n": 2})
        return await layer.receive(slow), await layer.receive(fast)

    assert run_async(scenario) == ({"type": "x", "n": 1}, {"type": "x", "n": 2})


def test_group_discard_stops_delivery():
    async def scenario():
        layer = LocalChannelLayer()
        channel = await layer.new_channel()
        await layer.group_add("g", channel)
        await layer.group_discard("g", channel)
        await layer.group_send("g", {"type": "x"})
        return channel in layer.channels

    assert run_async(scenario) is False


def test_expired_messages_are_still_cleaned_up(monkeypatch):
    async def scenario():
        layer = LocalChannelLayer(expiry=0)
        channel = await layer.new_channel()
        await layer.group_add("g", channel)
        await layer.group_send("g", {"type": "x"})
        layer._next_expiry_scan = 0.0
        layer._clean_expired()
        return channel in layer.channels, channel in layer.groups.get("g", {})

    assert run_async(scenario) == (False, False)
