"""Trades by account: the index kept off the event loop never changes an answer.

The indexing thread is held idle here (its interval set to an hour), so each
test decides when the index catches up and can check the answers on both
sides of the watermark.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bftx.store import IndexCatchingUp, Store, StoredBlock, TradeRow, account_trades

GENESIS_HASH = b"\x11" * 32
ACCOUNTS = [bytes([n]) * 20 for n in range(6)]


@pytest.fixture(autouse=True)
def idle_indexer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(account_trades, "_INTERVAL_S", 3600.0)


def block(height: int) -> StoredBlock:
    return StoredBlock(height, bytes([height]) * 32, b"\x22" * 32, height, b"b", b"c", b"r")


def random_trades(rng: random.Random, height: int, first_id: int, count: int) -> list[TradeRow]:
    return [
        TradeRow(
            rng.choice(["BTC/USD", "ETH/USD"]),
            first_id + n,
            height,
            height,
            100,
            1,
            0,
            rng.choice(ACCOUNTS),
            0,
            rng.choice(ACCOUNTS),
            0,
            0,
            0,
        )
        for n in range(count)
    ]


def expected(saved: list[TradeRow], market: str, account: bytes, limit: int) -> list[TradeRow]:
    mine = [t for t in saved if t.market == market and account in (t.maker, t.taker)]
    return sorted(mine, key=lambda t: t.trade_id, reverse=True)[:limit]


def answers_match(store: Store, saved: list[TradeRow]) -> bool:
    return all(
        store.trades(market, limit, account=account) == expected(saved, market, account, limit)
        for market in ("BTC/USD", "ETH/USD")
        for account in [*ACCOUNTS, b"\xee" * 20]
        for limit in (1, 3, 1000)
    )


def open_with_trades(
    path: Path, rng: random.Random, count: int, first_id: int = 1
) -> tuple[Store, list[TradeRow]]:
    """The store at ``path`` with one block of ``count`` new trades saved."""
    store = Store.open(path, "chain", GENESIS_HASH)
    trades = random_trades(rng, store.latest_height() + 1, first_id, count)
    store.save_block(block(store.latest_height() + 1), [], trades)
    return store, trades


def index_of(store: Store) -> account_trades.AccountTradeIndex:
    assert store.account_trades is not None, "the store is closed"
    return store.account_trades


def wait_indexed(store: Store, count: int) -> None:
    """Until the indexing thread has indexed ``count`` trades (a liveness bound, not a timing)."""
    deadline = time.monotonic() + 30
    while index_of(store).find(ACCOUNTS[0], "BTC/USD", 1)[0] < count:
        assert time.monotonic() < deadline, "the indexing thread did not catch up"
        time.sleep(0.01)


@pytest.fixture
def saved(tmp_path: Path) -> Iterator[tuple[Store, list[TradeRow], random.Random]]:
    rng = random.Random(7)
    store = Store.open(tmp_path / "node.db", "chain", GENESIS_HASH)
    trades: list[TradeRow] = []
    for height in range(1, 11):
        batch = random_trades(rng, height, len(trades) + 1, 20)
        store.save_block(block(height), [], batch)
        trades.extend(batch)
    yield store, trades, rng
    store.close()


def test_answers_are_whole_before_during_and_after_indexing(
    saved: tuple[Store, list[TradeRow], random.Random],
) -> None:
    store, trades, rng = saved
    index = index_of(store)
    assert index.find(ACCOUNTS[0], "BTC/USD", 1000) == (0, [])  # nothing indexed yet
    assert answers_match(store, trades)  # all from the scan past the watermark
    watermark = index.catch_up()
    assert watermark == len(trades)
    assert answers_match(store, trades)  # all from the index
    more = random_trades(rng, 11, len(trades) + 1, 20)
    store.save_block(block(11), [], more)
    trades.extend(more)
    assert answers_match(store, trades)  # both
    assert index.catch_up() == len(trades)
    assert answers_match(store, trades)


def test_the_scan_past_the_watermark_is_what_makes_a_lagging_index_complete(
    saved: tuple[Store, list[TradeRow], random.Random], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above fails for a store that reads the index alone."""
    store, trades, _ = saved
    index = index_of(store)
    monkeypatch.setattr(index, "find", lambda account, market, limit: (10**9, []))
    assert not answers_match(store, trades)


def test_a_restart_indexes_what_the_last_run_did_not(tmp_path: Path) -> None:
    rng = random.Random(3)
    store, trades = open_with_trades(tmp_path / "node.db", rng, 30)
    assert index_of(store).catch_up() == 30
    more = random_trades(rng, 2, 31, 30)
    store.save_block(block(2), [], more)  # not indexed when the node stops
    trades.extend(more)
    store.close()
    store = Store.open(tmp_path / "node.db", "chain", GENESIS_HASH)
    assert answers_match(store, trades)
    assert index_of(store).catch_up() == 60
    assert answers_match(store, trades)
    store.close()


def test_an_index_of_another_store_is_rebuilt(tmp_path: Path) -> None:
    rng = random.Random(5)
    path = tmp_path / "node.db"
    store, _old = open_with_trades(path, rng, 40)
    assert index_of(store).catch_up() == 40
    store.close()
    # The store is started afresh (same chain) and the old index file is left behind: its
    # watermark points at a rowid whose trade is now another.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store, trades = open_with_trades(path, rng, 50, first_id=1000)
    store.close()
    store = Store.open(path, "chain", GENESIS_HASH)
    assert index_of(store).find(ACCOUNTS[0], "BTC/USD", 10)[0] == 0
    assert answers_match(store, trades)
    index_of(store).catch_up()
    assert answers_match(store, trades)
    store.close()


def test_a_damaged_index_file_is_rebuilt_and_the_store_opens(tmp_path: Path) -> None:
    store, trades = open_with_trades(tmp_path / "node.db", random.Random(9), 25)
    index_path = index_of(store).path
    store.close()
    index_path.write_bytes(b"not a database" * 500)
    store = Store.open(tmp_path / "node.db", "chain", GENESIS_HASH)
    assert answers_match(store, trades)
    assert index_of(store).catch_up() == 25
    assert answers_match(store, trades)
    store.close()


def test_a_version_1_store_drops_its_trade_indexes(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    store = Store.open(path, "chain", GENESIS_HASH)
    store.close()
    connection = sqlite3.connect(path)
    connection.execute("CREATE INDEX trades_by_maker ON trades (maker, trade_id)")
    connection.execute("CREATE INDEX trades_by_taker ON trades (taker, trade_id)")
    connection.execute("PRAGMA user_version=1")
    connection.commit()
    connection.close()
    store = Store.open(path, "chain", GENESIS_HASH)
    store.close()
    connection = sqlite3.connect(path)
    indexes = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'trades_by_%'"
    ).fetchall()
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    connection.close()
    assert indexes == [] and version == 2


def test_the_thread_keeps_the_index_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(account_trades, "_INTERVAL_S", 0.01)
    store, trades = open_with_trades(tmp_path / "node.db", random.Random(11), 40)
    wait_indexed(store, 40)
    assert answers_match(store, trades)
    store.close()


def test_the_thread_retries_after_a_failed_catch_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(account_trades, "_INTERVAL_S", 0.01)
    monkeypatch.setattr(account_trades, "_RETRY_S", 0.01)
    real_catch_up = account_trades.AccountTradeIndex.catch_up
    failures = [sqlite3.OperationalError("disk I/O error")]

    def failing_once(self: account_trades.AccountTradeIndex) -> int:
        if failures:
            raise failures.pop()
        return real_catch_up(self)

    monkeypatch.setattr(account_trades.AccountTradeIndex, "catch_up", failing_once)
    store, trades = open_with_trades(tmp_path / "node.db", random.Random(13), 40)
    wait_indexed(store, 40)
    assert failures == []
    assert answers_match(store, trades)
    store.close()


def test_a_query_past_the_scan_bound_is_refused_until_the_index_catches_up(
    saved: tuple[Store, list[TradeRow], random.Random], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, trades, _ = saved
    monkeypatch.setattr(account_trades, "SCAN_ROWS_MAX", len(trades) - 1)
    with pytest.raises(IndexCatchingUp, match="200 trades behind"):
        store.trades("BTC/USD", 10, account=ACCOUNTS[0])
    assert store.trades("BTC/USD", 10)  # the market's trades need no index
    assert index_of(store).catch_up() == len(trades)
    assert answers_match(store, trades)


def test_a_query_reads_the_trades_past_the_watermark_not_the_whole_market(
    tmp_path: Path,
) -> None:
    """The scan past the watermark is a rowid range. Given `market = ?`, SQLite chose the
    primary key's index instead and read every trade of the market: a query cost grew with
    the chain (8 ms at 120,000 trades), on the event loop. Counted in SQLite's virtual
    machine steps, not time: ten times the indexed history may not cost ten times more."""

    def steps_of_a_query(indexed: int) -> int:
        directory = tmp_path / str(indexed)
        store, _ = open_with_trades(directory / "node.db", random.Random(7), indexed)
        try:
            index_of(store).catch_up()
            store.save_block(block(2), [], random_trades(random.Random(8), 2, indexed + 1, 50))
            connection = store._connection
            steps = [0]

            def count() -> int:
                steps[0] += 1
                return 0  # go on

            connection.set_progress_handler(count, 100)
            assert store.trades("BTC/USD", 10, account=ACCOUNTS[0])
            connection.set_progress_handler(None, 0)
            return steps[0]
        finally:
            store.close()

    small, large = steps_of_a_query(2_000), steps_of_a_query(20_000)
    assert large < 2 * small, (small, large)
