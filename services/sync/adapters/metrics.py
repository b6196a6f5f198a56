"""sync's Prometheus metrics: how writes to Google end, which Google errors they meet, how inbound
syncs end, changes the safety net found that no push had announced, how push notifications are
answered and what the channel keeper does."""

from __future__ import annotations

from typing import Any

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
            "google_errors_total", "Google errors met while writing or reading events, by class", "kind"
        )
        self.inbound_runs = define.counter(
            "inbound_runs_total",
            "Inbound calendar syncs by outcome (incremental, full, no_token, google_error, lease_lost)",
            "outcome",
        )
        self.missed_pushes = define.counter(
            "channel_missed_pushes_total",
            "Safety-net syncs that found changes although no push notification had come",
        )
        self.pushes = define.counter(
            "push_notifications_total",
            "Push notifications received, by outcome (sync, changed, unknown, stopped, forbidden,"
            " too_large, unavailable)",
            "outcome",
        )
        self._push_outcomes: dict[str, Any] = {}
        self.channels = define.counter(
            "channels_total",
            "Watch channel actions, by kind (created, watch_failed, stopped, abandoned, stop_failed)",
            "action",
        )

    def count_push(self, outcome: str) -> None:
        """One push notification answered with ``outcome`` (its counter child kept: this runs for
        every notification, and ``labels()`` costs more than the count)."""
        child = self._push_outcomes.get(outcome)
        if child is None:
            child = self._push_outcomes[outcome] = self.pushes.labels(outcome)
        child.inc()
