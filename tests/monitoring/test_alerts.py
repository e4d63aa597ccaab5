"""Alerts: conditions, one open row per kind, clearing, the webhook."""

import io
from datetime import timedelta

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone

from catalog.models import Project
from executions.services.queue import queue_pause
from monitoring import alerts
from monitoring.alerts import alerts_check, alerts_evaluate
from monitoring.models import Alert, AlertKind, WorkerHeartbeat
from monitoring.workers import worker_seen
from tests.factories import execution_for
from tests.monitoring.conftest import finish


@pytest.fixture
def worker_alive(db):
    worker_seen("host-a:10", [])


def kinds(conditions) -> set[str]:
    return {c.kind for c in conditions}


def test_no_worker_alive_is_an_alert(db):
    assert kinds(alerts_check()) == {AlertKind.NO_WORKER}


def test_a_live_worker_clears_the_condition(worker_alive):
    assert alerts_check() == []


def test_failure_rate_needs_more_than_ten_runs(case, worker_alive):
    for _ in range(10):
        finish(case, "failed")
    assert alerts_check() == []
    finish(case, "failed")
    (condition,) = alerts_check()
    assert condition.kind == AlertKind.FAILURE_RATE
    assert condition.detail == {"failure_rate": 1.0, "runs": 11, "failing": 11}


def test_a_project_with_failure_alerts_off_is_left_out_of_the_failure_rate(case, worker_alive):
    """Issue 15, "also found": the demo's failures on purpose raised "high failure rate"."""
    case.project.failure_alerts = False
    case.project.save(update_fields=["failure_alerts"])
    for _ in range(11):
        finish(case, "failed")
    assert alerts_check() == []


def test_the_demo_project_has_failure_alerts_off(db):
    call_command("load_demo", stdout=io.StringIO())
    demo = Project.objects.get(slug="demo")
    assert demo.failure_alerts is False
    demo.failure_alerts = True  # an older demo, loaded before the switch existed
    demo.save(update_fields=["failure_alerts"])
    call_command("load_demo", stdout=io.StringIO())
    demo.refresh_from_db()
    assert demo.failure_alerts is False


def test_failure_rate_at_or_below_twenty_percent_is_fine(case, worker_alive):
    for outcome in ["failed"] * 3 + ["passed"] * 12:
        finish(case, outcome)
    assert alerts_check() == []  # 3/15 = 20%


def later(minutes: float):
    """A moment `minutes` from now, with the workers still reporting then: the clock moves
    instead of the data."""
    moment = timezone.now() + timedelta(minutes=minutes)
    WorkerHeartbeat.objects.update(last_seen=moment)
    return moment


def test_queue_stuck_with_live_workers(case, worker_alive, settings):
    settings.IB_ALERT_QUEUE_STUCK_MINUTES = 10
    execution_for(case)
    assert alerts_check(now=later(9)) == []
    (condition,) = alerts_check(now=later(11))
    assert condition.kind == AlertKind.QUEUE_STUCK
    assert "not taking it" in condition.message


def test_queue_stuck_while_paused_names_the_pause(case, worker_alive, settings):
    settings.IB_ALERT_QUEUE_STUCK_MINUTES = 10
    execution_for(case)
    queue_pause(reason="deploy")
    (condition,) = alerts_check(now=later(11))
    assert "paused (deploy)" in condition.message


def test_waiting_without_workers_is_only_the_no_worker_alert(case):
    execution_for(case)
    assert kinds(alerts_check(now=timezone.now() + timedelta(hours=1))) == {AlertKind.NO_WORKER}


def test_evaluate_raises_once_and_clears(db):
    assert alerts_evaluate() == {"raised": [AlertKind.NO_WORKER], "cleared": []}
    assert alerts_evaluate() == {"raised": [], "cleared": []}
    assert Alert.objects.filter(cleared_at__isnull=True).count() == 1
    worker_seen("host-a:10", [])
    assert alerts_evaluate() == {"raised": [], "cleared": [AlertKind.NO_WORKER]}
    alert = Alert.objects.get()
    assert alert.cleared_at is not None


def test_a_condition_that_returns_is_a_new_alert(db):
    alerts_evaluate()
    worker_seen("host-a:10", [])
    alerts_evaluate()
    WorkerHeartbeat.objects.all().delete()
    alerts_evaluate()
    assert Alert.objects.count() == 2
    assert Alert.objects.filter(cleared_at__isnull=True).count() == 1


def test_webhook_gets_raised_and_cleared(
    db, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.IB_ALERT_WEBHOOK_URL = "http://hooks.example/alerts"
    sent = []

    def fake_post(url, json, timeout):
        sent.append((url, json["kind"], json["state"]))
        return httpx.Response(200, request=httpx.Request("POST", url))

    monkeypatch.setattr(alerts.httpx, "post", fake_post)
    with django_capture_on_commit_callbacks(execute=True):
        alerts_evaluate()
    worker_seen("host-a:10", [])
    with django_capture_on_commit_callbacks(execute=True):
        alerts_evaluate()
    assert sent == [
        ("http://hooks.example/alerts", "no_worker", "raised"),
        ("http://hooks.example/alerts", "no_worker", "cleared"),
    ]


def test_webhook_failure_is_logged_not_raised(db, settings, monkeypatch, caplog):
    settings.IB_ALERT_WEBHOOK_URL = "http://hooks.example/alerts"

    def down(url, json, timeout):
        raise httpx.ConnectError("connection refused")

    monkeypatch.setattr(alerts.httpx, "post", down)
    alerts.alert_notify(Alert.objects.create(kind=AlertKind.NO_WORKER, message="m"), "raised")
    assert "alert webhook failed" in caplog.text


def test_webhook_reaches_a_real_http_server(db, settings):
    """One real POST over loopback: the body a receiver gets."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    settings.IB_ALERT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hook"
    alert = Alert.objects.create(kind=AlertKind.NO_WORKER, message="no worker")
    alerts.alert_notify(alert, "raised")
    thread.join(5)
    server.server_close()
    assert received[0]["kind"] == "no_worker"
    assert received[0]["state"] == "raised"
    assert received[0]["message"] == "no worker"


def test_overview_shows_current_alerts(client, owner):
    client.force_login(owner)
    response = client.get("/")
    assert b"No worker alive" in response.content
