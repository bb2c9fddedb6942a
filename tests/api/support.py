"""A live in-process cluster for API tests (the `cluster` fixture in conftest.py).

`LiveCluster` writes a testnet with `create_testnet`, then runs its nodes,
each with its REST/WebSocket server and its gRPC server, in one asyncio event
loop on a background thread. Tests talk to it over real sockets with ordinary
synchronous clients (httpx, websockets.sync, grpc), so they read like a user's
code. The `cluster` fixture is one such cluster (one validator: blocks commit every
~100 ms) per test module; tests use their own trader accounts so they do not
depend on each other's nonces.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bftx.api.grpc.server import GrpcServer
from bftx.api.server import ApiServer
from bftx.chain import Genesis
from bftx.crypto import KeyPair, load_key
from bftx.exchange import OrderType, PlaceOrder, Side, sign_tx
from bftx.node.config import load_config
from bftx.node.runtime import Node
from bftx.node.testnet import CHAIN_ID, create_testnet

T = TypeVar("T")

START_TIMEOUT_S = 20.0
COMMIT_TIMEOUT_S = 10.0
MARKET = "BTC/USD"


class LiveCluster:
    def __init__(
        self, directory: Path, validators: int = 1, permissioned_reads: bool = False
    ) -> None:
        self.testnet = create_testnet(
            directory, validators, traders=40, permissioned_reads=permissioned_reads
        )
        self.accounts: dict[str, KeyPair] = {
            name: load_key(directory / "accounts" / f"{name}.json")
            for name in self.testnet.accounts
        }
        self.nodes: list[Node] = []
        self.api_ports: list[int] = []
        self.grpc_ports: list[int] = []
        self._servers: list[ApiServer | GrpcServer] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._next_trader = 0
        self.http = httpx.Client(timeout=5.0)

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self.call(self._start(), START_TIMEOUT_S)

    async def _start(self) -> None:
        for config in self.testnet.nodes:
            loaded = load_config(config.home)
            node = Node(loaded, Genesis.load(loaded.genesis_file), load_key(loaded.key_file))
            await node.start()
            api = ApiServer(node, loaded.api_host, loaded.api_port)
            await api.start()
            assert loaded.grpc_port is not None  # create_testnet gives every node one
            grpc_server = GrpcServer(node, loaded.api_host, loaded.grpc_port)
            await grpc_server.start()
            self.nodes.append(node)
            self.api_ports.append(loaded.api_port)
            self.grpc_ports.append(loaded.grpc_port)
            self._servers += [api, grpc_server]

    def close(self) -> None:
        self.http.close()
        try:
            self.call(self._stop(), 20.0)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10.0)

    async def _stop(self) -> None:
        for server in self._servers:
            await server.stop()
        for node in self.nodes:
            await node.stop()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 10.0) -> T:
        """Run ``coroutine`` in the cluster's loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout_s)

    # --- addresses -------------------------------------------------------------------

    def api_url(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.api_ports[index]}"

    def ws_url(self, index: int = 0) -> str:
        return f"ws://127.0.0.1:{self.api_ports[index]}/v1/ws"

    def grpc_target(self, index: int = 0) -> str:
        return f"127.0.0.1:{self.grpc_ports[index]}"

    # --- driving it ------------------------------------------------------------------

    def fresh_traders(self, count: int) -> list[KeyPair]:
        """Funded accounts no other test of this module uses."""
        names = [f"trader{self._next_trader + i:03d}" for i in range(count)]
        self._next_trader += count
        return [self.accounts[name] for name in names]

    def status(self, index: int = 0) -> dict[str, Any]:
        result: dict[str, Any] = self.http.get(f"{self.api_url(index)}/v1/status").json()
        return result

    def nonce(self, key: KeyPair) -> int:
        body = self.http.get(f"{self.api_url()}/v1/accounts/{key.address.hex()}").json()
        return int(body["nonce"])

    def order_tx(self, key: KeyPair, nonce: int, side: Side, price_ticks: int, lots: int) -> bytes:
        order = PlaceOrder(MARKET, side, OrderType.LIMIT, price_ticks, lots, 0)
        return sign_tx(key, CHAIN_ID, nonce, order)

    def submit(self, tx: bytes, index: int = 0) -> str:
        response = self.http.post(
            f"{self.api_url(index)}/v1/txs", json={"tx": base64.b64encode(tx).decode()}
        )
        body = response.json()
        assert body["accepted"], body
        return str(body["tx_hash"])

    def wait_committed(self, tx_hash: str, index: int = 0) -> dict[str, Any]:
        def committed() -> dict[str, Any] | None:
            body: dict[str, Any] = self.http.get(f"{self.api_url(index)}/v1/txs/{tx_hash}").json()
            return body if body["status"] == "committed" else None

        return wait_for(committed, COMMIT_TIMEOUT_S, f"tx {tx_hash[:12]} to commit")

    def place(self, key: KeyPair, side: Side, price_ticks: int, lots: int) -> dict[str, Any]:
        """Place a limit order and wait until it is committed; the tx status."""
        return self.wait_committed(
            self.submit(self.order_tx(key, self.nonce(key), side, price_ticks, lots))
        )


def wait_for(predicate: Callable[[], T | None], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)
