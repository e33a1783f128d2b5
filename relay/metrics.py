"""Prometheus metrics (CONTRACT §9), one registry per app: no globals."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class _OutboxCollector(Collector):
    def __init__(self, pending: Callable[[], dict[str, int]]) -> None:
        self._pending = pending

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "relay_outbox_pending", "Deliveries waiting or in flight, per connector", labels=["connector"]
        )
        try:
            for connector, n in sorted(self._pending().items()):
                family.add_metric([connector], n)
        except Exception:  # a scrape must not fail because storage is down
            pass
        yield family


class Metrics:
    """The relay's counters and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events_received = Counter(
            "relay_events_received", "Events received, per endpoint", ["endpoint"], registry=r
        )
        self.events_rejected = Counter(
            "relay_events_rejected", "Events rejected, per reason", ["reason"], registry=r
        )
        self.consent_decisions = Counter(
            "relay_consent_decisions",
            "Consent decisions per connector",
            ["connector", "decision"],
            registry=r,
        )
        self.deliveries = Counter(
            "relay_deliveries",
            "Deliveries reaching a status, per connector",
            ["connector", "status"],
            registry=r,
        )
        self.delivery_attempts = Counter(
            "relay_delivery_attempts", "Delivery attempts per outcome", ["connector", "outcome"], registry=r
        )
        self.delivery_latency = Histogram(
            "relay_delivery_latency_seconds",
            "Seconds from receiving an event to the platform's acknowledgement",
            ["connector"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400),
            registry=r,
        )
        self.audience_members_synced = Counter(
            "relay_audience_members_synced",
            "Audience members acknowledged by a platform",
            ["audience", "destination", "op"],
            registry=r,
        )

    def watch_outbox(self, pending: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_OutboxCollector(pending))

    def render(self) -> bytes:
        return generate_latest(self.registry)
