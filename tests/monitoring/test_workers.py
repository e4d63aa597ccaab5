"""Worker liveness as reported by each worker process's watchdog."""

from datetime import timedelta

from django.utils import timezone

from engine import watchdog
from monitoring.models import WorkerHeartbeat
from monitoring.workers import worker_gone, worker_seen, workers_alive, workers_forget_gone


def test_worker_seen_records_host_pid_and_running(db):
    worker_seen("build-7:4242", [3, 1])
    worker = WorkerHeartbeat.objects.get()
    assert (worker.host, worker.pid, worker.running) == ("build-7", 4242, [1, 3])


def test_worker_seen_updates_the_same_row(db):
    worker_seen("build-7:4242", [1])
    worker_seen("build-7:4242", [])
    assert WorkerHeartbeat.objects.get().running == []


def test_worker_seen_never_raises(db, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(WorkerHeartbeat.objects, "update_or_create", broken)
    worker_seen("build-7:4242", [])
    assert "could not record" in caplog.text


def test_a_worker_not_seen_recently_is_not_alive(db, settings):
    settings.IB_WORKER_ALIVE_SECONDS = 30
    worker_seen("build-7:4242", [])
    WorkerHeartbeat.objects.update(last_seen=timezone.now() - timedelta(seconds=31))
    assert not workers_alive().exists()


def test_long_gone_workers_are_forgotten(db):
    worker_seen("build-7:4242", [])
    WorkerHeartbeat.objects.update(last_seen=timezone.now() - timedelta(days=8))
    assert workers_forget_gone() == 1


def test_the_watchdog_reports_this_process_and_what_it_runs(db, monkeypatch):
    monkeypatch.setitem(watchdog._tracked, 42, (None, watchdog.worker_id()))
    watchdog._report_alive()
    worker = WorkerHeartbeat.objects.get(worker_id=watchdog.worker_id())
    assert worker.running == [42]


def test_worker_gone_forgets_that_worker_only(db):
    worker_seen("build-7:4242", [])
    worker_seen("build-7:4343", [])
    worker_gone("build-7:4242")
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["build-7:4343"]


def test_worker_gone_never_raises(db, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(WorkerHeartbeat.objects, "filter", broken)
    worker_gone("build-7:4242")
    assert "could not record that worker build-7:4242 stopped" in caplog.text


def test_a_stopping_watchdog_removes_this_process(db):
    worker_seen("build-7:4242", [])
    watchdog._report_alive()
    watchdog._report_gone()
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["build-7:4242"]
