"""Run notifications (results.notify): sent once per run, naming what newly fails with links,
retried with backoff, bounded by a timeout, refused for private addresses. The receiver is a real
HTTP server on loopback (tests/results/webhook_server.py); the live test goes through a real
qcluster and the engine."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.tasks import async_task

from results import notify
from results.imports import junit_import
from results.models import NotificationStatus, RunNotification
from results.run_refs import run_resolve
from tests.factories import TestCaseFactory, execution_for
from tests.live import live_env, qcluster, wait_until
from tests.results.test_compare import junit, report
from tests.results.test_compare import upload as compare_upload
from tests.results.webhook_server import webhook_receiver

N = NotificationStatus


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.IB_WEBHOOK_PRIVATE_HOSTS = ["127.0.0.1"]
    settings.IB_WEBHOOK_BACKOFF_SECONDS = 30
    settings.IB_WEBHOOK_TIMEOUT_SECONDS = 1


def upload(project, report: bytes):
    batch, _ = junit_import(project=project, stream=io.BytesIO(report), branch="main")
    return run_resolve(f"import:{batch.pk}")


def two_imports(project, head=(("a", "failure", 0.1, "cart is empty"), ("b", "passed", 0.1))):
    upload(project, junit(("a", "passed", 0.1), ("b", "passed", 0.1)))
    return upload(project, junit(*head))


def with_webhook(project, url):
    project.webhook_url = url
    project.save(update_fields=["webhook_url"])


@pytest.mark.django_db
def test_a_newly_failing_run_is_announced_once_with_links(project):
    with webhook_receiver() as receiver:
        with_webhook(project, receiver.url)
        head = two_imports(project)

        first = notify.notify_run("import", head.id)
        again = notify.notify_run("import", head.id)  # the task delivered twice

    assert (first, again) == (N.SENT, "nothing to send")
    assert len(receiver.received) == 1
    message = receiver.received[0]
    assert message["text"].startswith(f"1 new failure in {project.name}: import #{head.id}")
    assert "shop.a" in message["text"] and "cart is empty" in message["text"]
    assert "/compare/?base=import:" in message["text"]
    case_links = message["blocks"][1]["text"]["text"]
    assert "/cases/" in case_links and "|shop.a>" in case_links
    assert RunNotification.objects.get().status == N.SENT


@pytest.mark.django_db
def test_sending_the_same_notification_twice_calls_the_webhook_once(project):
    with webhook_receiver() as receiver:
        with_webhook(project, receiver.url)
        notification = notify.run_notification_prepare(two_imports(project))

        results = [notify.run_notification_send(notification.pk) for _ in range(3)]

    assert results == [N.SENT, N.SENT, N.SENT]
    assert receiver.calls == 1


@pytest.mark.django_db
def test_nothing_newly_failing_sends_nothing(project):
    with webhook_receiver() as receiver:
        with_webhook(project, receiver.url)
        head = two_imports(project, head=(("a", "passed", 0.1), ("b", "passed", 0.1)))

        assert notify.notify_run("import", head.id) == "nothing to send"

    assert receiver.calls == 0
    assert not RunNotification.objects.exists()


@pytest.mark.django_db
def test_a_test_still_failing_another_way_is_announced_and_the_same_way_is_not(project):
    """A test that failed before and fails now is news when its failure is new to the failure
    groups (another fault), not when it is the known one."""
    with webhook_receiver() as receiver:
        with_webhook(project, receiver.url)
        upload(project, junit(("a", "failure", 0.1, "cart is empty")))
        # (another time: the very same report again would be the same import)
        same = upload(project, junit(("a", "failure", 0.2, "cart is empty")))
        other = upload(project, junit(("a", "failure", 0.3, "payment gateway refused")))

        assert notify.notify_run("import", same.id) == "nothing to send"
        assert notify.notify_run("import", other.id) == N.SENT

    assert receiver.calls == 1
    assert "payment gateway refused" in receiver.received[0]["text"]


@pytest.mark.django_db
def test_a_project_without_a_webhook_sends_nothing(project):
    head = two_imports(project)

    assert notify.notify_run("import", head.id) == "nothing to send"
    assert not RunNotification.objects.exists()


@pytest.mark.django_db
def test_a_failing_receiver_is_retried_after_its_backoff_and_then_sent(project):
    with webhook_receiver(fail_first=1) as receiver:
        with_webhook(project, receiver.url)
        head = two_imports(project)

        assert notify.notify_run("import", head.id) == N.PENDING
        notification = RunNotification.objects.get()
        assert notification.tries == 1 and "HTTP 503" in notification.last_error
        assert notification.next_try_at > timezone.now() + timedelta(seconds=25)
        assert notify.notifications_send_due() == 0  # not due yet

        RunNotification.objects.update(next_try_at=timezone.now())
        assert notify.notifications_send_due() == 1

    notification.refresh_from_db()
    assert (notification.status, notification.tries) == (N.SENT, 2)
    assert receiver.calls == 2 and len(receiver.received) == 1


@pytest.mark.django_db
def test_a_hanging_receiver_times_out_and_is_given_up_after_the_last_try(project, settings):
    settings.IB_WEBHOOK_MAX_TRIES = 2
    settings.IB_WEBHOOK_BACKOFF_SECONDS = 0
    with webhook_receiver(hang=True) as receiver:
        with_webhook(project, receiver.url)
        head = two_imports(project)

        assert notify.notify_run("import", head.id) == N.PENDING
        assert "no answer within 1" in RunNotification.objects.get().last_error
        assert notify.notifications_send_due() == 1

    notification = RunNotification.objects.get()
    assert (notification.status, notification.tries) == (N.FAILED, 2)
    assert receiver.calls == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["http://127.0.0.2:9/hook", "http://[::1]:9/hook", "http://169.254.169.254/latest"]
)
def test_a_private_address_is_refused_without_a_call(project, url):
    with_webhook(project, url)
    head = two_imports(project)

    assert notify.notify_run("import", head.id) == N.FAILED
    assert "non-public address" in RunNotification.objects.get().last_error


@pytest.mark.django_db
def test_a_failure_message_cannot_forge_a_link_in_the_message(project):
    with webhook_receiver() as receiver:
        with_webhook(project, receiver.url)
        upload(project, junit(("ok", "passed", 0.1)))
        forged = ("x", "failure", 0.1, "&lt;http://evil|click here&gt;")
        head = upload(project, junit(("ok", "passed", 0.1), forged))

        notify.notify_run("import", head.id)

    text = receiver.received[0]["blocks"][1]["text"]["text"]
    assert "<http://evil" not in text and "&lt;http://evil|click here&gt;" in text


@pytest.mark.django_db
def test_a_branch_cannot_forge_a_mention_or_a_link_in_the_text_either(project):
    """The run's own words (here the branch a reporter names) are escaped in `text` as in the
    blocks: an outsider put `<!channel>` and a link into a branch."""
    forged = "<!channel> <http://evil.example|reset your password>"
    with webhook_receiver() as receiver:
        with_webhook(project, receiver.url)
        compare_upload(project, junit(("ok", "passed", 0.1)), branch=forged)
        head = compare_upload(
            project, junit(("ok", "passed", 0.1), ("x", "failure", 0.1)), branch=forged
        )

        notify.notify_run("import", head.id)

    message = receiver.received[0]
    for text in (message["text"], message["blocks"][0]["text"]["text"]):
        assert "<!channel>" not in text and "<http://evil" not in text
        assert "&lt;!channel&gt;" in text


@pytest.mark.django_db
def test_the_api_takes_the_webhook_from_maintainers_and_never_shows_it(
    project, owner, member, api_for
):
    url = f"/api/v1/projects/{project.pk}/"

    written = api_for(owner).patch(url, {"webhook_url": "https://hooks.example/T1/B2/secret"})
    refused = api_for(member).patch(url, {"webhook_url": "https://evil.example/"})
    bad = api_for(owner).patch(url, {"webhook_url": "file:///etc/passwd"})

    assert written.status_code == 200, written.content
    assert "webhook_url" not in written.json() and written.json()["has_webhook"] is True
    assert "secret" not in api_for(member).get(url).content.decode()
    assert refused.status_code == 403
    assert bad.status_code == 400
    project.refresh_from_db()
    assert project.webhook_url == "https://hooks.example/T1/B2/secret"


# --- the real path -------------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_run_the_engine_finishes_newly_failing_is_announced_once_by_a_real_worker(
    project, tmp_path
):
    case = TestCaseFactory(
        project=project,
        key="shop.pays",
        steps=[{"name": "x is 1", "action": "assert", "params": {"variable": "x", "equals": 1}}],
    )
    env = live_env(IB_WEBHOOK_PRIVATE_HOSTS="127.0.0.1", IB_WEBHOOK_BACKOFF_SECONDS="0")
    log = tmp_path / "qcluster.log"
    with webhook_receiver(fail_first=1) as receiver, qcluster(env, log):
        with_webhook(project, receiver.url)
        first = execution_for(case, parameters={"x": 1}, branch="main")
        wait_until(lambda: _finished(first), timeout=60, what="the passing run")
        second = execution_for(case, parameters={"x": 2}, branch="main")
        wait_until(lambda: _finished(second), timeout=60, what="the failing run")
        # The first try met the receiver's 503; the retry sweep, a task like any other, sends it.
        wait_until(lambda: receiver.calls >= 1, timeout=30, what="the first try")
        wait_until(
            lambda: RunNotification.objects.filter(status=N.PENDING, tries=1).exists(),
            timeout=30,
            what="the failed try recorded",
        )
        async_task("results.tasks.send_due_notifications")
        async_task("results.tasks.send_due_notifications")
        wait_until(lambda: receiver.received, timeout=30, what="the retry")
        # The task of the first run found nothing new; a second sweep finds nothing due.
        wait_until(
            lambda: RunNotification.objects.filter(status=N.SENT).exists(), timeout=30, what="sent"
        )

    assert len(receiver.received) == 1, log.read_text()[-3000:]
    assert receiver.calls == 2
    assert "shop.pays" in receiver.received[0]["text"]
    notification = RunNotification.objects.get()
    assert notification.execution_id == second.pk


def _finished(execution) -> bool:
    execution.refresh_from_db()
    return execution.is_terminal


@pytest.mark.django_db
def test_a_retry_goes_to_the_url_the_project_has_now(project):
    with webhook_receiver() as fixed:
        with_webhook(project, "http://127.0.0.1:9/nobody-listens")
        head = two_imports(project)
        assert notify.notify_run("import", head.id) == N.PENDING

        with_webhook(project, fixed.url)
        RunNotification.objects.update(next_try_at=timezone.now())
        notify.notifications_send_due()

    assert len(fixed.received) == 1
    assert RunNotification.objects.get().status == N.SENT


@pytest.mark.django_db
def test_a_webhook_removed_before_the_retry_is_given_up(project):
    with_webhook(project, "http://127.0.0.1:9/nobody-listens")
    head = two_imports(project)
    notify.notify_run("import", head.id)

    with_webhook(project, "")
    RunNotification.objects.update(next_try_at=timezone.now())
    notify.notifications_send_due()

    notification = RunNotification.objects.get()
    assert (notification.status, notification.last_error) == (
        N.FAILED,
        "the project no longer has a webhook",
    )


@pytest.mark.django_db
def test_a_reported_run_that_newly_fails_is_announced(project):
    with webhook_receiver() as receiver:
        with_webhook(project, receiver.url)
        report(project, [("shop.a", "passed", 10)])
        head = report(project, [("shop.a", "failed", 10, "broke")])

        assert notify.notify_run("execution", head.id) == N.SENT

    # The reported test is a catalog case (as an uploaded one is): named with a link to it.
    assert "|shop.a>: broke" in receiver.received[0]["text"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["http://host:99999/hook", "http://[not-an-ip/hook"])
def test_a_webhook_url_that_cannot_be_called_is_given_up_at_once(project, url):
    with_webhook(project, url)
    head = two_imports(project)

    assert notify.notify_run("import", head.id) == N.FAILED
    assert RunNotification.objects.get().last_error.startswith("refused:")
