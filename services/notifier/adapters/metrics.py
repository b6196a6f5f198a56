"""The notifier's own Prometheus metrics: email attempts by outcome, emails given up by reason and
the open episodes gauge.

Created once in the composition root on the app's registry; the delivery use cases update them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.emails = Counter(
            "calsync_notifier_emails_total",
            "Email delivery attempts by kind and outcome (sent, maybe_sent, retry, failed)",
            ["kind", "outcome"],
            registry=registry,
        )
        self.failed = Counter(
            "calsync_notifier_emails_failed_total",
            "Emails given up, by reason (no_address, invalid_address, invalid_name, unsafe_header,"
            " smtp_rejected, retries_exhausted)",
            ["reason"],
            registry=registry,
        )
        self.episodes_open = Gauge(
            "calsync_notifier_episodes_open", "Problem episodes not yet ended", registry=registry
        )
