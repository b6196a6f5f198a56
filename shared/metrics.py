"""Prometheus metric definitions for a service's ``adapters/metrics.py``: each metric on the app's own
registry (built in the composition root), named with the service's prefix, one call a metric."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class MetricDefinitions:
    """Defines metrics on ``registry``, each named ``prefix`` + its own name (``calsync_auth_`` + ...)."""

    def __init__(self, registry: CollectorRegistry, prefix: str) -> None:
        self._registry = registry
        self._prefix = prefix

    def counter(self, name: str, documentation: str, *labels: str) -> Counter:
        return Counter(self._prefix + name, documentation, labels, registry=self._registry)

    def gauge(self, name: str, documentation: str, *labels: str) -> Gauge:
        return Gauge(self._prefix + name, documentation, labels, registry=self._registry)

    def histogram(self, name: str, documentation: str, *labels: str, buckets: Sequence[float]) -> Histogram:
        return Histogram(self._prefix + name, documentation, labels, buckets=buckets, registry=self._registry)
