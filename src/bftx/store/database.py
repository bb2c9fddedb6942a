"""The SQLite store. One write transaction per committed block; the journal is synced on append."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from bftx.errors import BftxError, Code
from bftx.store import account_trades
from bftx.store.account_trades import AccountTradeIndex, IndexCatchingUp

SCHEMA_VERSION = 2
APPLICATION_ID = 0x62667478  # "bftx"

# The tx index is keyed by hash only: every index costs a randomly placed page write per tx
# per block (a second one on (sender, nonce) made block saves 2.4x slower at 100,000 txs).
# Add one with the query that needs it. Trades by account are indexed off the event loop,
# in a file of their own (`bftx.store.account_trades`).
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE blocks (
    height INTEGER PRIMARY KEY,
    block_hash BLOB NOT NULL UNIQUE,
    state_root BLOB NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    block BLOB NOT NULL,
    certificate BLOB NOT NULL,
    result BLOB NOT NULL
);
CREATE TABLE txs (
    tx_hash BLOB PRIMARY KEY,
    height INTEGER NOT NULL,
    position INTEGER NOT NULL,
    code INTEGER NOT NULL,
    sender BLOB NOT NULL,
    nonce INTEGER NOT NULL
);
CREATE TABLE trades (
    market TEXT NOT NULL,
    trade_id INTEGER NOT NULL,
    height INTEGER NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    price_ticks INTEGER NOT NULL,
    quantity_lots INTEGER NOT NULL,
    taker_side INTEGER NOT NULL,
    maker BLOB NOT NULL,
    maker_nonce INTEGER NOT NULL,
    taker BLOB NOT NULL,
    taker_nonce INTEGER NOT NULL,
    maker_fee INTEGER NOT NULL,
    taker_fee INTEGER NOT NULL,
    PRIMARY KEY (market, trade_id)
);
CREATE TABLE snapshots (height INTEGER PRIMARY KEY, state_root BLOB NOT NULL, data BLOB NOT NULL);
CREATE TABLE journal (position INTEGER PRIMARY KEY AUTOINCREMENT, record BLOB NOT NULL);
"""


_TRADE_COLUMNS = (
    "market, trade_id, height, timestamp_ms, price_ticks, quantity_lots, taker_side,"
    " maker, maker_nonce, taker, taker_nonce, maker_fee, taker_fee"
)

# A tx can appear in more than one block (a faulty primary may propose it again).
# Its index entry is the block where it executed; an entry is replaced only when
# the earlier inclusion did not execute it (wrong chain, unregistered sender, or
# a nonce that was not the next one), so it could have executed later.
_NOT_EXECUTED_CODES = tuple(
    int(code) for code in (Code.WRONG_CHAIN, Code.NOT_REGISTERED, Code.NONCE_USED, Code.NONCE_GAP)
)
_SAVE_TX = (
    "INSERT INTO txs (tx_hash, height, position, code, sender, nonce) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (tx_hash) DO UPDATE SET height = excluded.height, position = excluded.position,"
    " code = excluded.code, sender = excluded.sender, nonce = excluded.nonce"
    f" WHERE txs.code IN {_NOT_EXECUTED_CODES}"
)


class StoreError(BftxError):
    """The store cannot be trusted or used (corrupt, another chain, a newer schema)."""


@dataclass(frozen=True, slots=True)
class StoredBlock:
    height: int
    block_hash: bytes
    state_root: bytes  # after executing the block
    timestamp_ms: int
    block: bytes  # the consensus block, encoded
    certificate: bytes  # its commit certificate, encoded
    result: bytes  # its execution results, encoded


# Rows are named tuples: built once per tx and trade, handed to SQLite as they are.
class TxRow(NamedTuple):
    tx_hash: bytes
    height: int
    position: int  # index in the canonical execution order
    code: int
    sender: bytes
    nonce: int


class TradeRow(NamedTuple):
    market: str
    trade_id: int
    height: int
    timestamp_ms: int
    price_ticks: int
    quantity_lots: int
    taker_side: int
    maker: bytes
    maker_nonce: int
    taker: bytes
    taker_nonce: int
    maker_fee: int
    taker_fee: int


class Store:
    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._connection = connection
        self.path = path
        self.account_trades: AccountTradeIndex | None = None

    @staticmethod
    def open(path: Path, chain_id: str, genesis_hash: bytes) -> Store:
        """Open (or create) the store of ``chain_id``; refuse one that is damaged or of another chain."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # a file in the way, a read-only or missing parent
            raise StoreError(
                f"{path.parent}: cannot create the data directory (a node's data_dir):"
                f" {error.strerror}"
            ) from error
        try:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
            store = Store(connection, path)
            store._prepare(chain_id, genesis_hash)
            store.account_trades = AccountTradeIndex.open(
                path,
                path.with_suffix(".account-trades" + path.suffix),
                chain_id.encode() + b"\0" + genesis_hash,
            )
        except sqlite3.DatabaseError as error:
            raise StoreError(
                f"{path}: the database cannot be used ({error}); restore it or start afresh"
            ) from error
        return store

    def _prepare(self, chain_id: str, genesis_hash: bytes) -> None:
        connection = self._connection
        (application_id,) = connection.execute("PRAGMA application_id").fetchone()
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if application_id == 0 and version == 0:
            tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables:
                raise StoreError(f"{self.path}: not a bftx store")
            # One script, one transaction: a crash leaves either nothing or a whole, labelled store.
            connection.executescript(
                "BEGIN IMMEDIATE;\n"
                + _SCHEMA
                + f"INSERT INTO meta (key, value) VALUES ('chain_id', X'{chain_id.encode().hex()}');\n"
                + f"INSERT INTO meta (key, value) VALUES ('genesis_hash', X'{genesis_hash.hex()}');\n"
                + f"PRAGMA application_id={APPLICATION_ID};\n"
                + f"PRAGMA user_version={SCHEMA_VERSION};\n"
                + "COMMIT;"
            )
            return
        if application_id != APPLICATION_ID:
            raise StoreError(f"{self.path}: not a bftx store")
        if version not in (1, SCHEMA_VERSION):
            raise StoreError(
                f"{self.path}: schema version {version}, this bftx reads {SCHEMA_VERSION}"
            )
        (check,) = connection.execute("PRAGMA quick_check").fetchone()
        if check != "ok":
            raise StoreError(f"{self.path}: corrupt database: {check}")
        meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("chain_id") != chain_id.encode() or meta.get("genesis_hash") != genesis_hash:
            raise StoreError(f"{self.path}: this store belongs to another chain or genesis")
        if version == 1:
            # Version 2 moved the trade indexes by maker and by taker to the account trade index.
            connection.executescript(
                "BEGIN IMMEDIATE;\n"
                "DROP INDEX IF EXISTS trades_by_maker;\n"
                "DROP INDEX IF EXISTS trades_by_taker;\n"
                f"PRAGMA user_version={SCHEMA_VERSION};\n"
                "COMMIT;"
            )

    def close(self) -> None:
        if self.account_trades is not None:
            self.account_trades.close()
            self.account_trades = None
        self._connection.close()

    # --- blocks -----------------------------------------------------------------------

    def save_block(
        self, block: StoredBlock, txs: Sequence[TxRow], trades: Sequence[TradeRow]
    ) -> None:
        """Block, certificate, results, tx index and trades in one atomic transaction.

        Not synced on its own (a sync per block costs milliseconds of a blocked
        loop): the next journal append syncs the shared write-ahead log, which
        makes it durable too. A process crash loses nothing; a power cut may
        lose the newest blocks, which a restarted node fetches again with
        their certificates.
        """
        connection = self._connection
        with self._transaction(synced=False):
            connection.execute(
                "INSERT INTO blocks (height, block_hash, state_root, timestamp_ms, block, certificate, result)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    block.height,
                    block.block_hash,
                    block.state_root,
                    block.timestamp_ms,
                    block.block,
                    block.certificate,
                    block.result,
                ),
            )
            connection.executemany(_SAVE_TX, txs)
            connection.executemany(
                "INSERT INTO trades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", trades
            )

    def latest_height(self) -> int:
        (height,) = self._connection.execute(
            "SELECT coalesce(max(height), 0) FROM blocks"
        ).fetchone()
        return int(height)

    def block(self, height: int) -> StoredBlock | None:
        row = self._connection.execute(
            "SELECT height, block_hash, state_root, timestamp_ms, block, certificate, result FROM blocks WHERE height = ?",
            (height,),
        ).fetchone()
        return None if row is None else StoredBlock(*row)

    def blocks_after(self, height: int) -> Iterator[StoredBlock]:
        cursor = self._connection.execute(
            "SELECT height, block_hash, state_root, timestamp_ms, block, certificate, result FROM blocks"
            " WHERE height > ? ORDER BY height",
            (height,),
        )
        for row in cursor:
            yield StoredBlock(*row)

    def first_gap(self, up_to: int) -> tuple[int, int] | None:
        """The lowest range of heights in 1..``up_to`` with no stored block (both ends included):
        the heights a state transfer skipped. None when every height up to ``up_to`` is here."""
        connection = self._connection
        if connection.execute("SELECT 1 FROM blocks WHERE height = 1").fetchone() is None:
            low = 1
        else:
            (low,) = connection.execute(
                "SELECT b.height + 1 FROM blocks b WHERE NOT EXISTS"
                " (SELECT 1 FROM blocks c WHERE c.height = b.height + 1) ORDER BY b.height LIMIT 1"
            ).fetchone()
        if low > up_to:
            return None
        (next_stored,) = connection.execute(
            "SELECT min(height) FROM blocks WHERE height > ?", (low,)
        ).fetchone()
        high = up_to if next_stored is None else min(up_to, int(next_stored) - 1)
        return int(low), high

    def tx(self, tx_hash: bytes) -> TxRow | None:
        row = self._connection.execute(
            "SELECT tx_hash, height, position, code, sender, nonce FROM txs WHERE tx_hash = ?",
            (tx_hash,),
        ).fetchone()
        return None if row is None else TxRow(*row)

    def trades(self, market: str, limit: int, account: bytes | None = None) -> list[TradeRow]:
        """The newest trades of ``market`` (of ``account``, as maker or taker, when given)."""
        if account is None:
            rows = self._connection.execute(
                f"SELECT {_TRADE_COLUMNS} FROM trades WHERE market = ? ORDER BY trade_id DESC LIMIT ?",
                (market, limit),
            )
            return [TradeRow(*row) for row in rows]
        # The index up to its watermark, and the trades committed since, which it may lack.
        assert self.account_trades is not None, "the store is closed"
        watermark, indexed = self.account_trades.find(account, market, limit)
        (last,) = self._connection.execute("SELECT coalesce(max(rowid), 0) FROM trades").fetchone()
        if last - watermark > account_trades.SCAN_ROWS_MAX:
            raise IndexCatchingUp(
                f"the trades-by-account index is {last - watermark} trades behind while it is"
                " built; retry shortly"
            )
        # NOT INDEXED: by the rowid range. Given the choice, SQLite read the primary key's
        # index for `market = ?` and so every trade of the market, on the event loop.
        recent = self._connection.execute(
            "SELECT trade_id FROM trades NOT INDEXED"
            " WHERE rowid > ? AND market = ? AND (maker = ? OR taker = ?)",
            (watermark, market, account, account),
        )
        ids = sorted({*indexed, *(trade_id for (trade_id,) in recent)}, reverse=True)[:limit]
        found = {
            row[1]: TradeRow(*row)
            for row in self._connection.execute(
                f"SELECT {_TRADE_COLUMNS} FROM trades WHERE market = ?"
                f" AND trade_id IN ({', '.join('?' * len(ids))})",
                (market, *ids),
            )
        }
        return [found[trade_id] for trade_id in ids]

    # --- snapshots --------------------------------------------------------------------

    def save_snapshot(
        self,
        height: int,
        state_root: bytes,
        data: bytes,
        keep: int = 2,
        transfer_history: bytes | None = None,
    ) -> None:
        """Save the state as of ``height`` and keep only the newest ``keep`` snapshots.

        A snapshot installed by state transfer has no stored block at its height:
        ``transfer_history`` (the encoded chain tail that came with it) is saved
        in the same transaction, for a restart to resume from.
        """
        with self._transaction():
            self._connection.execute(
                "INSERT OR REPLACE INTO snapshots (height, state_root, data) VALUES (?, ?, ?)",
                (height, state_root, data),
            )
            self._connection.execute(
                "DELETE FROM snapshots WHERE height NOT IN (SELECT height FROM snapshots ORDER BY height DESC LIMIT ?)",
                (keep,),
            )
            if transfer_history is not None:
                self._connection.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('transfer_history', ?)",
                    (transfer_history,),
                )

    def transfer_history(self) -> bytes | None:
        """What the latest `save_snapshot` with a ``transfer_history`` saved, if any."""
        row = self._connection.execute(
            "SELECT value FROM meta WHERE key = 'transfer_history'"
        ).fetchone()
        return None if row is None else bytes(row[0])

    def latest_snapshot(self) -> tuple[int, bytes, bytes] | None:
        row = self._connection.execute(
            "SELECT height, state_root, data FROM snapshots ORDER BY height DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]), bytes(row[2]))

    # --- the consensus vote journal -------------------------------------------------

    def append_journal(self, records: Sequence[bytes]) -> None:
        """Durable when this returns: the caller may now send what the records promise."""
        with self._transaction():
            self._connection.executemany(
                "INSERT INTO journal (record) VALUES (?)", [(r,) for r in records]
            )

    def replace_journal(self, records: Sequence[bytes]) -> None:
        with self._transaction():
            self._connection.execute("DELETE FROM journal")
            self._connection.executemany(
                "INSERT INTO journal (record) VALUES (?)", [(r,) for r in records]
            )

    def load_journal(self) -> list[bytes]:
        return [
            bytes(row[0])
            for row in self._connection.execute("SELECT record FROM journal ORDER BY position")
        ]

    # --- helpers ------------------------------------------------------------------------

    def _transaction(self, synced: bool = True) -> _Transaction:
        return _Transaction(self._connection, synced)


class _Transaction:
    def __init__(self, connection: sqlite3.Connection, synced: bool) -> None:
        self._connection = connection
        self._synced = synced

    def __enter__(self) -> None:
        if not self._synced:
            self._connection.execute("PRAGMA synchronous=NORMAL")  # WAL: no sync at commit
        self._connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        try:
            if kind is None:
                self._connection.execute("COMMIT")
            else:
                self._connection.execute("ROLLBACK")
        finally:
            if not self._synced:
                self._connection.execute("PRAGMA synchronous=FULL")
