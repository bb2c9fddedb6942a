"""The asyncio SDK (`bftx.client.AsyncClient`) against a live cluster, streams included.

`watch_order_book` keeps a local book from the WebSocket's snapshot and
sequenced diffs; after blocks it must equal `fetch_order_book`, and a gap in
the diffs must make it resync from a new snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Coroutine
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from bftx.api.feed import feed_for
from bftx.client import (
    AsyncClient,
    ClientError,
    InvalidArgument,
    InvalidOrder,
    OrderRejected,
    TimedOut,
)
from bftx.crypto import KeyPair
from tests.api.support import LiveCluster

SYMBOL = "BTC/USD"
WATCH_TIMEOUT_S = 10.0
T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, 60.0))


def connect(cluster: LiveCluster, key: KeyPair | None = None) -> AsyncClient:
    return AsyncClient(cluster.api_url(), key=key)


class Watcher:
    """Runs ``watch`` in a task and keeps everything it yields."""

    def __init__(self, stream: AsyncGenerator[Any, None]) -> None:
        self.seen: list[Any] = []
        self._stream = stream
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for item in self._stream:
            self.seen.append(item)

    async def until(self, predicate: Callable[[Any], bool], what: str) -> Any:
        async def match() -> Any:
            while True:
                if self._task.done():
                    self._task.result()  # raises what ended the stream
                for item in self.seen:
                    if predicate(item):
                        return item
                await asyncio.sleep(0.02)

        try:
            return await asyncio.wait_for(match(), WATCH_TIMEOUT_S)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; saw {self.seen[-3:]}") from None

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._stream.aclose()


def subscribers(cluster: LiveCluster) -> int:
    return feed_for(cluster.nodes[0]).subscriber_count()


async def subscribed(cluster: LiveCluster, before: int) -> None:
    """Wait until the node's feed has one more stream subscriber than ``before``."""
    deadline = asyncio.get_running_loop().time() + WATCH_TIMEOUT_S
    while subscribers(cluster) <= before:
        assert asyncio.get_running_loop().time() < deadline, "the stream never subscribed"
        await asyncio.sleep(0.01)


async def book_matches(client: AsyncClient, view: dict[str, Any]) -> bool:
    fetched = await client.fetch_order_book(SYMBOL)
    return bool(fetched["bids"] == view["bids"] and fetched["asks"] == view["asks"])


def test_orders_fill_cancel_and_fetch(cluster: LiveCluster) -> None:
    maker_key, taker_key = cluster.fresh_traders(2)

    async def scenario() -> None:
        async with connect(cluster, maker_key) as maker, connect(cluster, taker_key) as taker:
            resting = await maker.create_order(SYMBOL, "limit", "sell", "0.004", "60000")
            assert resting["status"] == "open" and resting["info"]["code"] == "ok"
            assert resting["info"]["height"] >= 1 and resting["info"]["latency_s"] > 0

            taken = await taker.create_order(SYMBOL, "limit", "buy", "0.001", "60000")
            assert (taken["status"], taken["filled"], taken["remaining"]) == (
                "closed",
                "0.001",
                "0",
            )

            still = await maker.fetch_order(resting["id"], SYMBOL)
            assert (still["status"], still["filled"]) == ("open", "0.001")
            assert [o["id"] for o in await maker.fetch_open_orders(SYMBOL)] == [resting["id"]]
            (trade,) = await taker.fetch_my_trades(SYMBOL)
            assert trade["takerOrMaker"] == "taker" and trade["price"] == "60000"
            (made,) = await maker.fetch_my_trades(SYMBOL)
            assert (made["takerOrMaker"], made["side"], made["id"]) == (
                "maker",
                "sell",
                trade["id"],
            )
            assert any(t["id"] == trade["id"] for t in await taker.fetch_trades(SYMBOL))

            cancelled = await maker.cancel_order(resting["id"], SYMBOL)
            assert cancelled["status"] == "canceled"
            assert await maker.fetch_open_orders() == []
            assert (await maker.fetch_order(resting["id"]))["status"] == "closed"
            balance = await maker.fetch_balance()
            assert Decimal(balance["BTC"]["used"]) == 0
            book = await maker.fetch_order_book(SYMBOL)
            assert book["symbol"] == SYMBOL and book["nonce"] >= cancelled["info"]["height"]
            assert (await maker.fetch_status())["chain_id"] == "bftx-testnet"

    run(scenario())


def test_concurrent_orders_get_consecutive_nonces(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    count = 12

    async def scenario() -> None:
        async with connect(cluster, key) as trader:
            orders = await asyncio.gather(
                *(
                    trader.create_order(SYMBOL, "limit", "buy", "0.0001", str(2000 + i))
                    for i in range(count)
                )
            )
            assert sorted(order["id"] for order in orders) == sorted(
                f"{trader.address}:{i}" for i in range(count)
            )
            assert all(order["status"] == "open" for order in orders)
            assert len(await trader.fetch_open_orders()) == count

    run(scenario())


def test_a_second_async_client_with_the_same_key_recovers_from_nonce_used(
    cluster: LiveCluster,
) -> None:
    (key,) = cluster.fresh_traders(1)

    async def scenario() -> None:
        async with connect(cluster, key) as first, connect(cluster, key) as second:
            await first.create_order(SYMBOL, "limit", "buy", "0.0001", "1500")
            await second.create_order(SYMBOL, "limit", "buy", "0.0001", "1501")
            retried = await first.create_order(SYMBOL, "limit", "buy", "0.0001", "1502")
            assert retried["id"] == f"{first.address}:2"

    run(scenario())


def test_failures_raise_the_sdk_errors(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)

    async def scenario() -> None:
        async with connect(cluster, key) as trader:
            with pytest.raises(InvalidOrder, match="tick"):
                await trader.create_order(SYMBOL, "limit", "buy", "0.001", "1.001")
            with pytest.raises(InvalidOrder, match="lot"):
                await trader.create_order(SYMBOL, "limit", "buy", "0.00001", "1000")
            with pytest.raises(InvalidOrder, match="worst price"):
                await trader.create_order(SYMBOL, "market", "sell", "0.001")
            with pytest.raises(InvalidOrder, match="unknown market"):
                await trader.create_order("DOGE/USD", "limit", "buy", "1", "1")
            with pytest.raises(OrderRejected) as rejected:
                await trader.create_order(SYMBOL, "limit", "sell", "1000", "1000")  # 100 BTC held
            assert rejected.value.code == "insufficient_funds"
            with pytest.raises(TimedOut):
                await trader.wait_for("00" * 32, timeout=0.2)
        async with AsyncClient("http://127.0.0.1:9", key=key, timeout=1.0) as nowhere:
            with pytest.raises(ClientError) as unreachable:
                await nowhere.fetch_balance()
            assert unreachable.value.code == "unreachable"
            with pytest.raises(ClientError) as no_stream:
                await anext(nowhere.watch_order_book(SYMBOL))
            assert no_stream.value.code == "unreachable"

    run(scenario())


def test_the_async_client_checks_arguments_before_sending_or_signing(
    cluster: LiveCluster,
) -> None:
    """The async paths share the sync client's checks: tx hashes and symbols in URL paths,
    order arguments, order ids and HTLC preimages (nothing signed, no raw Python error)."""
    (key,) = cluster.fresh_traders(1)

    async def scenario() -> None:
        async with connect(cluster, key) as trader:
            with pytest.raises(InvalidArgument, match="64 hex digits"):
                await trader.fetch_tx("../markets")
            with pytest.raises(InvalidArgument, match="64 hex digits"):
                await trader.wait_for("../markets", timeout=1)
            with pytest.raises(InvalidArgument, match="symbol"):
                await trader.fetch_trades("../status")
            with pytest.raises(InvalidArgument, match="symbol"):
                await anext(trader.watch_order_book(".."))
            with pytest.raises(InvalidArgument, match="height"):
                await trader.fetch_light_block("../status")  # type: ignore[arg-type]
            with pytest.raises(InvalidOrder, match="post-only"):
                await trader.create_order(SYMBOL, "market", "buy", "0.001", "1", {"postOnly": True})
            with pytest.raises(InvalidOrder, match="expiresAtMs"):
                await trader.create_order(SYMBOL, "limit", "buy", "0.001", "1", {"expiresAtMs": -1})
            with pytest.raises(InvalidOrder, match="amount True"):
                await trader.create_order(SYMBOL, "limit", "buy", True, "1")
            with pytest.raises(InvalidOrder, match="side must be text"):
                await trader.create_order(SYMBOL, "limit", None, "0.001", "1")  # type: ignore[arg-type]
            with pytest.raises(InvalidOrder, match="<address>:<nonce>"):
                await trader.cancel_order(f"{trader.address}:\u00b2")
            with pytest.raises(InvalidOrder, match="past the largest"):
                await trader.fetch_order(f"{trader.address}:{2**63}")
            with pytest.raises(InvalidOrder, match="preimage is not hex"):
                await trader.htlc_claim(bytes(32), "zz")
            with pytest.raises(InvalidOrder, match="out of range"):
                await trader.htlc_lock("BTC", "1e30", bytes(20), bytes(32), 2**40)
            with pytest.raises(InvalidOrder, match="expiry_ms"):
                await trader.htlc_lock("BTC", "1", bytes(20), bytes(32), 2**70)

    run(scenario())
    assert cluster.nonce(key) == 0


def test_watch_order_book_follows_the_committed_book(cluster: LiveCluster) -> None:
    maker_key, taker_key = cluster.fresh_traders(2)

    async def scenario() -> None:
        async with (
            connect(cluster) as public,
            connect(cluster, maker_key) as maker,
            connect(cluster, taker_key) as taker,
        ):
            watcher = Watcher(public.watch_order_book(SYMBOL))
            try:
                first = await watcher.until(lambda view: True, "the snapshot")
                assert first["symbol"] == SYMBOL and isinstance(first["nonce"], int)

                await maker.create_order(SYMBOL, "limit", "sell", "0.003", "70000")
                await maker.create_order(SYMBOL, "limit", "sell", "0.002", "70000.5")
                await maker.create_order(SYMBOL, "limit", "buy", "0.001", "3000")
                last = await taker.create_order(SYMBOL, "limit", "buy", "0.001", "70000")
                height = last["info"]["height"]

                view = await watcher.until(lambda v: v["nonce"] >= height, f"height {height}")
                assert ["70000", "0.00200000"] in view["asks"]  # 0.003 less the 0.001 taken
                assert ["70000.5", "0.00200000"] in view["asks"]
                assert await book_matches(public, view)
                nonces = [v["nonce"] for v in watcher.seen]
                assert nonces == sorted(nonces)
            finally:
                await watcher.close()

    run(scenario())


class GapClient(AsyncClient):
    """Loses the first book diff of its first connection, as a flaky network would."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.connections = 0

    async def _stream(self, subscription: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        self.connections += 1
        dropped = self.connections > 1
        async for message in super()._stream(subscription):
            if message.get("type") == "book_diff" and not dropped:
                dropped = True
                continue
            yield message


def test_watch_order_book_resyncs_after_a_gap(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)

    async def scenario() -> None:
        async with GapClient(cluster.api_url()) as public, connect(cluster, key) as maker:
            watcher = Watcher(public.watch_order_book(SYMBOL))
            try:
                await watcher.until(lambda view: True, "the snapshot")
                await maker.create_order(SYMBOL, "limit", "buy", "0.0001", "4000")  # dropped
                last = await maker.create_order(SYMBOL, "limit", "buy", "0.0002", "4000.01")
                height = last["info"]["height"]
                view = await watcher.until(
                    lambda v: v["nonce"] >= height and ["4000", "0.00010000"] in v["bids"],
                    "the resynced book",
                )
                assert public.connections >= 2  # the gap made it resubscribe
                assert ["4000.01", "0.00020000"] in view["bids"]
                assert await book_matches(public, view)
            finally:
                await watcher.close()

    run(scenario())


def test_watch_order_book_resubscribes_when_the_server_ends_the_stream(
    cluster: LiveCluster,
) -> None:
    (key,) = cluster.fresh_traders(1)

    async def scenario() -> None:
        async with connect(cluster) as public, connect(cluster, key) as maker:
            before = subscribers(cluster)
            watcher = Watcher(public.watch_order_book(SYMBOL))
            try:
                await watcher.until(lambda view: True, "the snapshot")
                await subscribed(cluster, before)
                # what a node does when it stops, or when the feed falls behind
                cluster.call(feed_for(cluster.nodes[0]).stop())
                await subscribed(cluster, before)  # the watcher came back
                last = await maker.create_order(SYMBOL, "limit", "buy", "0.0004", "4100")
                height = last["info"]["height"]
                view = await watcher.until(lambda v: v["nonce"] >= height, f"height {height}")
                assert ["4100", "0.00040000"] in view["bids"]
                assert await book_matches(public, view)
            finally:
                await watcher.close()

    run(scenario())


def test_watch_trades_yields_each_blocks_trades(cluster: LiveCluster) -> None:
    maker_key, taker_key = cluster.fresh_traders(2)

    async def scenario() -> None:
        async with (
            connect(cluster) as public,
            connect(cluster, maker_key) as maker,
            connect(cluster, taker_key) as taker,
        ):
            before = subscribers(cluster)
            watcher = Watcher(public.watch_trades("BTC-USD"))
            try:
                await subscribed(cluster, before)  # before the trade commits
                await maker.create_order(SYMBOL, "limit", "sell", "0.0003", "80000")
                filled = await taker.create_order(SYMBOL, "limit", "buy", "0.0003", "80000")
                trades = await watcher.until(
                    lambda batch: any(t["info"]["taker_order_id"] == filled["id"] for t in batch),
                    "the trade",
                )
                trade = next(t for t in trades if t["info"]["taker_order_id"] == filled["id"])
                assert (trade["symbol"], trade["price"], trade["side"]) == (SYMBOL, "80000", "buy")
                assert Decimal(trade["amount"]) == Decimal("0.0003")
                assert trade["info"]["height"] == filled["info"]["height"]
                assert isinstance(trade["timestamp"], int)
            finally:
                await watcher.close()

    run(scenario())


def test_watching_an_unknown_market_is_a_client_error(cluster: LiveCluster) -> None:
    async def scenario() -> None:
        async with connect(cluster) as public:
            with pytest.raises(ClientError) as unknown_book:
                await anext(public.watch_order_book("ETH/USD"))
            assert unknown_book.value.code == "unknown_market"
            with pytest.raises(ClientError) as unknown_trades:
                await anext(public.watch_trades("ETH-USD"))
            assert unknown_trades.value.code == "unknown_market"

    run(scenario())
