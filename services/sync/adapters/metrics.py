"""sync's Prometheus metrics: how writes to Google end, and which Google errors they meet."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from shared.metrics import MetricDefinitions

WRITE_OUTCOMES = "synced, deferred, failed, skipped, calendar_problem, no_token"


class SyncMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        define = MetricDefinitions(registry, "calsync_sync_")
        self.writes = define.counter(
            "writes_total", f"Appointment writes by outcome ({WRITE_OUTCOMES})", "outcome"
        )
        self.google_errors = define.counter(
            "google_errors_total", "Google errors met while writing, by class", "kind"
        )
