"""The store's cost per tx as it grows, and the account trade index's cost per batch size.

    python -m bftx.bench.store [--blocks 800] [--txs 300] [--trades 250] [--accounts 2000] [--json]

Writes ``--blocks`` blocks (``--txs`` tx index rows and ``--trades`` trades
each, between ``--accounts`` random accounts) through `Store.save_block` into a fresh
store in a temporary directory, and reports the CPU time of the writing
thread per tx over the whole run, its first tenth and its last tenth: the
part of a block's cost that grows with the store. Three runs:

- ``store``: the store as it is;
- ``store_with_trade_indexes``: the same plus the two indexes on the trades
  table by maker and by taker that schema version 1 had (what moved to
  `bftx.store.account_trades`);
- ``index_every_N_blocks``: the account trade index caught up after every N
  blocks (N = 1, 4, 16, 64), its CPU time per trade over the whole run, its
  first tenth and its last tenth (the node's thread catches up once a
  second, about 4 blocks at saturation).

CPU time, not wall time; each figure is one run's, so compare them within
one run of the script.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bftx.store import Store, StoredBlock, TradeRow, TxRow, account_trades

ACCOUNTS = 2_000  # the default of --accounts
GENESIS_HASH = b"\x11" * 32


def run_store(
    directory: Path,
    blocks: int,
    txs: int,
    trades: int,
    trade_indexes: bool,
    index_every: int = 0,
    accounts_count: int = ACCOUNTS,
) -> dict[str, float]:
    """Save the blocks; the save's CPU µs per tx (all, first and last tenth) and, with
    ``index_every``, the index's CPU µs per trade."""
    store = Store.open(directory / "node.db", "bench", GENESIS_HASH)
    if trade_indexes:
        store._connection.execute("CREATE INDEX trades_by_maker ON trades (maker, trade_id)")
        store._connection.execute("CREATE INDEX trades_by_taker ON trades (taker, trade_id)")
    rng = random.Random(1)
    accounts = [rng.randbytes(20) for _ in range(accounts_count)]
    save_s: list[float] = []
    index_s: list[float] = []  # per catch-up, each of index_every * trades trades
    trade_id = 0
    try:
        for height in range(1, blocks + 1):
            tx_rows = [
                TxRow(rng.randbytes(32), height, i, 0, rng.choice(accounts), height)
                for i in range(txs)
            ]
            trade_rows = []
            for _ in range(trades):
                trade_id += 1
                trade_rows.append(
                    TradeRow(
                        "BTC/USD", trade_id, height, 0, 45_000, 3, 1,
                        rng.choice(accounts), 1, rng.choice(accounts), 2, 0, 0,
                    )
                )  # fmt: skip
            stored = StoredBlock(
                height, rng.randbytes(32), rng.randbytes(32), 0, b"b" * 130 * txs, b"c" * 400,
                b"r" * 40 * txs,
            )  # fmt: skip
            started = time.thread_time()
            store.save_block(stored, tx_rows, trade_rows)
            save_s.append(time.thread_time() - started)
            if index_every and height % index_every == 0:
                assert store.account_trades is not None
                started = time.thread_time()
                store.account_trades.catch_up()
                index_s.append(time.thread_time() - started)
    finally:
        store.close()
    tenth = max(1, blocks // 10)
    result = {
        "save_us_per_tx": round(sum(save_s) / (blocks * txs) * 1e6, 1),
        "save_us_per_tx_first_tenth": round(sum(save_s[:tenth]) / (tenth * txs) * 1e6, 1),
        "save_us_per_tx_last_tenth": round(sum(save_s[-tenth:]) / (tenth * txs) * 1e6, 1),
    }
    if index_s:
        per_catch_up = index_every * trades
        part = max(1, len(index_s) // 10)
        result["index_us_per_trade"] = round(sum(index_s) / (len(index_s) * per_catch_up) * 1e6, 1)
        result["index_us_per_trade_first_tenth"] = round(
            sum(index_s[:part]) / (part * per_catch_up) * 1e6, 1
        )
        result["index_us_per_trade_last_tenth"] = round(
            sum(index_s[-part:]) / (part * per_catch_up) * 1e6, 1
        )
    return result


def run(blocks: int, txs: int, trades: int, accounts: int = ACCOUNTS) -> dict[str, Any]:
    # The node's thread would index concurrently; here only the explicit catch-ups do.
    interval = account_trades._INTERVAL_S
    account_trades._INTERVAL_S = 10**6
    results: dict[str, Any] = {
        "blocks": blocks,
        "txs_per_block": txs,
        "trades_per_block": trades,
        "accounts": accounts,
    }
    try:
        runs: list[tuple[str, bool, int]] = [
            ("store", False, 0),
            ("store_with_trade_indexes", True, 0),
            *((f"index_every_{n}_blocks", False, n) for n in (1, 4, 16, 64)),
        ]
        for name, trade_indexes, index_every in runs:
            with tempfile.TemporaryDirectory(prefix="bftx-bench-store-") as directory:
                results[name] = run_store(
                    Path(directory), blocks, txs, trades, trade_indexes, index_every, accounts
                )
    finally:
        account_trades._INTERVAL_S = interval
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bftx.bench.store",
        description="The store's CPU per tx as it grows, with and without the trade indexes "
        "of schema 1, and the account trade index's CPU per trade by batch size.",
    )
    parser.add_argument("--blocks", type=int, default=800, help="blocks to write (default 800)")
    parser.add_argument("--txs", type=int, default=300, help="tx index rows per block")
    parser.add_argument("--trades", type=int, default=250, help="trades per block")
    parser.add_argument(
        "--accounts", type=int, default=ACCOUNTS, help=f"trading accounts (default {ACCOUNTS:,})"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    arguments = parser.parse_args(argv)
    if min(arguments.blocks, arguments.txs, arguments.trades, arguments.accounts) < 1:
        parser.error("--blocks, --txs, --trades and --accounts must be at least 1")
    results = run(arguments.blocks, arguments.txs, arguments.trades, arguments.accounts)
    if arguments.json:
        print(json.dumps(results))
    else:
        for name, value in results.items():
            print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
