"""The one publishing helper: an execution event goes to the groups that watch it.

Groups: `execution.<id>` (the execution page), `execution.<parent id>` (the suite run page watches its
children) and `project.<id>` (the dashboard). Called on commit only, so nobody sees an event that was
rolled back. Without Redis the in-process layer cannot reach a web process from a worker process,
so the web process's relay (monitoring.relay) reads the event log instead and this helper stays quiet.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from monitoring.events import ExecutionEventPayload

log = logging.getLogger(__name__)


def groups_for(payload: ExecutionEventPayload) -> list[str]:
    groups = [f"execution.{payload['execution']}", f"project.{payload['project']}"]
    if payload["parent"]:
        groups.append(f"execution.{payload['parent']}")
    return groups


def publish_execution_event(payload: ExecutionEventPayload) -> None:
    if not settings.REDIS_URL:
        return  # the relay in the web process publishes from the event log
    send_to_groups(payload)


def send_to_groups(payload: ExecutionEventPayload) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        for group in groups_for(payload):
            async_to_sync(layer.group_send)(group, {**payload, "type": "execution.event"})
    except Exception:
        # A live update is best effort: the event row is committed and clients resume from it.
        log.exception(
            "could not publish event %s of execution %s", payload["seq"], payload["execution"]
        )
