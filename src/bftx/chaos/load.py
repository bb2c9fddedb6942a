"""The load of a chaos run: crossing limit orders and cancels, through every node's public API.

Two kinds of client run at once:

- **Batch accounts** sign txs and post them in bulk (``POST /v1/txs/batch``,
  the canonical binary body), each account through its own node, at a total
  target rate. They behave like careful clients: an account has at most one
  request in flight, so its nonces arrive in order; a tx that was not
  admitted (a node down, ``mempool_full``) is sent again, the same bytes, to
  the next node; and txs admitted but not committed for a while are sent
  again too (a node killed before gossiping them took them along). Sending
  the same bytes again can never make a second tx, so none of this can
  excuse a duplicate; it only keeps a crash from leaving a nonce gap that
  would stall an account, which would show as "lost" for no fault of the
  network.
- **SDK clients**, one per validator, call `AsyncClient.create_order` and
  `cancel_order` with ``wait=True`` against their node: what a trader's
  program does. Every receipt they get is kept, to compare with the chain.

A tx counts as *acknowledged* once a node answered ``accepted`` for it (batch)
or the SDK returned its final receipt.

Must never: sign two different txs with one nonce of a batch account, or
grow without bound (at most `OUTSTANDING_PER_ACCOUNT_MAX` uncommitted txs an
account; every request has a timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field

import httpx

from bftx import codec, crypto
from bftx.chaos.checks import SdkReceipt
from bftx.client.asynchronous import AsyncClient
from bftx.client.errors import ClientError
from bftx.crypto import KeyPair
from bftx.exchange.transactions import CancelOrder, OrderType, PlaceOrder, Side, sign_tx

MARKET = "BTC/USD"
MID_PRICE_TICKS = 4_500_000  # $45,000.00
PRICE_SPREAD_TICKS = 20  # buys and sells within this of the mid, so they cross
LOTS_MAX = 10
CANCEL_SHARE = 0.2  # of batch txs: a cancel of one of the account's open orders
TICK_S = 0.1  # each node gets at most one batch request per tick
OUTSTANDING_PER_ACCOUNT_MAX = 128  # admitted, not yet committed (the exchange admits 256 ahead)
RESEND_AFTER_S = 5.0  # an account whose committed nonce stood still this long sends again
NODE_BACKOFF_S = 1.0  # a node that failed a request is skipped this long
REQUEST_TIMEOUT_S = 10.0
NONCE_POLL_INTERVAL_S = 1.0
SDK_TIMEOUT_S = 20.0  # how long an SDK call waits for finality
SDK_CANCEL_SHARE = 0.3
SDK_ERROR_PAUSE_S = 0.5
# The network already has this tx, or (nonce_pending) another of its account at its nonce.
KNOWN_CODES = frozenset({"duplicate_tx", "nonce_used", "nonce_pending"})
# Refusals that say "not now" (a full mempool, a node shedding load, a node whose state lags
# so the nonce looks too far ahead): the same bytes go again later, to the next node.
RETRIED_CODES = frozenset({"mempool_full", "overloaded", "nonce_gap"})
# An acknowledged tx refused when sent again is replaced only after this long (see `_refused`).
ACKNOWLEDGED_REFUSED_S = 15.0
OVERLOADED_STATUS = 429  # the whole request refused before any check: nothing was admitted


@dataclass(slots=True)
class BatchAccount:
    key: KeyPair
    address: str
    target: int  # the node it sends to
    txs: list[bytes] = field(default_factory=list)  # signed; index = nonce (fresh accounts)
    hashes: list[str] = field(default_factory=list)
    sent: int = 0  # txs[:sent] were admitted or already known somewhere
    committed: int = 0  # the account's next nonce, as last read from a node
    in_flight: bool = False
    retry_s: float = 0.0  # after a refusal: not before then
    uncertain: set[int] = field(default_factory=set)  # nonces sent without an answer
    last_refusal: str = ""
    open_orders: list[int] = field(default_factory=list)  # nonces of its open orders, as read
    progress_s: float = 0.0  # when `committed` last moved (or the last resend)
    refused_s: dict[int, float] = field(default_factory=dict)  # acknowledged, then refused: since


@dataclass(slots=True)
class LoadStats:
    acknowledged: set[str] = field(default_factory=set)
    submitted: int = 0  # tx submissions, resends included
    resent: int = 0
    replaced: int = 0  # txs refused for good, replaced by a new one with the same nonce
    rejections: dict[str, int] = field(default_factory=dict)
    request_errors: int = 0
    sdk_receipts: list[SdkReceipt] = field(default_factory=list)
    sdk_errors: dict[str, int] = field(default_factory=dict)

    def count(self, table: dict[str, int], key: str) -> None:
        table[key] = table.get(key, 0) + 1


class Load:
    """Drives both kinds of client until `stop_generating`; resends go on until `close`."""

    def __init__(
        self,
        urls: list[str],
        names: list[str],
        chain_id: str,
        batch_keys: list[KeyPair],
        sdk_keys: list[KeyPair],
        rate_tps: float,
        seed: int,
        client: httpx.AsyncClient,
    ) -> None:
        self.urls = urls
        self.names = names
        self.chain_id = chain_id
        self.rate_tps = rate_tps
        self.random = random.Random(seed)
        self.client = client
        self.accounts = [
            BatchAccount(key, key.address.hex(), index % len(urls))
            for index, key in enumerate(batch_keys)
        ]
        self.sdk_keys = sdk_keys
        self.stats = LoadStats()
        self.generating = True
        self.running = True
        self.down_until = [0.0] * len(urls)
        self._tasks: list[asyncio.Task[None]] = []
        self._requests: set[asyncio.Task[None]] = set()  # batch requests in flight
        self._budget = 0.0
        self._next_account = 0

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        now = time.monotonic()
        for account in self.accounts:
            account.progress_s = now
        self._tasks = [
            asyncio.create_task(self._batches()),
            asyncio.create_task(self._poll_nonces()),
            *(
                asyncio.create_task(self._sdk_trader(key, index % len(self.urls)))
                for index, key in enumerate(self.sdk_keys)
            ),
        ]

    def stop_generating(self) -> None:
        """No new txs from now on (resends of uncommitted ones go on)."""
        self.generating = False

    def uncommitted(self) -> int:
        """Signed batch txs whose account's committed nonce has not passed them yet."""
        return sum(max(0, len(account.txs) - account.committed) for account in self.accounts)

    def describe_stuck(self, count: int = 3) -> str:
        """A few accounts with uncommitted txs: next nonce, admitted up to, signed up to."""
        stuck = [a for a in self.accounts if len(a.txs) > a.committed][:count]
        return "; ".join(
            f"{a.address[:8]} committed {a.committed} sent {a.sent} signed {len(a.txs)} "
            f"last refusal {a.last_refusal or '-'}"
            for a in stuck
        )

    async def close(self) -> None:
        self.running = False
        tasks = [*self._tasks, *self._requests]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- batch accounts ----------------------------------------------------------------

    async def _batches(self) -> None:
        requests = self._requests
        while self.running:
            started = time.monotonic()
            if self.generating:
                self._budget = min(self._budget + self.rate_tps * TICK_S, self.rate_tps)
            groups = self._take_batches(started)
            for node, chunks in groups.items():
                task = asyncio.create_task(self._send(node, chunks))
                requests.add(task)
                task.add_done_callback(requests.discard)
            await asyncio.sleep(max(0.0, TICK_S - (time.monotonic() - started)))

    def _take_batches(self, now: float) -> dict[int, list[tuple[BatchAccount, int, int]]]:
        """This tick's chunks ``(account, first, end)`` grouped by node.

        An account's chunk is its backlog (signed, not admitted yet: refused
        txs and resends) and, while the load runs, its share of the tick's
        budget of fresh txs.
        """
        groups: dict[int, list[tuple[BatchAccount, int, int]]] = {}
        count = len(self.accounts)
        share = max(1, -(-int(self._budget) // max(1, count)))
        last_served = self._next_account
        for step in range(count):
            position = (self._next_account + step) % count
            account = self.accounts[position]
            if account.in_flight or account.retry_s > now:
                continue
            if len(account.txs) > account.committed and now - account.progress_s > RESEND_AFTER_S:
                account.sent = account.committed  # resend what is not committed, same bytes
                # Stuck this long: no live node holds the first uncommitted tx, or it would
                # have committed; it may be replaced if refused for good.
                account.uncertain.discard(account.committed)
                account.progress_s = now
                account.target = self._next_live(account.target + 1, now)
                self.stats.resent += len(account.txs) - account.sent
            fresh = 0
            if self.generating and self._budget >= 1:
                room = OUTSTANDING_PER_ACCOUNT_MAX - (len(account.txs) - account.committed)
                fresh = max(0, min(share, int(self._budget), room))
            for _ in range(fresh):
                self._sign_next(account)
            if fresh:
                self._budget -= fresh
                last_served = position
            if account.sent >= len(account.txs):
                continue
            account.target = self._next_live(account.target, now)
            account.in_flight = True
            groups.setdefault(account.target, []).append((account, account.sent, len(account.txs)))
        self._next_account = (last_served + 1) % max(1, count)
        return groups

    def _next_live(self, start: int, now: float) -> int:
        for step in range(len(self.urls)):
            candidate = (start + step) % len(self.urls)
            if self.down_until[candidate] <= now:
                return candidate
        return start % len(self.urls)

    def _sign_next(self, account: BatchAccount) -> None:
        account.txs.append(b"")
        account.hashes.append("")
        self._sign(account, len(account.txs) - 1, cancel_allowed=True)

    def _sign(self, account: BatchAccount, nonce: int, cancel_allowed: bool) -> None:
        """Tx ``nonce`` of the account: a cancel of one of its open orders, or a crossing order."""
        generator = self.random
        body: PlaceOrder | CancelOrder
        if cancel_allowed and account.open_orders and generator.random() < CANCEL_SHARE:
            body = CancelOrder(
                account.open_orders.pop(generator.randrange(len(account.open_orders)))
            )
        else:
            side = Side.BUY if generator.random() < 0.5 else Side.SELL
            offset = generator.randint(0, PRICE_SPREAD_TICKS)
            price = MID_PRICE_TICKS + offset if side is Side.BUY else MID_PRICE_TICKS - offset
            lots = generator.randint(1, LOTS_MAX)
            body = PlaceOrder(MARKET, side, OrderType.LIMIT, price, lots, 0)
        data = sign_tx(account.key, self.chain_id, nonce, body)
        account.txs[nonce] = data
        account.hashes[nonce] = crypto.sha256(data).hex()

    def _refused(self, account: BatchAccount, nonce: int, code: str) -> None:
        """A refusal of tx ``nonce``, which is then sent again after a pause.

        A tx refused for good (a cancel of an order that filled meanwhile) is
        first replaced by a new order with the same nonce, else the account
        would stall on the gap. Only a tx no node can hold is replaced: one
        that no node acknowledged and that was never sent without getting an
        answer. An acknowledged one is sent again as it is, for
        `ACKNOWLEDGED_REFUSED_S`: a node that admitted it may hold it, and the
        network settles it (it commits, maybe with a failure code; nodes hand
        pending txs to each other again); a rival with its nonce would make it
        lost. Refused that long, the network lost it: it is replaced (and
        counted lost).
        """
        if code in RETRIED_CODES or nonce in account.uncertain:
            return
        if account.hashes[nonce] in self.stats.acknowledged:
            first = account.refused_s.setdefault(nonce, time.monotonic())
            if time.monotonic() - first < ACKNOWLEDGED_REFUSED_S:
                return
        account.refused_s.pop(nonce, None)
        self._sign(account, nonce, cancel_allowed=False)
        self.stats.replaced += 1

    async def _send(self, node: int, chunks: list[tuple[BatchAccount, int, int]]) -> None:
        txs = tuple(tx for account, first, end in chunks for tx in account.txs[first:end])
        stats = self.stats
        stats.submitted += len(txs)
        try:
            response = await self.client.post(
                f"{self.urls[node]}/v1/txs/batch",
                content=codec.encode(txs),
                headers={"content-type": "application/octet-stream"},
                timeout=REQUEST_TIMEOUT_S,
            )
            results = response.json()["results"] if response.status_code == 200 else None
            refused = response.status_code == OVERLOADED_STATUS
        except (httpx.HTTPError, ValueError, KeyError):
            results, refused = None, False
        if results is None or len(results) != len(txs):
            stats.request_errors += 1
            self.down_until[node] = time.monotonic() + NODE_BACKOFF_S
            for account, first, end in chunks:
                if not refused:
                    account.uncertain.update(range(first, end))
                account.in_flight = False
                account.target = self._next_live(node + 1, time.monotonic())
            return
        position = 0
        for account, first, end in chunks:
            advanced = True
            for index in range(first, end):
                result = results[position]
                position += 1
                code = str(result["code"])
                if result["accepted"]:
                    stats.acknowledged.add(account.hashes[index])
                elif code not in KNOWN_CODES:
                    stats.count(stats.rejections, code)
                    if advanced:
                        account.last_refusal = code
                        self._refused(account, index, code)
                        account.retry_s = time.monotonic() + NODE_BACKOFF_S
                    advanced = False
                if advanced:
                    account.sent = max(account.sent, index + 1)
            account.in_flight = False

    async def _poll_nonces(self) -> None:
        """Each account's committed nonce, from any node that answers (the highest seen wins)."""
        while self.running:
            for account in self.accounts:
                for step in range(len(self.urls)):
                    node = (account.target + step) % len(self.urls)
                    if self.down_until[node] > time.monotonic():
                        continue
                    base = f"{self.urls[node]}/v1/accounts/{account.address}"
                    try:
                        response = await self.client.get(base, timeout=2.0)
                        nonce = int(response.json()["nonce"])
                        response = await self.client.get(f"{base}/orders", timeout=2.0)
                        account.open_orders = [int(order["nonce"]) for order in response.json()]
                    except (httpx.HTTPError, ValueError, KeyError, TypeError):
                        continue
                    if nonce > account.committed:
                        account.committed = nonce
                        account.progress_s = time.monotonic()
                        account.sent = max(account.sent, nonce)
                    break
            await asyncio.sleep(NONCE_POLL_INTERVAL_S)

    # --- SDK traders -------------------------------------------------------------------

    async def _sdk_trader(self, key: KeyPair, node: int) -> None:
        generator = random.Random(self.random.random())
        while self.running:
            if not self.generating:
                return
            async with AsyncClient(self.urls[node], key, timeout=SDK_TIMEOUT_S) as sdk:
                with contextlib.suppress(ClientError, httpx.HTTPError, ValueError, KeyError):
                    await self._sdk_session(sdk, generator, node)
            await asyncio.sleep(SDK_ERROR_PAUSE_S)

    async def _sdk_session(self, sdk: AsyncClient, generator: random.Random, node: int) -> None:
        """Orders and cancels until the load stops or a call fails (then a fresh client)."""
        while self.running and self.generating:
            side = "buy" if generator.random() < 0.5 else "sell"
            offset = generator.randint(0, PRICE_SPREAD_TICKS)
            ticks = MID_PRICE_TICKS + offset if side == "buy" else MID_PRICE_TICKS - offset
            amount = f"0.{generator.randint(1, LOTS_MAX):04d}"
            try:
                order = await sdk.create_order(
                    MARKET, "limit", side, amount, f"{ticks // 100}.{ticks % 100:02d}"
                )
                self._record_receipt(order["info"], node)
                if order["status"] == "open" and generator.random() < SDK_CANCEL_SHARE:
                    cancelled = await sdk.cancel_order(order["id"], MARKET)
                    self._record_receipt(cancelled["info"], node)
            except ClientError as error:
                self.stats.count(self.stats.sdk_errors, error.code)
                raise

    def _record_receipt(self, info: dict[str, object], node: int) -> None:
        tx_hash = str(info["tx_hash"])
        self.stats.acknowledged.add(tx_hash)
        self.stats.sdk_receipts.append(
            SdkReceipt(tx_hash, self.names[node], int(str(info["height"])), str(info["code"]))
        )
