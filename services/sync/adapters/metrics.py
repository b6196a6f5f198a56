"""sync's Prometheus metrics: how writes to Google end, which Google errors they meet, how push
notifications are answered and what the channel keeper does."""

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
        self.pushes = Counter(
            "calsync_sync_push_notifications_total",
            "Push notifications received, by outcome (sync, changed, unknown, stopped, forbidden,"
            " too_large, unavailable)",
            ["outcome"],
            registry=registry,
        )
        self.channels = Counter(
            "calsync_sync_channels_total",
            "Watch channel actions, by kind (created, watch_failed, stopped, abandoned, stop_failed)",
            ["action"],
            registry=registry,
        )
