"""The node's Prometheus metrics and the tiny HTTP endpoint that serves them.

Values that other components already count (the replica's dropped messages,
the transport's counters) are read at scrape time by a collector, so the hot
paths never touch a metrics object for them.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from bftx.errors import ConfigError
from bftx.node.collection import GENERATIONS, PAUSE_BUCKETS_S, CollectorPauses

_REQUEST_BYTES_MAX = 8_192


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.height = Gauge(
            "bftx_height", "Height of the last executed block", registry=self.registry
        )
        self.view = Gauge("bftx_view", "Current consensus view", registry=self.registry)
        self.view_changes = Counter(
            "bftx_view_changes", "Views installed after the first", registry=self.registry
        )
        self.mempool_txs = Gauge(
            "bftx_mempool_txs", "Txs waiting in the mempool", registry=self.registry
        )
        self.txs_committed = Counter(
            "bftx_txs_committed", "Txs in committed blocks", registry=self.registry
        )
        self.blocks_committed = Counter(
            "bftx_blocks_committed", "Blocks committed", registry=self.registry
        )
        self.txs_submitted = Counter(
            "bftx_txs_submitted",
            "Txs submitted to this node, by result",
            ["result"],
            registry=self.registry,
        )
        self.gossip_backlog = Gauge(
            "bftx_gossip_backlog_txs",
            "Gossiped txs waiting to be admitted (a slice of the event loop at a time)",
            registry=self.registry,
        )
        self.gossip_batches_dropped = Counter(
            "bftx_gossip_batches_dropped",
            "Gossiped tx batches dropped because the backlog was full",
            registry=self.registry,
        )
        self.halted = Gauge(
            "bftx_halted", "1 once the node halted (see /v1/health for why)", registry=self.registry
        )
        self.fault_margin = Gauge(
            "bftx_fault_margin",
            "Validators that may stop signing before the chain stops (0: one fault away)",
            registry=self.registry,
        )
        self.commit_latency = Histogram(
            "bftx_commit_latency_seconds",
            "From submission to this node until the tx's block committed",
            buckets=(0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
            registry=self.registry,
        )

    def add_counts(
        self, name: str, documentation: str, label: str, read: Callable[[], Mapping[str, int]]
    ) -> None:
        """Export a mapping another component keeps (label value -> count) as a counter."""
        self.registry.register(_MappingCollector(name, documentation, label, read, counter=True))

    def add_gauges(
        self, name: str, documentation: str, label: str, read: Callable[[], Mapping[str, int]]
    ) -> None:
        self.registry.register(_MappingCollector(name, documentation, label, read, counter=False))

    def add_gc_pauses(self, pauses: CollectorPauses) -> None:
        """Export the pauses of the process's garbage collector (read when scraped)."""
        self.registry.register(_GcPausesCollector(pauses))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _MappingCollector(Collector):
    def __init__(
        self,
        name: str,
        documentation: str,
        label: str,
        read: Callable[[], Mapping[str, int]],
        counter: bool,
    ) -> None:
        self.name, self.documentation, self.label, self.read, self.counter = (
            name,
            documentation,
            label,
            read,
            counter,
        )

    def collect(self) -> Iterator[Metric]:
        family: CounterMetricFamily | GaugeMetricFamily
        if self.counter:
            family = CounterMetricFamily(self.name, self.documentation, labels=[self.label])
        else:
            family = GaugeMetricFamily(self.name, self.documentation, labels=[self.label])
        for key, value in sorted(self.read().items()):
            family.add_metric([key], value)
        yield family


class _GcPausesCollector(Collector):
    def __init__(self, pauses: CollectorPauses) -> None:
        self.pauses = pauses

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "bftx_gc_pause_seconds",
            "Collections of the process's cyclic garbage collector, by generation: each pauses "
            "the event loop (bftx.node.collection)",
            labels=["generation"],
        )
        bounds = [*(str(bound) for bound in PAUSE_BUCKETS_S), "+Inf"]
        for generation in range(GENERATIONS):
            counts = list(itertools.accumulate(self.pauses.bucket_counts[generation]))
            family.add_metric(
                [str(generation)],
                list(zip(bounds, counts, strict=True)),
                self.pauses.seconds[generation],
            )
        yield family


async def serve_metrics(metrics: NodeMetrics, host: str, port: int) -> asyncio.Server:
    """GET /metrics in the Prometheus text format; anything else is a 404."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            line = request[:_REQUEST_BYTES_MAX].split(b"\r\n", 1)[0].split()
            if len(line) >= 2 and line[0] == b"GET" and line[1].split(b"?")[0] == b"/metrics":
                body, status, kind = metrics.render(), b"200 OK", b"text/plain; version=0.0.4"
            else:
                body, status, kind = (
                    b"not found: try GET /metrics\n",
                    b"404 Not Found",
                    b"text/plain",
                )
            writer.write(
                b"HTTP/1.1 "
                + status
                + b"\r\nContent-Type: "
                + kind
                + b"\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
        except (
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
        ):
            pass
        finally:
            writer.close()

    try:
        return await asyncio.start_server(handle, host, port, limit=_REQUEST_BYTES_MAX)
    except OSError as error:  # the port taken, the host not resolvable or not ours
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(f"[metrics] port {port} is in use") from error
        raise ConfigError(
            f"[metrics] host {host!r}, port {port}: cannot listen there: {error.strerror or error}"
        ) from error
