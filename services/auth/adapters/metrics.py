"""Prometheus metrics of refresh, token requests and security events, on the app's own registry
(built in app.py, carried in ``RefreshDeps``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LEAD_BUCKETS = (0.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)


@dataclass
class RefreshMetrics:
    registry: CollectorRegistry | None
    grants: Gauge = field(init=False)
    refreshes: Counter = field(init=False)
    lead: Histogram = field(init=False)
    token_answers: Counter = field(init=False)
    security_events: Counter = field(init=False)
    alerts: Counter = field(init=False)

    def __post_init__(self) -> None:
        registry = self.registry
        self.grants = Gauge("calsync_auth_grants", "Grants by state", ["state"], registry=registry)
        self.refreshes = Counter(
            "calsync_auth_refreshes_total", "Refresh outcomes by class", ["outcome"], registry=registry
        )
        self.lead = Histogram(
            "calsync_auth_refresh_lead_seconds",
            "How long before the access token expired it was refreshed (0: already expired)",
            buckets=LEAD_BUCKETS,
            registry=registry,
        )
        self.token_answers = Counter(
            "calsync_auth_token_answers_total", "Token RPC answers by status", ["status"], registry=registry
        )
        self.security_events = Counter(
            "calsync_auth_security_events_total",
            "Security events received, by type",
            ["event"],
            registry=registry,
        )
        self.alerts = Counter(
            "calsync_auth_operator_alerts_total", "Operator alerts by kind", ["kind"], registry=registry
        )
