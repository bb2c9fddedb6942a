"""The SQLite store: atomic blocks, indexes, snapshots, the journal, and refusal of bad stores."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bftx.store import Store, StoredBlock, StoreError, TradeRow, TxRow

GENESIS_HASH = b"\x11" * 32


def block(height: int) -> StoredBlock:
    return StoredBlock(
        height, bytes([height]) * 32, b"\x22" * 32, height * 1000, b"block", b"cert", b"result"
    )


def trade(height: int, trade_id: int, maker: bytes, taker: bytes) -> TradeRow:
    return TradeRow("BTC/USD", trade_id, height, 1, 100, 2, 0, maker, 0, taker, 1, 0, 0)


def test_saved_blocks_and_indexes_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    store = Store.open(path, "chain", GENESIS_HASH)
    store.save_block(block(1), [TxRow(b"t" * 32, 1, 0, 0, b"s" * 20, 0)], [trade(1, 1, b"m", b"t")])
    store.save_block(block(2), [], [trade(2, 2, b"x", b"m"), trade(2, 3, b"x", b"y")])
    store.close()
    store = Store.open(path, "chain", GENESIS_HASH)
    assert store.latest_height() == 2
    assert store.block(1) == block(1)
    assert [b.height for b in store.blocks_after(0)] == [1, 2]
    assert store.tx(b"t" * 32) == TxRow(b"t" * 32, 1, 0, 0, b"s" * 20, 0)
    assert store.tx(b"u" * 32) is None
    assert [t.trade_id for t in store.trades("BTC/USD", 10)] == [3, 2, 1]
    assert [t.trade_id for t in store.trades("BTC/USD", 10, account=b"m")] == [2, 1]


def test_a_failed_block_write_leaves_nothing_behind(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "node.db", "chain", GENESIS_HASH)
    store.save_block(block(1), [], [trade(1, 1, b"a", b"b")])
    with pytest.raises(sqlite3.IntegrityError):
        # the same trade id again: the whole block must roll back, the block row included
        store.save_block(
            block(2), [TxRow(b"t" * 32, 2, 0, 0, b"s" * 20, 0)], [trade(2, 1, b"a", b"b")]
        )
    assert store.latest_height() == 1
    assert store.tx(b"t" * 32) is None


def test_snapshots_keep_the_newest(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "node.db", "chain", GENESIS_HASH)
    assert store.latest_snapshot() is None
    for height in (8, 16, 24):
        store.save_snapshot(height, bytes([height]) * 32, b"state%d" % height)
    assert store.latest_snapshot() == (24, bytes([24]) * 32, b"state24")
    count = store._connection.execute("SELECT count(*) FROM snapshots").fetchone()[0]
    assert count == 2


def test_journal_appends_in_order_and_can_be_pruned(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    store = Store.open(path, "chain", GENESIS_HASH)
    store.append_journal([b"vote1", b"vote2"])
    store.append_journal([b"vote3"])
    store.close()
    store = Store.open(path, "chain", GENESIS_HASH)
    assert store.load_journal() == [b"vote1", b"vote2", b"vote3"]
    store.replace_journal([b"vote3"])
    assert store.load_journal() == [b"vote3"]


def test_a_store_of_another_chain_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    Store.open(path, "chain", GENESIS_HASH).close()
    with pytest.raises(StoreError, match="another chain"):
        Store.open(path, "other-chain", GENESIS_HASH)
    with pytest.raises(StoreError, match="another chain"):
        Store.open(path, "chain", b"\x12" * 32)


def test_a_foreign_or_damaged_file_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.db"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE x (y)")
    connection.commit()
    connection.close()
    with pytest.raises(StoreError, match="not a bftx store"):
        Store.open(foreign, "chain", GENESIS_HASH)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(StoreError, match="cannot be used"):
        Store.open(garbage, "chain", GENESIS_HASH)


def test_a_structurally_corrupted_page_is_detected(tmp_path: Path) -> None:
    """Damage to a b-tree page's structure is caught on open. (Damage inside a row's bytes is
    invisible to SQLite: the node catches it by checking every loaded block against its hash,
    certificate and state root.)"""
    path = tmp_path / "node.db"
    store = Store.open(path, "chain", GENESIS_HASH)
    for height in range(1, 200):
        store.save_block(block(height), [], [])
    store._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    for page in range(2, len(data) // page_size):  # every page's b-tree header, past the schema
        data[page * page_size : page * page_size + 8] = b"\x0d\xff\xff\xff\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError):
        Store.open(path, "chain", GENESIS_HASH)


def test_a_tx_included_again_keeps_the_block_where_it_executed(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "node.db", "chain", GENESIS_HASH)
    tx_hash, sender = b"t" * 32, b"s" * 20
    store.save_block(
        block(1), [TxRow(tx_hash, 1, 0, 6, sender, 3)], []
    )  # nonce gap: did not execute
    store.save_block(block(2), [TxRow(tx_hash, 2, 4, 0, sender, 3)], [])  # executed
    store.save_block(
        block(3), [TxRow(tx_hash, 3, 1, 5, sender, 3)], []
    )  # proposed again: nonce used
    assert store.tx(tx_hash) == TxRow(tx_hash, 2, 4, 0, sender, 3)


def test_the_lowest_range_of_skipped_heights_is_found(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "node.db", "chain", GENESIS_HASH)
    assert store.first_gap(0) is None
    assert store.first_gap(3) == (1, 3)  # nothing stored yet
    for height in (1, 2, 6, 7, 9):  # a state transfer skipped 3..5, another 8
        store.save_block(block(height), [], [])
    assert store.first_gap(2) is None
    assert store.first_gap(9) == (3, 5)
    assert store.first_gap(4) == (3, 4)  # never past the node's height
    for height in (3, 4, 5):
        store.save_block(block(height), [], [])  # filled out of order, below newer blocks
    assert store.first_gap(9) == (8, 8)
    assert store.first_gap(12) == (8, 8)
    store.save_block(block(8), [], [])
    assert store.first_gap(9) is None
    assert store.first_gap(11) == (10, 11)
