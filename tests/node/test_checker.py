"""The agreement checker every process test relies on fails when nodes disagree."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bftx.node.testnet import create_testnet
from tests.node.cluster import AgreementChecker, Cluster, Disagreement

TX = "ab" * 32


def test_two_blocks_at_one_height_are_a_disagreement() -> None:
    checker = AgreementChecker()
    checker.record_block("node0", 5, "aa" * 32, "11" * 32, [TX])
    checker.record_block("node1", 5, "aa" * 32, "11" * 32, [TX])
    with pytest.raises(Disagreement, match="height 5: node2 reports block"):
        checker.record_block("node2", 5, "bb" * 32, "11" * 32, [TX])


def test_one_block_with_two_state_roots_is_a_disagreement() -> None:
    checker = AgreementChecker()
    checker.record_block("node0", 3, "aa" * 32, "11" * 32, [])
    with pytest.raises(Disagreement, match="height 3"):
        checker.record_block("node1", 3, "aa" * 32, "22" * 32, [])
    with pytest.raises(Disagreement, match="node3 has state root"):
        checker.record_state("node3", 3, "33" * 32)


def test_a_committed_tx_that_moves_or_vanishes_is_lost() -> None:
    checker = AgreementChecker()
    checker.record_block("node0", 7, "aa" * 32, "11" * 32, [TX])
    with pytest.raises(Disagreement, match="committed at height 7, node1 says height 9"):
        checker.record_block("node1", 9, "cc" * 32, "11" * 32, [TX])
    with pytest.raises(Disagreement, match="now node2 says it is unknown"):
        checker.record_tx_status("node2", TX, {"status": "unknown"})
    checker.record_tx_status("node3", TX, {"status": "committed", "height": 7})


class _FakeNode(BaseHTTPRequestHandler):
    """A node API that serves a fixed chain: ``server.blocks`` maps height to block hash."""

    def do_GET(self) -> None:
        blocks: dict[int, str] = self.server.blocks  # type: ignore[attr-defined]
        if self.path == "/v1/status":
            body = {"height": max(blocks), "state_root": "11" * 32}
        elif self.path.startswith("/v1/blocks/") and int(self.path.rsplit("/", 1)[1]) in blocks:
            height = int(self.path.rsplit("/", 1)[1])
            body = {"hash": blocks[height], "state_root": "11" * 32, "txs": []}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake_nodes() -> Iterator[list[ThreadingHTTPServer]]:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _FakeNode) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield servers
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_scanning_nodes_that_serve_different_blocks_fails(
    tmp_path: Path, fake_nodes: list[ThreadingHTTPServer]
) -> None:
    honest, forked = fake_nodes
    honest.blocks = {1: "aa" * 32, 2: "bb" * 32}  # type: ignore[attr-defined]
    forked.blocks = {1: "aa" * 32, 2: "ff" * 32}  # type: ignore[attr-defined]
    cluster = Cluster(create_testnet(tmp_path / "testnet", 2))
    try:
        for node, server in zip(cluster.nodes, fake_nodes, strict=True):
            node.api_url = f"http://127.0.0.1:{server.server_address[1]}"
        cluster.scan([0])
        with pytest.raises(Disagreement, match="height 2: node1 reports block ffff"):
            cluster.check_agreement()
    finally:
        cluster.close()
