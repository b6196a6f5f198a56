"""Prometheus metrics of refresh, token requests and security events, on the app's own registry
(built in app.py, carried in ``RefreshDeps``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from shared.metrics import MetricDefinitions

LEAD_BUCKETS = (0.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)


class RefreshMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        define = MetricDefinitions(registry, "calsync_auth_")
        self.grants = define.gauge("grants", "Grants by state", "state")
        self.refreshes = define.counter("refreshes_total", "Refresh outcomes by class", "outcome")
        self.lead = define.histogram(
            "refresh_lead_seconds",
            "How long before the access token expired it was refreshed (0: already expired)",
            buckets=LEAD_BUCKETS,
        )
        self.token_answers = define.counter("token_answers_total", "Token RPC answers by status", "status")
        self.security_events = define.counter(
            "security_events_total", "Security events received, by type", "event"
        )
        self.alerts = define.counter("operator_alerts_total", "Operator alerts by kind", "kind")
