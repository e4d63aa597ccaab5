"""Prometheus exposition at /metrics: a custom collector that reads the database on each scrape.

The figures are the ones of monitoring.metrics (all projects). A registry of its own keeps the
process's default collectors out: the numbers describe the whole system, not one web process.
"""

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from executions.models import ExecutionStatus
from monitoring.alerts import alerts_open
from monitoring.metrics import metrics_snapshot
from monitoring.models import AlertKind
from monitoring.workers import queue_stuck, workers_recent

PREFIX = "intellibrowse"


def _gauge(name: str, doc: str, value, labels: list[str] | None = None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)
    if labels is None and value is not None:
        family.add_metric([], value)
    return family


class IntelliBrowseCollector:
    def collect(self):
        m = metrics_snapshot()
        queue, hour = m["queue"], m["last_hour"]

        depth = _gauge("queue_depth", "Queued executions by priority.", None, ["priority"])
        for priority, count in queue["depth_by_priority"].items():
            depth.add_metric([priority], count)
        yield depth
        yield _gauge("queue_paused", "1 while the queue is paused.", int(queue["paused"]))
        yield _gauge(
            "queue_oldest_seconds",
            "Age of the oldest claimable queued execution (0 when none).",
            queue["oldest_queued_seconds"] or 0,
        )
        yield _gauge("executions_running", "Executions running or cancelling.", m["running"])
        yield _gauge(
            "executions_awaiting_input",
            "Manual executions waiting for a person.",
            m["awaiting_input"],
        )
        yield _gauge(
            "throughput_per_minute",
            "Executions finished per minute (15-minute average).",
            m["throughput_per_minute"],
        )
        finished = _gauge(
            "executions_finished_last_hour",
            "Executions finished in the last hour.",
            None,
            ["status"],
        )
        for status in ExecutionStatus:
            if status in hour["by_outcome"] or status in ("passed", "failed"):
                finished.add_metric([status.value], hour["by_outcome"].get(status, 0))
        yield finished
        if hour["failure_rate"] is not None:
            yield _gauge(
                "failure_rate",
                "Share of runs finished in the last hour that failed, errored or timed out.",
                hour["failure_rate"],
            )
        duration = _gauge(
            "execution_duration_seconds",
            "Run time of executions finished in the last hour, by quantile.",
            None,
            ["quantile"],
        )
        for quantile, key in (("0.5", "duration_p50_seconds"), ("0.95", "duration_p95_seconds")):
            if hour[key] is not None:
                duration.add_metric([quantile], hour[key])
        yield duration
        stuck = queue_stuck()
        yield _gauge(
            "queue_stuck_executions",
            "Executions that could start and waited past the lease time while a worker sat idle "
            "(0 when none).",
            stuck.waiting if stuck else 0,
        )
        yield from self._workers()
        yield self._alerts()

    def _workers(self):
        workers = workers_recent()
        yield _gauge(
            "workers_alive", "Worker processes seen recently.", sum(w["alive"] for w in workers)
        )
        seen = _gauge(
            "worker_last_seen_timestamp_seconds",
            "When each worker process last reported (Unix time).",
            None,
            ["worker"],
        )
        for w in workers:
            seen.add_metric([w["worker_id"]], w["last_seen"].timestamp())
        yield seen

    def _alerts(self):
        open_kinds = set(alerts_open().values_list("kind", flat=True))
        family = _gauge("alert_open", "1 while an alert of this kind is open.", None, ["kind"])
        for kind in AlertKind:
            family.add_metric([kind.value], int(kind in open_kinds))
        return family


registry = CollectorRegistry(auto_describe=False)
registry.register(IntelliBrowseCollector())


def render_metrics() -> bytes:
    return generate_latest(registry)
