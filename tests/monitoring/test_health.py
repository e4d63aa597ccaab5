"""Liveness and readiness."""

from django.test import Client

from monitoring import health
from monitoring.workers import worker_seen


def test_live_is_always_ok(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_without_workers_is_degraded_but_serving(client, db):
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["checks"]["workers"]["ok"] is False
    assert all(body["checks"][name]["ok"] for name in ("database", "broker", "channel_layer"))


def test_ready_with_a_live_worker_is_ok(client, db):
    worker_seen("host-a:10", [])
    body = client.get("/health/ready").json()
    assert body["status"] == "ok"


def test_a_failing_required_check_answers_503(admin_client, monkeypatch):
    def broken() -> str:
        raise ConnectionError("broker unreachable")

    monkeypatch.setitem(health.READINESS_CHECKS, "broker", (broken, True))
    response = admin_client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["detail"] == "ConnectionError: broker unreachable"


def test_channel_layer_check_round_trips(settings):
    detail = health.check_channel_layer()
    if settings.REDIS_URL:
        assert detail == "send/receive round trip ok"
    else:
        assert "in-process" in detail


def test_ready_shows_check_details_to_operators_only(client, admin_client, db, member):
    worker_seen("host-a:10", [])
    client.force_login(member)

    for asker in (Client(), client):  # anonymous (a load balancer), a signed-in member
        checks = asker.get("/health/ready").json()["checks"]
        assert all("detail" not in check for check in checks.values())
        assert checks["workers"]["ok"] is True
    operator_checks = admin_client.get("/health/ready").json()["checks"]
    assert operator_checks["workers"]["detail"] == "1 worker(s) alive"
