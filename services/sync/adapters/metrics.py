"""sync's Prometheus metrics: how writes to Google end, and which Google errors they meet."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class SyncMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.writes = Counter(
            "calsync_sync_writes_total",
            "Appointment writes by outcome (synced, deferred, failed, skipped, calendar_problem, no_token)",
            ["outcome"],
            registry=registry,
        )
        self.google_errors = Counter(
            "calsync_sync_google_errors_total",
            "Google errors met while writing, by class",
            ["kind"],
            registry=registry,
        )
