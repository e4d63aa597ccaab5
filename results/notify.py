"""Run notifications: a project's webhook (Slack-compatible JSON) is called when a run finishes
with tests that newly fail compared with its previous comparable run.

Never blocking the worker: the finish only enqueues a django-q2 task, on commit
(`notify_on_commit`); the task compares and calls the webhook with a short timeout. Never sent
twice for one run: the RunNotification row is unique per run and each try first claims it by
compare-and-swap (pending and due -> sending), so a task delivered twice, a retry sweep and a
person racing it find nothing left to claim. A failed try is retried with backoff
(IB_WEBHOOK_BACKOFF_SECONDS * 4**(try - 1)) by the sweep `notifications_send_due`, up to
IB_WEBHOOK_MAX_TRIES tries.

SSRF: the URL is set by project maintainers (and operators in the admin) only, must be http(s),
is never shown back by the API, redirects are not followed, and a host that resolves to a
private, loopback, link-local or otherwise non-public address is refused unless the server lists
it in IB_WEBHOOK_PRIVATE_HOSTS.
"""

import ipaddress
import logging
import os
import socket
import time
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from catalog.models import Project
from executions.models import TERMINAL
from results.compare import Comparison, Row, runs_compare
from results.models import NotificationStatus, RunNotification
from results.run_refs import EXECUTION, Run, run_previous, run_resolve
from results.runs import RunRef
from results.summaries import run_summary

log = logging.getLogger(__name__)
N = NotificationStatus
NOTIFY_TASK = "results.tasks.notify_run"
NAMES_LISTED = 20  # failures named in the message; the rest are counted


def announced_failures(comparison: Comparison, matters: dict) -> list[Row]:
    """What a notification is about: THE one choice of which failures are news. Tests that
    newly fail against the previous comparable run (and new tests that fail), and tests still
    failing whose failure is new or regressed in this run's failure groups (`matters`: the run's
    what_matters summary, results.summaries): a test that failed before and now fails another
    way is news, one that fails the same known way is not."""
    news = comparison.buckets["newly_failing"] + comparison.failing_new_tests()
    named = {row.key for row in news}
    changed = {
        case["id"]
        for group in matters.get("new", []) + matters.get("regressed", [])
        for case in group.get("cases", [])
    }
    news += [
        row
        for row in comparison.buckets["still_failing"]
        if row.case_id in changed and row.key not in named
    ]
    return news


def notify_on_commit(kind: str, run_id: int, project_id: int) -> None:
    """Enqueue the notification task for a finished run once the finish has committed, if the
    project has a webhook. Called inside the finishing transaction."""
    if _has_webhook(project_id):
        transaction.on_commit(lambda: _enqueue(kind, run_id))


# Whether a project has a webhook, per process, for WEBHOOK_KNOWN_SECONDS: asking on every finish
# was one more statement in a worker's 21 per run (tests/executions/test_statement_budget.py).
# A webhook set or removed is noticed by workers within that time; this process forgets at once
# (forget_webhook, on every save of a project).
WEBHOOK_KNOWN_SECONDS = 30.0
_webhooks_known: dict[int, tuple[float, bool]] = {}


def _has_webhook(project_id: int) -> bool:
    now = time.monotonic()
    known = _webhooks_known.get(project_id)
    if known is None or known[0] < now:
        has = Project.objects.filter(pk=project_id).exclude(webhook_url="").exists()
        known = _webhooks_known[project_id] = (now + WEBHOOK_KNOWN_SECONDS, has)
    return known[1]


def forget_webhook(sender, instance, **kwargs) -> None:
    """post_save receiver of Project (results.apps)."""
    _webhooks_known.pop(instance.pk, None)


def on_execution_finishing(sender, *, execution, **kwargs) -> None:
    """Receiver of executions.signals.execution_finishing (connected in results.apps): a run that
    is not a suite run's child is announced (its children are in its own announcement)."""
    if execution.parent_id is not None or execution.status not in TERMINAL:
        return
    try:
        notify_on_commit(EXECUTION, execution.pk, execution.project_id)
    except Exception:  # never let the announcement cost the finish its result processing
        log.exception("could not schedule the notification of execution %s", execution.pk)


def _enqueue(kind: str, run_id: int) -> None:
    try:
        async_task(NOTIFY_TASK, kind, run_id, q_options={"task_name": f"notify {kind} {run_id}"})
    except Exception:  # a broker outage must not fail a finish that has committed
        log.warning("could not enqueue the notification of %s %s", kind, run_id, exc_info=True)


def run_notification_prepare(run: Run) -> RunNotification | None:
    """Compare `run` with its previous comparable run and, when something is news
    (announced_failures), create its one RunNotification with the message to send. Returns it,
    or None: no webhook, nothing new, or the run's notification exists already."""
    project = Project.objects.get(pk=run.project_id)
    if not project.webhook_url:
        return None
    comparison = runs_compare(run_previous(run), run)
    matters = run_summary(RunRef(run.kind, run.id)).get("what_matters", {})
    failures = announced_failures(comparison, matters)
    if not failures:
        return None
    owner = {"execution_id": run.id} if run.kind == EXECUTION else {"batch_id": run.id}
    try:
        with transaction.atomic():
            return RunNotification.objects.create(
                project=project,
                url=project.webhook_url,
                payload=slack_message(project, comparison, failures),
                **owner,
            )
    except IntegrityError:  # prepared before (the task delivered twice)
        return None


def run_notification_send(notification_id: int) -> str:
    """One try at sending a notification, if it is pending and due; returns its status after.

    The claim (pending -> sending, tries + 1) is one compare-and-swap UPDATE: of any number of
    callers at once, one sends. The call is made outside any transaction, with the timeout
    IB_WEBHOOK_TIMEOUT_SECONDS; a 2xx answer is `sent`, anything else is retried later, given up
    (`failed`) after IB_WEBHOOK_MAX_TRIES tries or at once for an address that is refused."""
    now = timezone.now()
    with transaction.atomic():
        claimed = RunNotification.objects.filter(
            pk=notification_id, status=N.PENDING, next_try_at__lte=now
        ).update(status=N.SENDING, tries=F("tries") + 1)
    if not claimed:
        status = RunNotification.objects.filter(pk=notification_id).values_list("status", flat=True)
        return status.first() or ""  # another caller got there first, or not due yet
    notification = RunNotification.objects.get(pk=notification_id)
    # The project's URL as it is now: a maintainer who fixes a broken one fixes the retries too.
    notification.url = Project.objects.values_list("webhook_url", flat=True).get(
        pk=notification.project_id
    )
    if notification.url:
        error, final = _post(notification.url, notification.payload)
    else:
        error, final = "the project no longer has a webhook", True
    if error is None:
        notification.status, notification.sent_at, notification.last_error = N.SENT, now, ""
    elif final or notification.tries >= settings.IB_WEBHOOK_MAX_TRIES:
        notification.status, notification.last_error = N.FAILED, error[:500]
    else:
        wait = settings.IB_WEBHOOK_BACKOFF_SECONDS * 4 ** (notification.tries - 1)
        notification.status, notification.last_error = N.PENDING, error[:500]
        notification.next_try_at = timezone.now() + timedelta(seconds=wait)
    notification.save(update_fields=["url", "status", "sent_at", "last_error", "next_try_at"])
    return notification.status


def notifications_send_due(limit: int = 100) -> int:
    """The retry sweep: one try at each pending notification whose time has come. Returns how
    many were tried."""
    due = list(
        RunNotification.objects.filter(status=N.PENDING, next_try_at__lte=timezone.now())
        .order_by("next_try_at")
        .values_list("pk", flat=True)[:limit]
    )
    for notification_id in due:
        run_notification_send(notification_id)
    return len(due)


def notify_run(kind: str, run_id: int) -> str:
    """The task's work: prepare the run's notification and make its first try."""
    run = run_resolve(f"{kind}:{run_id}")
    notification = run_notification_prepare(run)
    if notification is None:
        return "nothing to send"
    return run_notification_send(notification.pk)


# --- the message -------------------------------------------------------------------------------


def public_url() -> str:
    """Where people reach the app, for links in messages: IB_PUBLIC_URL as the demo reads it."""
    return (os.environ.get("IB_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")


def slack_message(project: Project, comparison: Comparison, failures: list[Row]) -> dict:
    """{"text": ..., "blocks": [...]}: `text` for clients that show no blocks (and Slack's
    notification preview), blocks with links to the comparison, the run and each case."""
    head, base = comparison.head, comparison.base
    site = public_url()
    refs = f"?base={base.ref if base else 'previous'}&head={head.ref}"
    compare_url = f"{site}{reverse('dashboard:compare')}{refs}"
    plural = "" if len(failures) == 1 else "s"
    title = f"{len(failures)} new failure{plural} in {project.name}: {head.label}"
    where = " ".join(part for part in (head.branch, head.revision[:12]) if part)
    lines = []
    for row in failures[:NAMES_LISTED]:
        name = _escape(row.key)
        link = (
            f"<{site}{reverse('dashboard:case', args=[row.case_id])}|{name}>"
            if row.case_id
            else name
        )
        reason = f": {_escape(row.head.message[:150])}" if row.head.message else ""
        lines.append(f"• {link}{reason}")
    if len(failures) > NAMES_LISTED:
        lines.append(f"… and {len(failures) - NAMES_LISTED} more")
    # `text` is mrkdwn too (the preview, clients without blocks): the run's own words (project,
    # suite, branch, revision, set by whoever reports) are escaped there as in the blocks.
    text = f"{_escape(title)}{f' ({_escape(where)})' if where else ''}\n" + "\n".join(lines)
    return {
        "text": text + f"\n{compare_url}",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*<{site}{head.page_url}|{_escape(title)}>*"
                    + (f" ({_escape(where)})" if where else ""),
                },
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"<{compare_url}|Compare with "
                        + (_escape(base.label) if base else "nothing earlier")
                        + ">",
                    }
                ],
            },
        ],
    }


def _escape(text: str) -> str:
    """Slack's mrkdwn escapes: a test name cannot forge a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- the call ----------------------------------------------------------------------------------


def _post(url: str, payload: dict) -> tuple[str | None, bool]:
    """POST the payload; (None, _) on a 2xx, else (what went wrong, whether retrying is futile)."""
    refused = webhook_target_refused(url)
    if refused:
        return refused, True
    try:
        response = httpx.post(
            url,
            json=payload,
            timeout=settings.IB_WEBHOOK_TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.TimeoutException:
        return f"no answer within {settings.IB_WEBHOOK_TIMEOUT_SECONDS} s", False
    except httpx.InvalidURL as exc:
        return f"refused: not a URL that can be called ({exc})", True
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}", False
    if 200 <= response.status_code < 300:
        return None, False
    return f"HTTP {response.status_code}: {response.text[:200]}", False


def webhook_target_refused(url: str) -> str:
    """Why the server will not call `url` ("" when it will): not http(s), or a host that
    resolves to a non-public address and is not in IB_WEBHOOK_PRIVATE_HOSTS."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "refused: not a URL that can be called"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "refused: not an http(s) URL"
    if parts.hostname in settings.IB_WEBHOOK_PRIVATE_HOSTS:
        return ""
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        return f"refused: {parts.hostname} does not resolve ({exc})"
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global:
            return f"refused: {parts.hostname} resolves to a non-public address ({address})"
    return ""
