"""Trades by account: an index derived from the store's trades, kept up off the event loop.

An account's trades are scattered over the whole trades table, so an index on
(maker) and (taker) costs a randomly placed page write per trade and side, in
the transaction of every block, growing with the store (`python -m
bftx.bench.store`). This index lives in a file of its own, next to the store,
and a background thread fills it in sorted batches from the trades the store
has committed: in rowid order, which is commit order, since the trades table
only ever appends.

It is derived data. A crash, a deleted file, or a file of another store costs
a rebuild, never an answer: `Store.trades` reads the index up to its
watermark (the last trade rowid indexed, committed with the entries) and scans
the trades past it, so a query sees every committed trade however far the
index lags. A lagging index only makes account queries slower, up to
`SCAN_ROWS_MAX` trades behind; past that they are refused (`IndexCatchingUp`)
until it catches up.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS account_trades (
    account BLOB NOT NULL,
    market TEXT NOT NULL,
    trade_id INTEGER NOT NULL,
    PRIMARY KEY (account, market, trade_id)
) WITHOUT ROWID;
"""

# One batch of the catch-up: large enough that sorting pays (fewer distinct pages per
# commit), small enough that a first build over a long history stays interruptible.
_BATCH_ROWS = 20_000
# How often the thread catches up. Each commit writes every page its entries touch, so
# fewer, larger batches cost less per trade (`python -m bftx.bench.store`: 20 µs with a
# batch per block, 16 with one per 4 blocks, about a second at saturation). A query scans
# what the index lacks: about a second of trades.
_INTERVAL_S = 1.0
_RETRY_S = 10.0  # after a failed catch-up (a full disk, say)
# The most trades past the watermark a query scans, on the caller's thread. Normally the
# index lags about a second; past this (a long history being indexed afresh) a query is
# refused, to be retried, rather than let a run of them stall the event loop.
SCAN_ROWS_MAX = 100_000
_READ_CACHE_KIB = 256


class IndexCatchingUp(Exception):
    """The index lags too far to answer by scanning the rest; ask again shortly."""


class AccountTradeIndex:
    """The index file of one store and the thread that keeps it up."""

    @staticmethod
    def open(store_path: Path, index_path: Path, identity: bytes) -> AccountTradeIndex:
        """Open the index of the store at ``store_path``; a damaged index file is started afresh."""
        try:
            return AccountTradeIndex(store_path, index_path, identity)
        except sqlite3.DatabaseError as error:
            logger.warning(
                "account trade index damaged; rebuilding it",
                extra={"index": str(index_path), "error": str(error)},
            )
            for suffix in ("", "-wal", "-shm"):
                Path(f"{index_path}{suffix}").unlink(missing_ok=True)
            return AccountTradeIndex(store_path, index_path, identity)

    def __init__(self, store_path: Path, index_path: Path, identity: bytes) -> None:
        self.path = index_path
        # The store's chain and genesis: an index of another store is rebuilt.
        self._identity = identity
        self._lock = threading.Lock()  # one catch-up at a time (the thread, or a caller)
        self._wake = threading.Event()
        self._closing = False
        writer = sqlite3.connect(index_path, isolation_level=None, check_same_thread=False)
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA synchronous=NORMAL")  # derived: a lost batch is indexed again
        writer.executescript(_SCHEMA)
        self._writer = writer
        self._source = sqlite3.connect(store_path, isolation_level=None, check_same_thread=False)
        self._reader = sqlite3.connect(index_path, isolation_level=None, check_same_thread=False)
        for reading in (self._source, self._reader):  # short reads: no 2 MB page cache each
            reading.execute(f"PRAGMA cache_size=-{_READ_CACHE_KIB}")
        self._reset_if_foreign()
        self._thread = threading.Thread(target=self._run, name="account-trade-index", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        self._thread.join()
        for connection in (self._reader, self._source, self._writer):
            connection.close()

    def find(self, account: bytes, market: str, limit: int) -> tuple[int, list[int]]:
        """The watermark and the newest ``limit`` trade ids of ``account`` in ``market`` up to it,
        read in one snapshot. The caller scans the trades past the watermark."""
        reader = self._reader
        reader.execute("BEGIN")
        try:
            watermark = _watermark(reader)[0]
            ids = [
                trade_id
                for (trade_id,) in reader.execute(
                    "SELECT trade_id FROM account_trades WHERE account = ? AND market = ?"
                    " ORDER BY trade_id DESC LIMIT ?",
                    (account, market, limit),
                )
            ]
        finally:
            reader.execute("COMMIT")
        return watermark, ids

    def catch_up(self) -> int:
        """Index every trade the store has committed; the new watermark."""
        with self._lock:
            while True:
                watermark = _watermark(self._writer)[0]
                rows = self._source.execute(
                    "SELECT rowid, market, trade_id, maker, taker FROM trades"
                    " WHERE rowid > ? ORDER BY rowid LIMIT ?",
                    (watermark, _BATCH_ROWS),
                ).fetchall()
                if not rows:
                    return watermark
                entries = sorted(
                    {(maker, market, trade_id) for _, market, trade_id, maker, _ in rows}
                    | {(taker, market, trade_id) for _, market, trade_id, _, taker in rows}
                )
                last_rowid, last_market, last_trade_id = rows[-1][:3]
                writer = self._writer
                writer.execute("BEGIN IMMEDIATE")
                try:
                    writer.executemany(
                        "INSERT OR IGNORE INTO account_trades VALUES (?, ?, ?)", entries
                    )
                    writer.executemany(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                        [
                            ("watermark", last_rowid),
                            ("last_market", last_market),
                            ("last_trade_id", last_trade_id),
                        ],
                    )
                except BaseException:
                    writer.execute("ROLLBACK")
                    raise
                writer.execute("COMMIT")
                if len(rows) < _BATCH_ROWS or self._closing:
                    return int(last_rowid)

    # --- internals ----------------------------------------------------------------------

    def _reset_if_foreign(self) -> None:
        """Start afresh if the file indexes another store, or rows the store no longer has
        where the watermark says (a store rebuilt, or renumbered by VACUUM)."""
        writer = self._writer
        identity = writer.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
        watermark, market, trade_id = _watermark(writer)
        same = identity is not None and bytes(identity[0]) == self._identity
        if same and watermark:
            row = self._source.execute(
                "SELECT market, trade_id FROM trades WHERE rowid = ?", (watermark,)
            ).fetchone()
            same = row is not None and tuple(row) == (market, trade_id)
        if same:
            return
        if identity is not None:
            logger.warning("account trade index rebuilt", extra={"index": str(self.path)})
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM account_trades")
        writer.execute("DELETE FROM meta")
        writer.execute("INSERT INTO meta (key, value) VALUES ('identity', ?)", (self._identity,))
        writer.execute("COMMIT")

    def _run(self) -> None:
        failing = False
        while True:
            self._wake.wait(_RETRY_S if failing else _INTERVAL_S)
            self._wake.clear()
            if self._closing:
                return
            try:
                self.catch_up()
            except sqlite3.Error as error:
                # Queries stay whole meanwhile (they scan past the watermark), only slower.
                if not failing:
                    logger.error(
                        "account trade index failed; retrying, account queries scan the trades",
                        extra={"index": str(self.path), "error": str(error)},
                    )
                failing = True
                continue
            if failing:
                logger.info("account trade index resumed", extra={"index": str(self.path)})
            failing = False


def _watermark(connection: sqlite3.Connection) -> tuple[int, str, int]:
    """The last trade indexed: its rowid in the store (0 if none), market and id."""
    meta = dict(
        connection.execute(
            "SELECT key, value FROM meta WHERE key IN ('watermark', 'last_market', 'last_trade_id')"
        ).fetchall()
    )
    return (
        int(meta.get("watermark", 0)),
        str(meta.get("last_market", "")),
        int(meta.get("last_trade_id", 0)),
    )
