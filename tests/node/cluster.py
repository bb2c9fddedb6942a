"""Real node processes for end-to-end tests (DESIGN.md section 8).

A `Cluster` is one testnet written by `create_testnet` into a test's own
directory, run as one ``python -m bftx.cli node start`` process per node and
driven through the REST API. It starts, stops (SIGTERM), kills (SIGKILL) and
restarts nodes, submits signed txs, and reads status and blocks. Every process
it starts is killed by `close`, which the fixtures call even when a test fails.

`AgreementChecker` is the safety check every test ends with: every block any
node ever reported, by height, and the height of every tx seen committed. A
second, different block (or state root) at a height, or a committed tx that
moves or disappears, raises `Disagreement`.

HTTP calls run on a small thread pool. In the multi-host tests those threads
enter the test's hub network namespace first (`namespace_entered`), so the
test talks to nodes that are reachable only inside the namespaces it created.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bftx.crypto import KeyPair, load_key
from bftx.exchange import OrderType, PlaceOrder, Side, sign_tx
from bftx.node.testnet import CHAIN_ID, Testnet, create_testnet

T = TypeVar("T")

HTTP_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 20.0
HTTP_WORKERS = 6
PRICE_TICKS = 4_500_000  # $45,000 per BTC
_CLONE_NEWNET = 0x40000000


class Disagreement(AssertionError):
    """Two nodes reported different blocks at one height, or a committed tx moved or vanished."""


class NodeUnavailable(Exception):
    """A node's API did not answer (the node is down, starting, or partitioned away)."""


def wait_for(predicate: Callable[[], T], timeout_s: float, what: str, interval_s: float = 0.1) -> T:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` otherwise.

    `NodeUnavailable` from the predicate counts as "not yet".
    """
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except NodeUnavailable as error:
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}{detail}")
        time.sleep(interval_s)


def namespace_entered(name: str) -> None:
    """Move the calling thread into network namespace ``name`` (sockets it opens live there)."""
    libc = ctypes.CDLL(None, use_errno=True)
    descriptor = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(descriptor, _CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns({name}): {os.strerror(error)}")
    finally:
        os.close(descriptor)


# --- the checker ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeenBlock:
    block_hash: str
    state_root: str
    node: str  # the first node that reported it


@dataclass
class AgreementChecker:
    """What nodes reported, checked for agreement as it arrives.

    Blocks are recorded by height; a tx is committed at the height of the block
    that holds it. Nothing is ever forgotten, so a node that comes back after a
    crash or a restart must report exactly what was recorded before.
    """

    blocks: dict[int, SeenBlock] = field(default_factory=dict)
    tx_heights: dict[str, int] = field(default_factory=dict)

    def record_block(
        self, node: str, height: int, block_hash: str, state_root: str, txs: Iterable[str]
    ) -> None:
        seen = self.blocks.get(height)
        if seen is None:
            self.blocks[height] = SeenBlock(block_hash, state_root, node)
        elif (seen.block_hash, seen.state_root) != (block_hash, state_root):
            raise Disagreement(
                f"height {height}: {node} reports block {block_hash[:16]} with state root "
                f"{state_root[:16]}, {seen.node} reported block {seen.block_hash[:16]} with "
                f"state root {seen.state_root[:16]}"
            )
        hashes = list(txs)
        if len(set(hashes)) != len(hashes):
            twice = sorted({tx for tx in hashes if hashes.count(tx) > 1})
            raise Disagreement(f"height {height}: {node} reports a block holding {twice} twice")
        for tx_hash in hashes:
            self._record_tx(node, tx_hash, height)

    def record_tx_status(self, node: str, tx_hash: str, status: dict[str, Any]) -> None:
        """A ``GET /v1/txs/{hash}`` answer: a tx once committed must stay committed at its height."""
        height = self.tx_heights.get(tx_hash)
        if status["status"] == "committed":
            self._record_tx(node, tx_hash, int(status["height"]))
        elif height is not None:
            raise Disagreement(
                f"tx {tx_hash[:16]} was committed at height {height}, "
                f"now {node} says it is {status['status']}"
            )

    def record_state(self, node: str, height: int, state_root: str) -> None:
        """A node's current state root (from its status) must be the one recorded for its height."""
        seen = self.blocks.get(height)
        if height > 0 and seen is not None and seen.state_root != state_root:
            raise Disagreement(
                f"height {height}: {node} has state root {state_root[:16]}, "
                f"{seen.node} reported {seen.state_root[:16]}"
            )

    def committed(self, tx_hashes: Iterable[str]) -> bool:
        return all(tx_hash in self.tx_heights for tx_hash in tx_hashes)

    def _record_tx(self, node: str, tx_hash: str, height: int) -> None:
        known = self.tx_heights.setdefault(tx_hash, height)
        if known != height:
            raise Disagreement(
                f"tx {tx_hash[:16]} was committed at height {known}, {node} says height {height}"
            )


# --- the cluster ---------------------------------------------------------------------


@dataclass
class NodeProcess:
    index: int
    name: str
    home: Path
    api_url: str
    process: subprocess.Popen[bytes] | None = None
    scanned_height: int = 0  # blocks up to here were checked by `Cluster.scan`
    missing_heights: set[int] = field(default_factory=set)  # below its height, yet no block
    env: dict[str, str] = field(default_factory=dict)  # extra environment (test hooks)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def log_path(self) -> Path:
        return self.home / "node.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Cluster:
    """One testnet's node processes and a client for their APIs."""

    def __init__(
        self,
        testnet: Testnet,
        command_prefix: Callable[[int], list[str]] | None = None,
        http_namespace: str | None = None,
    ) -> None:
        self.testnet = testnet
        self.checker = AgreementChecker()
        self.nodes = [
            NodeProcess(
                index,
                config.name,
                config.home,
                f"http://{config.api_host}:{config.api_port}",
            )
            for index, config in enumerate(testnet.nodes)
        ]
        self.extra: list[NodeProcess] = []  # processes outside the testnet (intruders)
        self._command_prefix = command_prefix or (lambda _index: [])
        self._http_namespace = http_namespace
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(
            HTTP_WORKERS, thread_name_prefix="cluster-http", initializer=self._worker_started
        )
        self._clients: list[httpx.Client] = []
        self._clients_lock = threading.Lock()

    @staticmethod
    def create(directory: Path, validators: int = 4, **options: Any) -> Cluster:
        hosts = options.pop("hosts", None)
        followers = options.pop("followers", 0)
        testnet = create_testnet(directory, validators, followers, hosts=hosts)
        return Cluster(testnet, **options)

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def running(self) -> list[int]:
        return [node.index for node in self.nodes if node.running]

    def account(self, name: str) -> KeyPair:
        return self.testnet.accounts[name]

    def node_key(self, index: int) -> KeyPair:
        """The node's own key (its validator identity)."""
        return load_key(self.testnet.nodes[index].key_file)

    # --- processes ---------------------------------------------------------------------

    def start(self, index: int) -> None:
        self.launch(self.nodes[index])

    def launch(self, node: NodeProcess) -> None:
        """Run ``node``'s home as a process; one not in `nodes` is remembered for `close`."""
        assert not node.running, f"{node.name} is already running"
        if node not in self.nodes and node not in self.extra:
            self.extra.append(node)
        command = [
            *self._command_prefix(node.index),
            sys.executable,
            "-m",
            "bftx.cli",
            "node",
            "start",
            "--home",
            str(node.home),
        ]
        with node.log_path.open("ab") as log:
            log.write(f"--- test harness: starting {node.name} ---\n".encode())
            log.flush()
            node.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **node.env},
            )

    def start_all(self, timeout_s: float = 30.0) -> None:
        for index in range(self.size):
            self.start(index)
        self.wait_connected(range(self.size), timeout_s)

    def stop(self, index: int, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, then wait for a graceful exit; the exit status."""
        return self.terminate(self.nodes[index], timeout_s)

    def terminate(self, node: NodeProcess, timeout_s: float = STOP_TIMEOUT_S) -> int:
        assert node.process is not None
        node.process.send_signal(signal.SIGTERM)
        try:
            return node.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()
            raise AssertionError(
                f"{node.name} did not stop within {timeout_s} s of SIGTERM"
            ) from None

    def kill(self, index: int) -> None:
        """SIGKILL: the node gets no chance to flush or say goodbye."""
        node = self.nodes[index]
        assert node.process is not None
        node.process.kill()
        node.process.wait()

    def restart(self, index: int, timeout_s: float = 30.0) -> None:
        self.start(index)
        self.wait_for(lambda: self.try_status(index), timeout_s, f"{self.nodes[index].name} API")

    def close(self) -> None:
        """Kill every process this cluster started; safe to call twice."""
        for node in self.nodes + self.extra:
            if node.process is not None and node.process.poll() is None:
                node.process.kill()
        for node in self.nodes + self.extra:
            if node.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    node.process.wait(10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._clients_lock:
            for client in self._clients:
                client.close()
            self._clients.clear()

    def log_tails(self, lines: int = 30) -> str:
        parts = []
        for node in self.nodes + self.extra:
            tail = node.log().splitlines()[-lines:]
            parts.append(f"=== {node.name} ({node.log_path}) ===\n" + "\n".join(tail))
        return "\n".join(parts)

    # --- HTTP --------------------------------------------------------------------------

    def _worker_started(self) -> None:
        self._local.worker = True
        if self._http_namespace is not None:
            namespace_entered(self._http_namespace)

    def call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on an HTTP worker thread (inside the hub namespace, if any)."""
        if getattr(self._local, "worker", False):
            return function()
        return self._pool.submit(function).result()

    def map(self, function: Callable[[Any], T], items: Iterable[Any]) -> list[T]:
        return list(self._pool.map(function, items))

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(timeout=HTTP_TIMEOUT_S)
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _request(self, index: int, method: str, path: str, body: Any = None) -> httpx.Response:
        url = self.nodes[index].api_url + path
        try:
            try:
                return self._client().request(method, url, json=body)
            except (httpx.ReadError, httpx.RemoteProtocolError):
                if method != "GET":
                    raise
                # A kept-alive connection to the process a restart replaced is reset on its
                # first use; the pool has dropped it now, so a read goes again once.
                return self._client().request(method, url, json=body)
        except httpx.TransportError as error:
            raise NodeUnavailable(
                f"{self.nodes[index].name}: {method} {path}: {error!r}"
            ) from error

    def get(self, index: int, path: str) -> Any:
        response = self.call(lambda: self._request(index, "GET", path))
        response.raise_for_status()
        return response.json()

    def health(self, index: int) -> tuple[int, dict[str, Any]]:
        """``GET /v1/health``: the HTTP status and the body (a problem document when halted)."""
        response = self.call(lambda: self._request(index, "GET", "/v1/health"))
        body: dict[str, Any] = response.json()
        return response.status_code, body

    def status(self, index: int) -> dict[str, Any]:
        result: dict[str, Any] = self.get(index, "/v1/status")
        return result

    def try_status(self, index: int) -> dict[str, Any] | None:
        try:
            return self.status(index)
        except NodeUnavailable:
            return None

    def height(self, index: int) -> int:
        return int(self.status(index)["height"])

    def block(self, index: int, height: int) -> dict[str, Any] | None:
        response = self.call(lambda: self._request(index, "GET", f"/v1/blocks/{height}"))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def metrics(self, index: int) -> dict[str, float]:
        """The node's Prometheus samples, keyed by their text (``bftx_p2p_total{counter="x"}``)."""
        config = self.testnet.nodes[index]
        url = f"http://{config.metrics_host}:{config.metrics_port}/metrics"
        try:
            response = self.call(lambda: self._client().get(url))
        except httpx.TransportError as error:
            raise NodeUnavailable(f"{self.nodes[index].name}: metrics: {error!r}") from error
        samples = {}
        for line in response.text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def tx_status(self, index: int, tx_hash: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(index, f"/v1/txs/{tx_hash}")
        return result

    def submit(self, index: int, tx: bytes) -> dict[str, Any]:
        body = {"tx": base64.b64encode(tx).decode()}
        response = self.call(lambda: self._request(index, "POST", "/v1/txs", body))
        result: dict[str, Any] = response.json()
        return result

    # --- waiting -----------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], T], timeout_s: float, what: str) -> T:
        try:
            return wait_for(predicate, timeout_s, what)
        except Disagreement:
            raise
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.describe()}") from None

    def describe(self) -> str:
        """One line per node: running or not, and its status if it answers."""
        lines = []
        for node in self.nodes + self.extra:
            if node.running:
                state = "running"
            elif node.process is None:
                state = "never started"
            else:
                last = (node.log().strip().splitlines() or [""])[-1][:300]
                state = f"exited with status {node.process.returncode} ({last})"
            status = self.try_status(node.index) if node.running else None
            if status is not None:
                state += (
                    f", height {status['height']}, view {status['view']}, "
                    f"peers {status['peers_connected']}"
                )
            lines.append(f"  {node.name}: {state}")
        return "\n".join(lines)

    def wait_connected(self, indices: Iterable[int], timeout_s: float = 30.0) -> None:
        """Until each node in ``indices`` has a link to every other node in ``indices``."""
        wanted = list(indices)

        def connected() -> bool:
            for index in wanted:
                status = self.try_status(index)
                others = {self.nodes[other].name for other in wanted if other != index}
                if status is None or not others <= set(status["peers_connected"]):
                    return False
            return True

        self.wait_for(connected, timeout_s, f"links between nodes {wanted}")

    def wait_height(self, indices: Iterable[int], height: int, timeout_s: float) -> None:
        wanted = list(indices)
        self.wait_for(
            lambda: all(self.height(index) >= height for index in wanted),
            timeout_s,
            f"nodes {wanted} to reach height {height}",
        )

    def wait_committed(
        self, tx_hashes: Iterable[str], indices: Iterable[int], timeout_s: float
    ) -> None:
        """Until every tx is in a block that every node in ``indices`` has (and agrees on)."""
        wanted_txs, wanted_nodes = list(tx_hashes), list(indices)

        def committed_everywhere() -> bool:
            self.scan(wanted_nodes)
            if not self.checker.committed(wanted_txs):
                return False
            top = max((self.checker.tx_heights[tx] for tx in wanted_txs), default=0)
            return all(self.nodes[index].scanned_height >= top for index in wanted_nodes)

        self.wait_for(
            committed_everywhere,
            timeout_s,
            f"{len(wanted_txs)} txs to commit on nodes {wanted_nodes}",
        )

    # --- checking ----------------------------------------------------------------------

    def scan(self, indices: Iterable[int], from_start: bool = False) -> None:
        """Feed every block each node has (since its last scan) to the checker.

        ``from_start`` re-reads all of a node's blocks: after a restart, what it
        reports must equal what was recorded before.
        """
        for index in indices:
            node = self.nodes[index]
            if from_start:
                node.scanned_height = 0
            status = self.status(index)
            top = int(status["height"])
            heights = range(node.scanned_height + 1, top + 1)
            blocks = self.map(functools.partial(self.block, index), heights)
            for height, block in zip(heights, blocks, strict=True):
                if block is None:  # skipped by state transfer: the node never had it
                    node.missing_heights.add(height)
                    continue
                node.missing_heights.discard(height)
                self.checker.record_block(
                    node.name, height, block["hash"], block["state_root"], block["txs"]
                )
            node.scanned_height = max(node.scanned_height, top)
            self.checker.record_state(node.name, top, status["state_root"])

    def check_txs(self, indices: Iterable[int], tx_hashes: Iterable[str]) -> None:
        """Ask each node for each tx: committed ones must still be committed at the same height."""
        hashes = list(tx_hashes)
        for index in indices:
            name = self.nodes[index].name
            answers = self.map(functools.partial(self.tx_status, index), hashes)
            for tx_hash, answer in zip(hashes, answers, strict=True):
                self.checker.record_tx_status(name, tx_hash, answer)

    def check_agreement(self, indices: Iterable[int] | None = None) -> int:
        """Scan all of the given nodes' blocks from height 1; the lowest of their heights."""
        wanted = list(range(self.size)) if indices is None else list(indices)
        self.scan(wanted, from_start=True)
        return min(self.nodes[index].scanned_height for index in wanted)


# --- load ----------------------------------------------------------------------------


class Load:
    """Signed limit orders from the testnet's traders, submitted by a background thread.

    Buys and sells alternate at one price, so orders trade. Each trader's
    nonces go up by one per admitted tx; a tx that no node would take (all
    targets down) is retried, so nonces never skip. ``accepted`` holds the
    hash of every tx some node admitted.
    """

    def __init__(self, cluster: Cluster, targets: Iterable[int], txs_per_second: float = 30.0):
        self.cluster = cluster
        self.targets = list(targets)
        self.interval_s = 1.0 / txs_per_second
        self.traders = [
            key
            for name, key in sorted(cluster.testnet.accounts.items())
            if name.startswith("trader")
        ]
        self.nonces = [0] * len(self.traders)
        self.accepted: list[str] = []
        self.rejected: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sent = 0
        self.failure: BaseException | None = None

    def next_tx(self) -> tuple[int, bytes]:
        """The next trader (round robin) and its next order, a buy or a sell by turns."""
        trader = self._sent % len(self.traders)
        side = Side.BUY if (self._sent // len(self.traders)) % 2 == 0 else Side.SELL
        tx = sign_tx(
            self.traders[trader],
            CHAIN_ID,
            self.nonces[trader],
            PlaceOrder("BTC/USD", side, OrderType.LIMIT, PRICE_TICKS, 1 + trader % 3, 0),
        )
        return trader, tx

    def advance(self) -> None:
        """Move on to the next trader (after submitting `next_tx` by other means)."""
        self._sent += 1

    def submit_one(self) -> str | None:
        """Submit the next tx to the first target that answers; its hash once admitted."""
        trader, tx = self.next_tx()
        first = self._sent % len(self.targets)
        for target in self.targets[first:] + self.targets[:first]:
            try:
                answer = self.cluster.submit(target, tx)
            except NodeUnavailable:
                continue  # down or partitioned: the same tx goes to the next target
            self._sent += 1
            if answer.get("accepted") or answer.get("code") == "duplicate_tx":
                self.nonces[trader] += 1
                self.accepted.append(str(answer["tx_hash"]))
                return str(answer["tx_hash"])
            if answer.get("code") == "nonce_used":  # admitted by a node that died answering
                self.nonces[trader] += 1
            self.rejected.append(answer)
            return None
        return None

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.submit_one()
                self._stop.wait(self.interval_s)
        except BaseException as error:  # reported by stop()
            self.failure = error

    def start(self) -> Load:
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[str]:
        """Stop submitting; the hashes of every admitted tx."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(HTTP_TIMEOUT_S * 3)
        if self.failure is not None:
            raise AssertionError(f"the load thread failed: {self.failure!r}") from self.failure
        return list(self.accepted)
