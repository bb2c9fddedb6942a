"""The relayer's Prometheus metrics, served by prometheus_client's own HTTP server."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class RelayerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.relayed = Counter(
            "bftx_relayer_relayed",
            "Packets, acks and timeouts this relayer got committed, by kind and direction",
            ["kind", "direction"],
            registry=self.registry,
        )
        self.already_done = Counter(
            "bftx_relayer_already_done",
            "Submissions the chain answered as already done (another relayer, or a retry)",
            ["kind", "direction"],
            registry=self.registry,
        )
        self.refused = Counter(
            "bftx_relayer_refused",
            "Submissions the chain refused for another reason, by result code",
            ["kind", "code"],
            registry=self.registry,
        )
        self.client_updates = Counter(
            "bftx_relayer_client_updates",
            "Light client updates this relayer got committed, by the chain holding the client",
            ["chain"],
            registry=self.registry,
        )
        self.errors = Counter(
            "bftx_relayer_errors",
            "Passes cut short by an unreachable node or a failed request",
            ["chain"],
            registry=self.registry,
        )
        self.pending = Gauge(
            "bftx_relayer_pending_packets",
            "Packet commitments awaiting receive, ack or timeout at the last pass, by direction",
            ["direction"],
            registry=self.registry,
        )
        self.client_height = Gauge(
            "bftx_relayer_client_height",
            "Latest height of each light client, by the chain holding it",
            ["chain"],
            registry=self.registry,
        )
        self.pass_seconds = Histogram(
            "bftx_relayer_pass_seconds",
            "Duration of one relay pass over one direction",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
            registry=self.registry,
        )

    def serve(self, host: str, port: int) -> int:
        """Serve ``GET /metrics`` on ``host:port`` (0: a free port) in a thread; the port."""
        server, _thread = start_http_server(port, host, self.registry)
        bound: int = server.server_address[1]
        return bound
