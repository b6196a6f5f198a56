"""The notifier's own Prometheus metrics: email attempts by outcome, emails given up by reason and
the open episodes gauge.

Created once in the composition root on the app's registry; the delivery use cases update them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from shared.metrics import MetricDefinitions


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        define = MetricDefinitions(registry, "calsync_notifier_")
        self.emails = define.counter(
            "emails_total",
            "Email delivery attempts by kind and outcome (sent, maybe_sent, retry, failed)",
            "kind",
            "outcome",
        )
        self.failed = define.counter(
            "emails_failed_total",
            "Emails given up, by reason (no_address, invalid_address, invalid_name, unsafe_header,"
            " smtp_rejected, retries_exhausted)",
            "reason",
        )
        self.episodes_open = define.gauge("episodes_open", "Problem episodes not yet ended")
