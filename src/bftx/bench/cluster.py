"""The cluster benchmark behind ``bftx bench``: open-loop load on a live testnet, end to end.

Owns: starting (and always stopping) a local testnet of node processes, or
finding the nodes of one that already runs; pre-signing every tx before the
clock starts; submitting them at a fixed target rate (open loop: the schedule
never waits for the cluster) through the binary bulk path, spread over every
validator; following the committed chain one block request at a time; and
turning what it saw into one result (throughput, submit-to-finality latency
percentiles, losses, and the signature-verification ceiling measured in the
same run).

The load generator shares the machine with the cluster, so it is built to
cost little: txs are signed up front, each validator gets one batch request
per tick, and commits are read per block, never per tx.

Must never: leave node processes behind, or count a tx as committed before a
block holding its hash was read from a node.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import os
import random
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from bftx import codec, crypto, limits
from bftx.client.signing import RequestPolicy
from bftx.crypto import KeyPair, load_key
from bftx.errors import ConfigError
from bftx.exchange.transactions import OrderType, PlaceOrder, Side, sign_tx
from bftx.node.launcher import local_cluster, node_homes

MARKET = "BTC/USD"
MID_PRICE_TICKS = 4_500_000  # $45,000.00
PRICE_SPREAD_TICKS = 20  # buys and sells land within this of the mid, so they cross
LOTS_MAX = 10
VERIFY_SAMPLES = 3_000
READY_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.01  # how often the chain follower asks for the next block
BATCH_TXS_MAX = 1_024  # txs in one bulk request (the API's bound)
REQUESTS_IN_FLIGHT_MAX = 256
REQUEST_TIMEOUT_S = 30.0
NONCES_PER_ACCOUNT_MAX = limits.nonce_ahead_max * 3 // 4  # txs per account in one run
RETRY_INTERVAL_S = 1.0
RETRIED_CODES = ("mempool_full", "overloaded")  # a node shedding load: resent like a client would
_NO_LOCK = contextlib.nullcontext()


@dataclass(frozen=True, slots=True)
class BenchSettings:
    validators: int = 4
    duration_s: float = 30.0
    rate_tps: float = 2_500.0
    accounts: int = 1_000
    tick_ms: int = 100  # each validator receives one batch per tick
    drain_s: float = 20.0  # after the load: wait this long at most for the last commits
    seed: int = 1


@dataclass(frozen=True, slots=True)
class Target:
    """The nodes to load: API base URLs (validators first) and the accounts' keys."""

    urls: tuple[str, ...]
    chain_id: str
    accounts: tuple[KeyPair, ...]
    nonces: tuple[int, ...]  # each account's next nonce
    identity: KeyPair | None = None  # signs requests to a network with permissioned reads


@dataclass(slots=True)
class Load:
    """Pre-signed txs in submission order; tx ``j`` is signed by account ``account_of[j]`` and
    goes to validator ``validator_of[j]``."""

    txs: list[bytes]
    hashes: list[bytes]
    validator_of: list[int]
    account_of: list[int]


@dataclass(slots=True)
class Observation:
    """What the load generator saw, all times in seconds since the load began."""

    submit_s: list[float]  # per tx, its first submission; -1 when never sent
    accepted: list[bool]
    accept_s: list[float]  # per tx, the submission the node accepted; -1 when none
    commit_s: list[float]  # per tx; -1 when not seen committed
    rejections: dict[str, int] = field(default_factory=dict)
    # per tx, its block's timestamp (the primary's clock when it proposed it; the same clock
    # as this process's on one machine), -1 when not seen committed
    proposed_s: list[float] = field(default_factory=list)
    validator_of: list[int] = field(default_factory=list)  # per tx, the validator sent it
    account_of: list[int] = field(default_factory=list)  # per tx, its account (nonce order)
    blocks: list[tuple[int, float, int]] = field(default_factory=list)  # height, seen at, txs
    request_errors: int = 0
    load_s: float = 0.0  # how long the submission schedule actually took
    node_cpu_s: float | None = None  # CPU the node processes used meanwhile (local clusters)
    node_rss: list[tuple[float, int]] = field(default_factory=list)  # (at, bytes), once a second
    generator_cpu_s: float = 0.0  # CPU this process used to submit and follow
    view_changes: int | None = None  # views the first validator installed during the run


# --- the signature-verification ceiling --------------------------------------------


def measure_verify_s(samples: int = VERIFY_SAMPLES) -> float:
    """Seconds per `bftx.crypto.verify` of a tx-sized message (median of 3 rounds)."""
    key = KeyPair.generate()
    messages = [os.urandom(120) for _ in range(samples)]
    signatures = [key.sign(message) for message in messages]
    rounds = []
    for _ in range(3):
        started = time.perf_counter()
        for message, signature in zip(messages, signatures, strict=True):
            crypto.verify(key.public_key, message, signature)
        rounds.append((time.perf_counter() - started) / samples)
    return sorted(rounds)[1]


def compute_verify_limit_tps(cores: int, validators: int, verify_s: float) -> float:
    """Every validator verifies every tx once: c cores shared by n validators."""
    return cores / (validators * verify_s)


# --- pre-signing ---------------------------------------------------------------------


def sign_load(target: Target, count: int, seed: int) -> Load:
    """``count`` crossing limit orders, round-robin over the accounts, each pinned to a validator.

    Pinning keeps an account's nonces arriving in order at one node; the
    round-robin keeps every account far below the exchange's nonce window.
    """
    generator = random.Random(seed)
    accounts = len(target.accounts)
    validators = len(target.urls)
    txs: list[bytes] = []
    hashes: list[bytes] = []
    validator_of: list[int] = []
    account_of: list[int] = []
    for index in range(count):
        account = index % accounts
        nonce = target.nonces[account] + index // accounts
        side = Side.BUY if generator.random() < 0.5 else Side.SELL
        offset = generator.randint(0, PRICE_SPREAD_TICKS)
        price = MID_PRICE_TICKS + offset if side is Side.BUY else MID_PRICE_TICKS - offset
        body = PlaceOrder(MARKET, side, OrderType.LIMIT, price, generator.randint(1, LOTS_MAX), 0)
        data = sign_tx(target.accounts[account], target.chain_id, nonce, body)
        txs.append(data)
        hashes.append(crypto.sha256(data))
        validator_of.append(account % validators)
        account_of.append(account)
    return Load(txs, hashes, validator_of, account_of)


def accounts_needed(settings: BenchSettings) -> int:
    """Enough accounts that none needs more nonces than the exchange admits ahead."""
    total = int(settings.rate_tps * settings.duration_s) + 1
    return max(settings.accounts, -(-total // NONCES_PER_ACCOUNT_MAX))


# --- a local cluster: bftx.node.launcher ---------------------------------------


def read_target(testnet: Path, urls: tuple[str, ...] = (), validators_only: bool = True) -> Target:
    """The API URLs and trading accounts of a testnet directory made by `create_testnet`."""
    homes = node_homes(testnet)
    if not homes:
        raise ConfigError(f"{testnet}: no node directories (make one with `bftx testnet init`)")
    found = []
    chain_id = ""
    for home in homes:
        document = tomllib.loads((home / "config.toml").read_text())
        if validators_only and document.get("mode", "validator") != "validator":
            continue
        found.append(f"http://{document['api']['host']}:{document['api']['port']}")
        chain_id = json.loads((home / "genesis.json").read_text())["chain_id"]
    names = json.loads((testnet / "accounts.json").read_text())
    traders = sorted(name for name in names if name.startswith("trader"))
    if not traders:
        raise ConfigError(f"{testnet}: no trader accounts (testnet init --traders N)")
    accounts = tuple(load_key(testnet / "accounts" / f"{name}.json") for name in traders)
    genesis = json.loads((homes[0] / "genesis.json").read_text())
    permissioned = genesis.get("api", {}).get("reads") == "permissioned"
    return Target(
        urls or tuple(found),
        chain_id,
        accounts,
        tuple(0 for _ in accounts),
        accounts[0] if permissioned else None,
    )


def http_client(identity: KeyPair | None, **options: Any) -> httpx.AsyncClient:
    """An HTTP client that signs its requests as ``identity`` (permissioned reads), if any."""
    return httpx.AsyncClient(auth=RequestPolicy(identity) if identity else None, **options)


async def wait_ready(
    urls: tuple[str, ...],
    timeout_s: float,
    check: Callable[[], None],
    identity: KeyPair | None = None,
) -> None:
    """Until every node answers and sees every other validator."""
    deadline = time.monotonic() + timeout_s
    async with http_client(identity, timeout=2.0) as client:
        while True:
            check()
            ready = 0
            for url in urls:
                try:
                    status = (await client.get(f"{url}/v1/status")).json()
                except (httpx.HTTPError, ValueError):
                    continue
                if len(status.get("peers_connected", [])) >= len(urls) - 1:
                    ready += 1
            if ready == len(urls):
                return
            if time.monotonic() > deadline:
                raise ConfigError(f"the cluster was not ready within {timeout_s:.0f} s")
            await asyncio.sleep(0.2)


async def fetch_nonces(
    urls: tuple[str, ...], accounts: tuple[KeyPair, ...], signed: bool = False
) -> tuple[int, ...]:
    """Each account's next nonce on a running cluster (for a testnet used before).

    ``signed``: each account reads its own page (permissioned reads show it to its owner)."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        nonces = []
        for key in accounts:
            response = await client.get(
                f"{urls[0]}/v1/accounts/{key.address.hex()}",
                auth=RequestPolicy(key) if signed else httpx.USE_CLIENT_DEFAULT,
            )
            response.raise_for_status()
            nonces.append(int(response.json()["nonce"]))
    return tuple(nonces)


async def fetch_height_and_view(url: str, identity: KeyPair | None = None) -> tuple[int, int]:
    async with http_client(identity, timeout=5.0) as client:
        status = (await client.get(f"{url}/v1/status")).json()
        return int(status["height"]), int(status["view"] or 0)


# --- driving the load and following the chain ------------------------------------------


class Driver:
    """Submits the load on schedule and follows the chain until everything accepted commits."""

    def __init__(
        self,
        target: Target,
        load: Load,
        settings: BenchSettings,
        start_height: int,
        on_tick: Callable[[Observation, float], None] | None = None,
    ) -> None:
        self.target = target
        self.load = load
        self.settings = settings
        self.next_height = start_height + 1
        self.on_tick = on_tick
        count = len(load.txs)
        self.observation = Observation(
            [-1.0] * count, [False] * count, [-1.0] * count, [-1.0] * count
        )
        self.observation.proposed_s = [-1.0] * count
        self.observation.validator_of = load.validator_of
        self.observation.account_of = load.account_of
        self.index_of = {tx_hash: index for index, tx_hash in enumerate(load.hashes)}
        self.started = 0.0
        self.wall_started = 0.0
        self.submitting = True
        # Refused for load: an account's refused tx and every later one of it wait, in nonce
        # order; once per retry interval the first is sent again, and when it is admitted the
        # rest follow (a backing-off client, whose later nonces would stall behind a gap).
        self.waiting: dict[int, list[int]] = {}
        self.head_in_flight: dict[int, int] = {}  # account -> its waiting tx being resent
        self.resend: list[int] = []  # txs of an account whose head was admitted: send now
        # Once a node has refused txs for load, requests to one validator go one at a time, in
        # order: a node then takes an account's txs in nonce order, as a client streaming to it
        # would send them (two batches racing could admit a later nonce and refuse an earlier
        # one for load). Before that they overlap, so a rate the cluster keeps up with is not
        # measured with the generator's own queue in it.
        self.validator_locks = [asyncio.Lock() for _ in target.urls]
        self.in_order = False
        self.last_retry_s = 0.0
        self.in_flight = 0
        self.committed = 0
        self.accepted = 0

    def now(self) -> float:
        return time.perf_counter() - self.started

    async def run(self) -> Observation:
        pool = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        cpu_started = time.process_time()
        async with http_client(
            self.target.identity, timeout=REQUEST_TIMEOUT_S, limits=pool
        ) as client:
            self.started = time.perf_counter()
            self.wall_started = time.time()  # block timestamps are wall-clock milliseconds
            follower = asyncio.create_task(self._follow(client))
            try:
                await self._submit(client)
                await self._drain(follower)
            finally:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
        self.observation.generator_cpu_s = time.process_time() - cpu_started
        return self.observation

    async def _submit(self, client: httpx.AsyncClient) -> None:
        tick_s = self.settings.tick_ms / 1000
        total = len(self.load.txs)
        sent = 0
        requests: set[asyncio.Task[None]] = set()
        while sent < total:
            due = min(total, int(self.now() * self.settings.rate_tps) + 1)
            if due > sent and self.in_flight < REQUESTS_IN_FLIGHT_MAX:
                fresh = self._hold_back_waiting(range(sent, due))
                self._send_groups(client, requests, self._group(self._take_retries() + fresh))
                sent = due
            if self.on_tick is not None:
                self.on_tick(self.observation, self.now())
            await asyncio.sleep(tick_s)
        self.observation.load_s = self.now()
        self.submitting = False
        deadline = self.now() + self.settings.drain_s
        while (requests or self.waiting or self.resend) and self.now() < deadline:
            if self.in_flight < REQUESTS_IN_FLIGHT_MAX:
                self._send_groups(client, requests, self._group(self._take_retries()))
            await asyncio.sleep(tick_s)
        if requests:  # their answers count: a tx accepted now must still be followed to its block
            await asyncio.wait(set(requests), timeout=REQUEST_TIMEOUT_S)

    def _hold_back_waiting(self, indexes: range) -> list[int]:
        """The due txs to send now; those of an account that is backing off join its queue."""
        waiting, account_of = self.waiting, self.load.account_of
        fresh = []
        for index in indexes:
            queue = waiting.get(account_of[index])
            if queue is None:
                fresh.append(index)
            else:
                queue.append(index)  # due in index order: later than everything queued
        return fresh

    def _take_retries(self) -> list[int]:
        """What to resend now: txs released by an admitted head, and once per retry interval
        the first waiting tx of each backing-off account."""
        resend, self.resend = self.resend, []
        if self.waiting and self.now() - self.last_retry_s >= RETRY_INTERVAL_S:
            self.last_retry_s = self.now()
            for account, queue in self.waiting.items():
                if account not in self.head_in_flight:
                    self.head_in_flight[account] = queue[0]
                    resend.append(queue[0])
        return sorted(resend)  # submission order: an account's nonces in order

    def _on_refused_for_load(self, index: int) -> None:
        self.in_order = True
        account = self.load.account_of[index]
        if self.head_in_flight.get(account) == index:  # still first in its queue
            del self.head_in_flight[account]
            return
        bisect.insort(self.waiting.setdefault(account, []), index)

    def _on_answered(self, index: int) -> None:
        """A tx admitted or refused for good: if it was a waiting head, its followers go now."""
        account = self.load.account_of[index]
        if self.head_in_flight.get(account) != index:
            return
        del self.head_in_flight[account]
        queue = self.waiting.pop(account)
        queue.remove(index)
        self.resend.extend(queue)

    def _send_groups(
        self,
        client: httpx.AsyncClient,
        requests: set[asyncio.Task[None]],
        groups: dict[int, list[int]],
    ) -> None:
        for validator, indexes in groups.items():
            for first in range(0, len(indexes), BATCH_TXS_MAX):
                chunk = indexes[first : first + BATCH_TXS_MAX]
                task = asyncio.create_task(self._send(client, validator, chunk))
                requests.add(task)
                task.add_done_callback(requests.discard)

    def _group(self, indexes: list[int]) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = {}
        validator_of = self.load.validator_of
        for index in indexes:
            groups.setdefault(validator_of[index], []).append(index)
        return groups

    async def _send(self, client: httpx.AsyncClient, validator: int, indexes: list[int]) -> None:
        body = codec.encode(tuple(self.load.txs[index] for index in indexes))
        sent_at = self.now()
        observation = self.observation
        for index in indexes:
            if observation.submit_s[index] < 0:  # a retry keeps its first submission time
                observation.submit_s[index] = sent_at
        posted_at = sent_at
        self.in_flight += 1
        try:
            async with self.validator_locks[validator] if self.in_order else _NO_LOCK:
                posted_at = self.now()
                response = await client.post(
                    f"{self.target.urls[validator]}/v1/txs/batch",
                    content=body,
                    headers={"content-type": "application/octet-stream"},
                )
            results = response.json()["results"] if response.status_code == 200 else None
            if response.status_code == 429:  # the whole batch refused for load
                code = str(response.json().get("code", "overloaded"))
                results = [{"accepted": False, "code": code}] * len(indexes)
        except (httpx.HTTPError, ValueError, KeyError):
            results = None
        finally:
            self.in_flight -= 1
        if results is None or len(results) != len(indexes):
            observation.request_errors += 1
            for index in indexes:  # a waiting head is sent again with the next retries
                account = self.load.account_of[index]
                if self.head_in_flight.get(account) == index:
                    del self.head_in_flight[account]
            return
        for index, result in zip(indexes, results, strict=True):
            if result["accepted"]:
                observation.accepted[index] = True
                observation.accept_s[index] = posted_at
                self.accepted += 1
                self._on_answered(index)
                continue
            code = str(result["code"])
            observation.rejections[code] = observation.rejections.get(code, 0) + 1
            if code in RETRIED_CODES:  # backpressure: resend, or later nonces stall
                self._on_refused_for_load(index)
            else:
                self._on_answered(index)

    async def _follow(self, client: httpx.AsyncClient) -> None:
        """Read each new block once from the first node; a tx commits when its block is seen."""
        url = self.target.urls[0]
        observation = self.observation
        while True:
            try:
                response = await client.get(f"{url}/v1/blocks/{self.next_height}")
            except httpx.HTTPError:
                await asyncio.sleep(POLL_INTERVAL_S)
                continue
            if response.status_code != 200:
                await asyncio.sleep(POLL_INTERVAL_S)
                continue
            seen_at = self.now()
            body = response.json()
            hashes = body["txs"]
            proposed_at = body["timestamp_ms"] / 1000 - self.wall_started
            for text in hashes:
                index = self.index_of.get(bytes.fromhex(text))
                if index is not None and observation.commit_s[index] < 0:
                    observation.commit_s[index] = seen_at
                    observation.proposed_s[index] = proposed_at
                    self.committed += 1
            observation.blocks.append((self.next_height, seen_at, len(hashes)))
            self.next_height += 1

    async def _drain(self, follower: asyncio.Task[None]) -> None:
        deadline = self.now() + self.settings.drain_s
        while self.committed < self.accepted and self.now() < deadline:
            if follower.done():
                follower.result()
            if self.on_tick is not None:
                self.on_tick(self.observation, self.now())
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # the block being read when the last commit arrived


# --- the result ---------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-int(fraction * 1_000_000) * len(sorted_values) // 1_000_000))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize(
    settings: BenchSettings,
    observation: Observation,
    verify_s: float,
    cores: int,
) -> dict[str, Any]:
    submitted = sum(1 for at in observation.submit_s if at >= 0)
    accepted = sum(observation.accepted)
    committed_indexes = [i for i, at in enumerate(observation.commit_s) if at >= 0]
    lost = sum(1 for i, ok in enumerate(observation.accepted) if ok and observation.commit_s[i] < 0)
    latencies = sorted(
        (observation.commit_s[i] - observation.submit_s[i]) * 1000 for i in committed_indexes
    )
    latencies_accepted = sorted(  # from the submission the node accepted, not the first try
        (observation.commit_s[i] - observation.accept_s[i]) * 1000
        for i in committed_indexes
        if observation.accept_s[i] >= 0
    )
    first_submit = min((at for at in observation.submit_s if at >= 0), default=0.0)
    last_commit = max((observation.commit_s[i] for i in committed_indexes), default=0.0)
    span_s = max(last_commit - first_submit, 1e-9)
    return {
        "validators": settings.validators,
        "duration_s": settings.duration_s,
        "rate_tps": settings.rate_tps,
        "accounts": settings.accounts,
        "submitted": submitted,
        "accepted": accepted,
        "rejected": submitted - accepted,
        "rejections": dict(sorted(observation.rejections.items())),
        "refused": {
            code: count
            for code, count in sorted(observation.rejections.items())
            if code in RETRIED_CODES
        },
        "request_errors": observation.request_errors,
        "committed": len(committed_indexes),
        "lost": lost,
        "lost_behind_unaccepted": count_lost_behind_unaccepted(observation),
        "tps_offered": round(submitted / max(observation.load_s, 1e-9), 1),
        "tps_committed": round(len(committed_indexes) / span_s, 1) if committed_indexes else 0.0,
        "latency_ms_p50": round(percentile(latencies, 0.50), 1),
        "latency_ms_p90": round(percentile(latencies, 0.90), 1),
        "latency_ms_p99": round(percentile(latencies, 0.99), 1),
        "latency_ms_max": round(latencies[-1], 1) if latencies else 0.0,
        "latency_ms_p99_accepted": round(percentile(latencies_accepted, 0.99), 1),
        "blocks": len(observation.blocks),
        "txs_per_block_mean": round(
            sum(count for _h, _at, count in observation.blocks) / max(len(observation.blocks), 1),
            1,
        ),
        "node_cpu_s": None if observation.node_cpu_s is None else round(observation.node_cpu_s, 2),
        "node_cpu_us_per_tx": None
        if observation.node_cpu_s is None or not committed_indexes
        else round(observation.node_cpu_s / len(committed_indexes) / settings.validators * 1e6, 1),
        "generator_cpu_s": round(observation.generator_cpu_s, 2),
        "cores": cores,
        "verify_us": round(verify_s * 1e6, 2),
        "verify_limit_tps": round(compute_verify_limit_tps(cores, settings.validators, verify_s)),
        "node_rss_mb_max": round(max(rss for _at, rss in observation.node_rss) / 2**20, 1)
        if observation.node_rss
        else None,
        "minutes": compute_minutes(observation),
        "view_changes": observation.view_changes,
        "latency_breakdown": compute_breakdown(observation, settings.validators),
    }


def count_lost_behind_unaccepted(observation: Observation) -> int:
    """Lost txs with an earlier tx of their account that was never accepted.

    Such a tx was admitted ahead of a missing nonce (a later nonce can reach
    a node first when a client has several requests in flight) and waits in
    the mempools for that nonce, which the generator was still being refused
    when it stopped resending. It commits once its account's missing nonce is
    admitted; the other lost txs are ones the cluster dropped.
    """
    first_unaccepted: dict[int, int] = {}
    for index, (account, ok) in enumerate(
        zip(observation.account_of, observation.accepted, strict=True)
    ):
        if not ok:
            first_unaccepted.setdefault(account, index)
    return sum(
        1
        for index, account in enumerate(observation.account_of)
        if observation.accepted[index]
        and observation.commit_s[index] < 0
        and first_unaccepted.get(account, index) < index
    )


def compute_breakdown(observation: Observation, validators: int) -> dict[str, Any]:
    """Where the latency of accepted txs goes: from the accepted POST to the block's timestamp
    (queueing: intake, gossip, the proposal pool), and from there until this process saw the
    block committed (consensus, execution, the store, reading it back); the first also per
    validator the txs were sent to (the primary's own clients skip the gossip to it).

    Block timestamps come from the primary's clock: meaningful when the nodes share this
    machine's clock (a local cluster), approximate across machines."""

    def quantiles(values: list[float]) -> dict[str, float]:
        values.sort()
        return {
            "p50": round(percentile(values, 0.50), 1),
            "p99": round(percentile(values, 0.99), 1),
        }

    to_proposal: list[float] = []
    after_proposal: list[float] = []
    by_validator: list[list[float]] = [[] for _ in range(validators)]
    for index, proposed_at in enumerate(observation.proposed_s):
        accepted_at = observation.accept_s[index]
        if proposed_at < 0 or accepted_at < 0:
            continue
        waited_ms = (proposed_at - accepted_at) * 1000
        to_proposal.append(waited_ms)
        after_proposal.append((observation.commit_s[index] - proposed_at) * 1000)
        if index < len(observation.validator_of):
            by_validator[observation.validator_of[index]].append(waited_ms)
    return {
        "accepted_to_proposal_ms": quantiles(to_proposal),
        "proposal_to_seen_ms": quantiles(after_proposal),
        "accepted_to_proposal_ms_by_validator": [quantiles(values) for values in by_validator],
    }


def compute_minutes(observation: Observation) -> list[dict[str, float | None]]:
    """Per whole minute of load: the txs submitted in it (committed tx/s, latency percentiles)
    and the nodes' resident memory at its end, so that a long run shows whether either creeps."""
    minutes = int(observation.load_s // 60)
    latencies: list[list[float]] = [[] for _ in range(minutes)]
    for index, submit_at in enumerate(observation.submit_s):
        minute = int(submit_at // 60)
        commit_at = observation.commit_s[index]
        if submit_at >= 0 and commit_at >= 0 and minute < minutes:
            latencies[minute].append((commit_at - submit_at) * 1000)
    rows: list[dict[str, float | None]] = []
    for minute, values in enumerate(latencies):
        values.sort()
        end = (minute + 1) * 60
        rss = [size for at, size in observation.node_rss if at <= end]
        rows.append(
            {
                "minute": minute + 1,
                "tps_committed": round(len(values) / 60, 1),
                "latency_ms_p50": round(percentile(values, 0.50), 1),
                "latency_ms_p99": round(percentile(values, 0.99), 1),
                "node_rss_mb": round(rss[-1] / 2**20, 1) if rss else None,
            }
        )
    return rows


def compute_timeline(
    observation: Observation, bucket_s: float = 1.0
) -> list[dict[str, float | None]]:
    """Per bucket of commit time: committed tx/s and the latency percentiles of those txs
    (None for a second without commits)."""
    buckets: dict[int, list[float]] = {}
    for index, commit_at in enumerate(observation.commit_s):
        if commit_at >= 0:
            latency_ms = (commit_at - observation.submit_s[index]) * 1000
            buckets.setdefault(int(commit_at / bucket_s), []).append(latency_ms)
    timeline = []
    for bucket in range(max(buckets, default=-1) + 1):
        latencies = sorted(buckets.get(bucket, []))
        timeline.append(
            {
                "t_s": bucket * bucket_s,
                "tps_committed": len(latencies) / bucket_s,
                "latency_ms_p50": percentile(latencies, 0.5) if latencies else None,
                "latency_ms_p99": percentile(latencies, 0.99) if latencies else None,
            }
        )
    return timeline


def write_outputs(directory: Path, result: dict[str, Any], observation: Observation) -> Path:
    """``bench.json`` (the result and its timeline) and ``bench.png``; returns the plot's path."""
    from bftx.bench.plot import plot_timeline

    directory.mkdir(parents=True, exist_ok=True)
    timeline = compute_timeline(observation)
    document = dict(result, timeline=timeline)
    (directory / "bench.json").write_text(json.dumps(document, indent=2) + "\n")
    plot = directory / "bench.png"
    plot_timeline(timeline, result, plot)
    return plot


# --- one whole run -----------------------------------------------------------------------


ProgressCallback = Callable[
    [str, float, float, int, int], None
]  # phase, done, total, sent, committed


def run_bench(
    settings: BenchSettings,
    testnet: Path | None = None,
    urls: tuple[str, ...] = (),
    progress: ProgressCallback | None = None,
    keep: bool = False,
) -> tuple[dict[str, Any], Observation]:
    """Measure the verify ceiling, sign, start (or find) the cluster, drive the load, summarize."""

    def report(phase: str, done: float = 0.0, total: float = 1.0) -> None:
        if progress is not None:
            progress(phase, done, total, 0, 0)

    report("measuring signature verification")
    verify_s = measure_verify_s()
    cores = os.cpu_count() or 1
    if testnet is not None:
        target = read_target(testnet, urls)
        if len(target.accounts) < accounts_needed(replace(settings, accounts=0)):
            raise ConfigError(
                f"{testnet}: {len(target.accounts)} trader accounts are too few for "
                f"{settings.rate_tps:g} tx/s over {settings.duration_s:g} s (each account may "
                f"have {NONCES_PER_ACCOUNT_MAX} txs); lower --rate or --duration"
            )
        nonces = asyncio.run(
            fetch_nonces(target.urls, target.accounts, target.identity is not None)
        )
        target = replace(target, nonces=nonces)
        settings = replace(settings, validators=len(target.urls), accounts=len(target.accounts))
        observation = _drive(settings, target, progress)
        return summarize(settings, observation, verify_s, cores), observation
    traders = accounts_needed(settings)
    with local_cluster(settings.validators, traders, keep) as cluster:
        report("starting the cluster")
        target = read_target(cluster.testnet, urls)
        settings = replace(settings, accounts=len(target.accounts))
        asyncio.run(
            wait_ready(target.urls, READY_TIMEOUT_S, cluster.check_running, target.identity)
        )
        cpu_before = cluster.cpu_seconds()
        observation = _drive(settings, target, progress, cluster.check_running, cluster.rss_bytes)
        cpu_after = cluster.cpu_seconds()
        if cpu_before is not None and cpu_after is not None:
            observation.node_cpu_s = cpu_after - cpu_before
    return summarize(settings, observation, verify_s, cores), observation


# --- a sweep: one cluster, increasing rates ------------------------------------------


SWEEP_FRACTIONS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)  # of the saturation the probe finds
PROBE_RATE_TPS_FIRST = 500.0
PROBE_RATE_GROWTH = 1.5
PROBE_STEPS_MAX = 8
PROBE_DURATION_S = 8.0


def is_saturated(result: dict[str, Any]) -> bool:
    """A step the cluster did not keep up with: under 90% committed, or accepted txs waiting 2 s."""
    return bool(
        result["tps_committed"] < 0.9 * result["tps_offered"]
        or result["latency_ms_p99_accepted"] > 2_000
    )


def run_sweep(
    settings: BenchSettings,
    fractions: tuple[float, ...] = SWEEP_FRACTIONS,
    progress: ProgressCallback | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    """Find the saturation of one local cluster, then load it from a quarter to twice that.

    The probe raises the rate by half each ``PROBE_DURATION_S`` step until a
    step `is_saturated`; the saturation is the most any probe step committed.
    Then one step of ``settings.duration_s`` per fraction, in the same cluster,
    each step's txs signed afresh from the accounts' current nonces.
    """
    verify_s = measure_verify_s()
    cores = os.cpu_count() or 1
    probe_rate_max = PROBE_RATE_TPS_FIRST * PROBE_RATE_GROWTH ** (PROBE_STEPS_MAX - 1)
    traders = accounts_needed(replace(settings, rate_tps=max(fractions) * probe_rate_max))
    probes: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    with local_cluster(settings.validators, traders, keep) as cluster:
        target = read_target(cluster.testnet)
        asyncio.run(
            wait_ready(target.urls, READY_TIMEOUT_S, cluster.check_running, target.identity)
        )
        base = replace(settings, accounts=len(target.accounts))

        def step(rate_tps: float, duration_s: float) -> dict[str, Any]:
            nonces = asyncio.run(
                fetch_nonces(target.urls, target.accounts, target.identity is not None)
            )
            stepped = replace(base, rate_tps=rate_tps, duration_s=duration_s)
            cpu_before = cluster.cpu_seconds()
            observation = _drive(
                stepped, replace(target, nonces=nonces), progress, cluster.check_running
            )
            cpu_after = cluster.cpu_seconds()
            if cpu_before is not None and cpu_after is not None:
                observation.node_cpu_s = cpu_after - cpu_before
            return summarize(stepped, observation, verify_s, cores)

        rate = PROBE_RATE_TPS_FIRST
        for _ in range(PROBE_STEPS_MAX):
            probes.append(step(rate, PROBE_DURATION_S))
            if is_saturated(probes[-1]):
                break
            rate *= PROBE_RATE_GROWTH
        saturation = max(probe["tps_committed"] for probe in probes)
        for fraction in fractions:
            result = step(round(fraction * saturation, 1), settings.duration_s)
            steps.append({"fraction": fraction, **result})
    return {
        "validators": settings.validators,
        "step_duration_s": settings.duration_s,
        "saturation_tps": saturation,
        "verify_us": round(verify_s * 1e6, 2),
        "verify_limit_tps": round(compute_verify_limit_tps(cores, settings.validators, verify_s)),
        "saturation_vs_verify_limit": round(
            saturation / compute_verify_limit_tps(cores, settings.validators, verify_s), 3
        ),
        "probes": [
            {key: probe[key] for key in ("rate_tps", "tps_committed", "latency_ms_p99_accepted")}
            for probe in probes
        ],
        "steps": steps,
    }


def write_sweep_outputs(directory: Path, sweep: dict[str, Any]) -> Path:
    """``sweep.json`` and ``sweep.png`` (the throughput-latency curve); returns the plot's path."""
    from bftx.bench.plot import plot_sweep

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sweep.json").write_text(json.dumps(sweep, indent=2) + "\n")
    plot = directory / "sweep.png"
    plot_sweep(sweep, plot)
    return plot


def _drive(
    settings: BenchSettings,
    target: Target,
    progress: ProgressCallback | None,
    check: Callable[[], None] = lambda: None,
    measure_rss: Callable[[], int | None] = lambda: None,
) -> Observation:
    count = int(settings.rate_tps * settings.duration_s)
    if progress is not None:
        progress("signing", 0, 1, 0, 0)
    load = sign_load(target, count, settings.seed)
    start_height, start_view = asyncio.run(fetch_height_and_view(target.urls[0], target.identity))
    last_check = [0.0]

    def on_tick(observation: Observation, now: float) -> None:
        if now - last_check[0] >= 1.0:
            last_check[0] = now
            check()
            rss = measure_rss()
            if rss is not None:
                observation.node_rss.append((now, rss))
        if progress is None:
            return
        if driver.submitting:
            sent = min(count, int(now * settings.rate_tps))
            progress(
                "load", min(now, settings.duration_s), settings.duration_s, sent, driver.committed
            )
        else:
            progress(
                "waiting for the last commits",
                driver.committed,
                driver.accepted,
                count,
                driver.committed,
            )

    driver = Driver(target, load, settings, start_height, on_tick)
    observation = asyncio.run(driver.run())
    _height, end_view = asyncio.run(fetch_height_and_view(target.urls[0], target.identity))
    observation.view_changes = end_view - start_view
    return observation
