"""The node's Prometheus metrics, all defined here, each node with its own registry.

A registry per node (never the process-wide default) lets several nodes, and tests, share a process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

NAMESPACE = "zetina"
STEPS = ("fetch", "run", "prove", "verify", "submit")
STEP_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class NodeMetrics:
    """One node's metrics; update them where the events happen, render them with `render()`."""

    registry: CollectorRegistry
    jobs: Gauge
    step_seconds: Histogram
    peers: Gauge
    messages_dropped: Counter

    @classmethod
    def create(cls) -> NodeMetrics:
        """A fresh registry holding the project's metrics and process CPU/memory/fd figures."""
        registry = CollectorRegistry()
        ProcessCollector(namespace=NAMESPACE, registry=registry)
        common = {"namespace": NAMESPACE, "registry": registry}
        metrics = cls(
            registry=registry,
            jobs=Gauge("jobs", "Jobs this node holds, by state.", ["state"], **common),
            step_seconds=Histogram(
                "step_duration_seconds",
                "Time spent in each job step.",
                ["step"],
                buckets=STEP_BUCKETS,
                **common,
            ),
            peers=Gauge("peers", "Peers currently connected.", **common),
            messages_dropped=Counter(
                "messages_dropped",
                "Valid job messages this node's role declined (an insolvent delegator, say), by "
                "topic and reason.",
                ["topic", "reason"],
                **common,
            ),
        )
        for step in STEPS:  # every step is exported from the start, at zero
            metrics.step_seconds.labels(step=step)
        return metrics

    def observe_step(self, step: str, seconds: float) -> None:
        """Record that one job step took `seconds`; `step` must be one of STEPS."""
        if step not in STEPS:
            raise ValueError(f"unknown step {step!r}: use one of {', '.join(STEPS)}")
        if seconds < 0:
            raise ValueError(f"step duration must be >= 0, got {seconds}")
        self.step_seconds.labels(step=step).observe(seconds)

    def count_gossip_drops(self, counts: Callable[[], Mapping[str, int]]) -> None:
        """Export `counts()` (dropped gossip messages by reason) when scraped."""
        self.registry.register(
            _DropCounts(
                "gossip_messages_dropped",
                "Gossip messages dropped before delivery (rejected or ignored), by reason.",
                counts,
            )
        )

    def count_outbound_drops(self, counts: Callable[[], Mapping[str, int]]) -> None:
        """Export `counts()` (outbound gossip dropped, not sent late, by reason) when scraped."""
        self.registry.register(
            _DropCounts(
                "gossip_outbound_dropped",
                "Outbound gossip not sent to a peer (queue full, waited too long: RPCs; expired "
                "while queued: messages), by reason.",
                counts,
            )
        )

    def count_traffic(self, sent: Callable[[], int], received: Callable[[], int]) -> None:
        """Export `sent()` and `received()` (bytes exchanged with peers) when scraped."""
        self.registry.register(_Totals({
            "bytes_sent": ("Bytes sent to peers.", sent),
            "bytes_received": ("Bytes received from peers.", received),
        }))

    def render(self) -> bytes:
        """All metrics in the Prometheus text exposition format."""
        return generate_latest(self.registry)


class _DropCounts(Collector):
    """Drops by reason as counted by the gossip layer, read at each scrape."""

    def __init__(self, name: str, documentation: str, counts: Callable[[], Mapping[str, int]]):
        self._name = f"{NAMESPACE}_{name}"
        self._documentation = documentation
        self._counts = counts

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self._name, self._documentation, labels=["reason"])
        for reason, count in sorted(self._counts().items()):
            family.add_metric([reason], count)
        yield family


class _Totals(Collector):
    """Counters kept elsewhere (name -> documentation, reader), read at each scrape."""

    def __init__(self, readers: Mapping[str, tuple[str, Callable[[], int]]]):
        self._readers = readers

    def collect(self) -> Iterator[CounterMetricFamily]:
        for name, (documentation, read) in self._readers.items():
            yield CounterMetricFamily(f"{NAMESPACE}_{name}", documentation, value=read())
