"""sync's Prometheus metrics: how writes to Google end, which Google errors they meet, how inbound
syncs end, and changes the safety net found that no push had announced."""

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
            "Google errors met while writing or reading events, by class",
            ["kind"],
            registry=registry,
        )
        self.inbound_runs = Counter(
            "calsync_sync_inbound_runs_total",
            "Inbound calendar syncs by outcome (incremental, full, no_token, google_error, lease_lost)",
            ["outcome"],
            registry=registry,
        )
        self.missed_pushes = Counter(
            "calsync_sync_channel_missed_pushes_total",
            "Safety-net syncs that found changes although no push notification had come",
            registry=registry,
        )
