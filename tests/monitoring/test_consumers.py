"""The WebSocket feeds on the real ASGI stack (origin check, session and token auth, URL router):
who may connect, and that a client gets every event once, in order, across resumes and gaps.

transaction=True: the consumers read through database_sync_to_async, which needs committed rows.
"""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from executions.models import Execution
from live.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from live.events import event_payload
from live.publish import asend_to_groups
from live.routing import CLOSE_NOT_FOUND
from tests.factories import SuiteItemFactory, TestSuiteFactory, execution_for
from tests.monitoring.conftest import (
    communicator,
    drain,
    receive_events,
    record_step,
    run_async,
    session_headers,
)

pytestmark = pytest.mark.django_db(transaction=True)


def router():
    from intellibrowse.asgi import router

    return router


def payloads_of(execution, *seqs):
    execution = Execution.objects.get(pk=execution.pk)
    return [event_payload(e, execution) for e in execution.events.filter(seq__in=seqs)]


def latest_seq(execution) -> int:
    return Execution.objects.get(pk=execution.pk).event_seq


def seqs_of(messages, execution_id=None):
    return [
        m["seq"]
        for m in messages
        if m["type"] == "execution.event"
        and (execution_id is None or m["execution"] == execution_id)
    ]


# --- who may connect ---------------------------------------------------------------------------


def test_anonymous_is_refused_with_4401(running):
    async def body():
        comm = communicator(f"/ws/executions/{running.pk}/")
        assert await comm.connect() == (False, CLOSE_UNAUTHENTICATED)

    run_async(body)


def test_stranger_is_refused_with_4403(running, stranger):
    stranger_headers = session_headers(stranger)

    async def body():
        comm = communicator(f"/ws/executions/{running.pk}/", stranger_headers)
        assert await comm.connect() == (False, CLOSE_FORBIDDEN)

    run_async(body)


def test_unknown_execution_looks_like_no_access(viewer):
    viewer_headers = session_headers(viewer)

    async def body():
        comm = communicator("/ws/executions/999999/", viewer_headers)
        assert await comm.connect() == (False, CLOSE_FORBIDDEN)

    run_async(body)


def test_foreign_origin_is_refused(running, viewer):
    viewer_foreign_headers = session_headers(viewer, origin="http://evil.example")

    async def body():
        headers = viewer_foreign_headers
        comm = communicator(f"/ws/executions/{running.pk}/", headers)
        connected, _ = await comm.connect()
        assert not connected

    run_async(body)


def test_missing_origin_is_refused(running, viewer):
    viewer_headers = session_headers(viewer)

    async def body():
        headers = [h for h in viewer_headers if h[0] != b"origin"]
        comm = communicator(f"/ws/executions/{running.pk}/", headers)
        connected, _ = await comm.connect()
        assert not connected

    run_async(body)


def test_viewer_with_session_connects_and_gets_the_history(running, viewer):
    viewer_headers = session_headers(viewer)
    record_step(running, 0)

    async def body():
        comm = communicator(f"/ws/executions/{running.pk}/", viewer_headers)
        assert (await comm.connect())[0]
        messages = await receive_events(comm)
        await comm.disconnect()
        return messages

    messages = run_async(body)
    running.refresh_from_db()
    assert seqs_of(messages) == list(range(1, running.event_seq + 1))
    assert messages[-1] == {"type": "feed.caught_up", "execution": running.pk, "seq": 4}


def test_token_in_query_string_is_not_accepted(running, viewer):
    # A query string is written to access logs: a token there would be a credential in a log.
    token = Token.objects.create(user=viewer)

    async def body():
        comm = communicator(f"/ws/executions/{running.pk}/?token={token.key}")
        return await comm.connect()

    assert run_async(body) == (False, CLOSE_UNAUTHENTICATED)


def test_token_in_authorization_header_authenticates(running, viewer):
    token = Token.objects.create(user=viewer)
    headers = [(b"origin", b"http://testserver"), (b"authorization", f"Token {token.key}".encode())]

    async def body():
        comm = communicator(f"/ws/executions/{running.pk}/", headers)
        connected, _ = await comm.connect()
        await comm.disconnect()
        return connected

    assert run_async(body)


def test_token_as_subprotocol_authenticates_and_is_answered(running, viewer):
    token = Token.objects.create(user=viewer)

    async def body():
        comm = WebsocketCommunicator(
            router(), f"/ws/executions/{running.pk}/", subprotocols=["token", token.key]
        )
        connected, subprotocol = await comm.connect()
        await comm.disconnect()
        return connected, subprotocol

    assert run_async(body) == (True, "token")


def test_token_client_without_origin_connects(running, viewer):
    token = Token.objects.create(user=viewer)
    headers = [(b"authorization", f"Token {token.key}".encode())]

    async def body():
        comm = communicator(f"/ws/executions/{running.pk}/", headers)
        connected, _ = await comm.connect()
        await comm.disconnect()
        return connected

    assert run_async(body)


def test_token_client_without_origin_is_still_checked_for_access(running, stranger):
    token = Token.objects.create(user=stranger)
    headers = [(b"authorization", f"Token {token.key}".encode())]

    async def body():
        comm = communicator(f"/ws/executions/{running.pk}/", headers)
        return await comm.connect()

    assert run_async(body) == (False, CLOSE_FORBIDDEN)


def test_wrong_token_is_refused_even_with_a_session(running, viewer):
    viewer_headers = [*session_headers(viewer), (b"authorization", b"Token nope")]

    async def body():
        comm = communicator(f"/ws/executions/{running.pk}/", viewer_headers)
        assert await comm.connect() == (False, CLOSE_UNAUTHENTICATED)

    run_async(body)


def test_empty_subprotocol_token_is_refused_even_with_a_session(running, viewer):
    viewer_headers = session_headers(viewer)

    async def body():
        comm = WebsocketCommunicator(
            router(), f"/ws/executions/{running.pk}/", viewer_headers, subprotocols=["token"]
        )
        return await comm.connect()

    assert run_async(body) == (False, CLOSE_UNAUTHENTICATED)


@pytest.mark.parametrize(
    "path", ["/ws/executions/abc/", f"/ws/executions/{2**63}/", "/ws/no-such-feed/"]
)
def test_a_url_no_route_matches_is_refused_with_4404(viewer, path):
    viewer_headers = session_headers(viewer)

    async def body():
        return await communicator(path, viewer_headers).connect()

    assert run_async(body) == (False, CLOSE_NOT_FOUND)


def test_project_feed_checks_membership(project, viewer, stranger):
    viewer_headers = session_headers(viewer)
    stranger_headers = session_headers(stranger)

    async def body():
        member = communicator(f"/ws/projects/{project.pk}/", viewer_headers)
        assert (await member.connect())[0]
        await member.disconnect()
        outsider = communicator(f"/ws/projects/{project.pk}/", stranger_headers)
        assert await outsider.connect() == (False, CLOSE_FORBIDDEN)

    run_async(body)


# --- resume, order, no duplicates, no gaps ------------------------------------------------------


def test_after_in_url_resumes_from_that_seq(running, viewer):
    viewer_headers = session_headers(viewer)
    for order in range(3):
        record_step(running, order)

    async def body():
        comm = communicator(f"/ws/executions/{running.pk}/?after=4", viewer_headers)
        await comm.connect()
        messages = await receive_events(comm)
        await comm.disconnect()
        return messages

    assert seqs_of(run_async(body)) == [5, 6]


def test_resume_message_replays_after_the_given_seq(running, viewer):
    viewer_headers = session_headers(viewer)
    record_step(running, 0)
    record_step(running, 1)

    async def body():
        comm = communicator(f"/ws/executions/{running.pk}/?after=5", viewer_headers)
        await comm.connect()
        first = await receive_events(comm)
        await comm.send_json_to({"type": "resume", "after": 2})
        again = await receive_events(comm)
        await comm.disconnect()
        return first, again

    first, again = run_async(body)
    assert seqs_of(first) == []
    assert seqs_of(again) == [3, 4, 5]


def test_live_duplicates_and_old_events_are_dropped(running, viewer):
    viewer_headers = session_headers(viewer)
    record_step(running, 0)
    latest = Execution.objects.get(pk=running.pk).event_seq
    again = payloads_of(running, latest, latest - 1)

    async def body():
        comm = communicator(f"/ws/executions/{running.pk}/", viewer_headers)
        await comm.connect()
        await receive_events(comm)
        for payload in [*again, *again]:
            await asend_to_groups(payload)
        extra = await drain(comm)
        await comm.disconnect()
        return extra

    assert seqs_of(run_async(body)) == []


def test_a_live_event_that_skips_ahead_pulls_the_gap_from_the_log(running, viewer):
    viewer_headers = session_headers(viewer)

    async def scenario():
        comm = communicator(f"/ws/executions/{running.pk}/", viewer_headers)
        await comm.connect()
        caught_up = (await receive_events(comm))[-1]["seq"]
        # Without Redis nothing publishes these (no relay runs here): only the log has them ...
        for order in range(3):
            await database_sync_to_async(record_step)(running, order)
        newest = await database_sync_to_async(latest_seq)(running)
        # ... until the newest one arrives live: the two before it come from the log first.
        await asend_to_groups((await database_sync_to_async(payloads_of)(running, newest))[0])
        messages = await drain(comm)
        await comm.disconnect()
        return caught_up, newest, messages

    caught_up, newest, messages = run_async(scenario)
    assert seqs_of(messages) == list(range(caught_up + 1, newest + 1))


def test_sweep_delivers_what_the_channel_layer_lost(running, viewer, settings):
    viewer_headers = session_headers(viewer)
    settings.IB_WS_SWEEP_SECONDS = 0.2

    async def scenario():
        comm = communicator(f"/ws/executions/{running.pk}/", viewer_headers)
        await comm.connect()
        caught_up = (await receive_events(comm))[-1]["seq"]
        await database_sync_to_async(record_step)(running, 0)
        messages = await drain(comm, quiet=1.0)
        await comm.disconnect()
        return caught_up, messages

    caught_up, messages = run_async(scenario)
    assert seqs_of(messages) == [caught_up + 1]


def test_suite_run_feed_carries_its_children(project, viewer):
    viewer_headers = session_headers(viewer)
    suite = TestSuiteFactory(project=project)
    item = SuiteItemFactory(suite=suite)
    parent = execution_for(suite=suite)
    child = parent.children.get()

    async def scenario():
        comm = communicator(f"/ws/executions/{parent.pk}/", viewer_headers)
        await comm.connect()
        await receive_events(comm)
        payload = (await database_sync_to_async(payloads_of)(child, 1))[0]
        await asend_to_groups(payload)
        messages = await drain(comm)
        await comm.disconnect()
        return messages

    messages = run_async(scenario)
    assert [(m["execution"], m["seq"]) for m in messages if m["type"] == "execution.event"] == [
        (child.pk, 1)
    ]
    assert item.case_id == child.test_case_id


def test_project_feed_gets_events_of_its_projects_only(project, other_project, viewer, case):
    viewer_headers = session_headers(viewer)
    execution = execution_for(case)
    foreign = execution_for(SuiteItemFactory(suite=TestSuiteFactory(project=other_project)).case)

    async def scenario():
        comm = communicator(f"/ws/projects/{project.pk}/", viewer_headers)
        await comm.connect()
        await receive_events(comm)
        for e in (execution, foreign):
            for payload in await database_sync_to_async(payloads_of)(e, 1, 2):
                await asend_to_groups(payload)
        messages = await drain(comm)
        await comm.disconnect()
        return messages

    messages = run_async(scenario)
    assert {(m["execution"], m["seq"]) for m in messages if m["type"] == "execution.event"} == {
        (execution.pk, 1),
        (execution.pk, 2),
    }


def test_project_feed_resumes_after_an_event_id(project, viewer, case):
    viewer_headers = session_headers(viewer)
    first = execution_for(case)
    boundary = first.events.order_by("-id").values_list("id", flat=True).first()
    second = execution_for(case)

    async def scenario():
        comm = communicator(f"/ws/projects/{project.pk}/?after={boundary}", viewer_headers)
        await comm.connect()
        messages = await receive_events(comm)
        await comm.disconnect()
        return messages

    messages = run_async(scenario)
    assert {m["execution"] for m in messages if m["type"] == "execution.event"} == {second.pk}


# --- messages from the client -------------------------------------------------------------------


def test_ping_gets_pong_and_nonsense_gets_an_error(running, viewer):
    viewer_headers = session_headers(viewer)

    async def scenario():
        comm = communicator(f"/ws/executions/{running.pk}/", viewer_headers)
        await comm.connect()
        await receive_events(comm)
        await comm.send_json_to({"type": "ping"})
        pong = await comm.receive_json_from()
        await comm.send_to(text_data="not json")
        bad_json = await comm.receive_json_from()
        await comm.send_json_to({"type": "resume", "after": "x"})
        bad_after = await comm.receive_json_from()
        await comm.disconnect()
        return pong, bad_json, bad_after

    pong, bad_json, bad_after = run_async(scenario)
    assert pong == {"type": "pong"}
    assert bad_json["type"] == bad_after["type"] == "error"
