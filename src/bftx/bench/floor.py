"""The floor of a validator's cost per tx: the work no node can skip, in one process.

    python -m bftx.bench.floor [--txs 60000] [--block 512] [--accounts 1251] [--json]

Every validator must decode, verify, check, execute and store every tx, whatever
its network, consensus and API cost. This benchmark does only that, on the
cluster bench's workload (crossing limit orders round-robin over the accounts)
and through the node's own functions, with no network, no consensus messages,
no API and no second process competing for the core:

- ``admit``: `ExchangeApplication.admit` of each tx's bytes (decode once,
  verify the signature, check it against the state), as intake does;
- ``block``: the proposal a validator checks, `create_block` (the txs' Merkle
  root and the header digest) and `ExchangeApplication.validate_block`;
- ``execute``: `ExchangeApplication.execute_block` (matching, settlement,
  fees, events, state root);
- ``result``: `encode_block_result`, the result bytes the store keeps;
- ``store``: the node's block write (block, certificate, result, tx index,
  trades in one transaction);
- ``index``: the account trade index's catch-up over all the trades, in one
  go at the end (a node's thread does it once a second, in smaller batches).

It prints the CPU time of each stage per tx (this thread's, median of
``--repeats`` runs), the same machine's verification time (`verify_us`, as
`bftx bench` measures it), and the ratio ``floor_vs_verify``: the floor in
units of one verification. `bftx bench` reports ``node_cpu_us_per_tx`` in the
same unit; the difference between the two is what networking, consensus and
the API cost. Committing half of ``verify_limit_tps`` needs a validator to
spend at most twice ``verify_us`` per tx in all, so a floor above 2 says that
target is out of reach for this per-tx path, whatever the rest costs.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bftx.bench.cluster import (
    LOTS_MAX,
    MARKET,
    MID_PRICE_TICKS,
    PRICE_SPREAD_TICKS,
    measure_verify_s,
)
from bftx.bench.matching import CHAIN_ID, bench_genesis
from bftx.consensus.messages import (
    BlockHeader,
    CommitCertificate,
    SignatureShare,
    compute_genesis_hash,
    create_block,
)
from bftx.crypto import KeyPair, merkle_root
from bftx.exchange import OrderType, PlaceOrder, Side, sign_tx
from bftx.exchange.application import ExchangeApplication
from bftx.exchange.events import Trade, encode_block_result
from bftx.node.runtime import _write_block
from bftx.store import Store

STAGES = ("admit", "block", "execute", "result", "store", "index")
VALIDATORS = 4


def signed_txs(count: int, accounts: int, seed: int) -> tuple[list[KeyPair], list[bytes]]:
    """``count`` crossing limit orders, round-robin over ``accounts`` (the cluster bench's shape)."""
    generator = random.Random(seed)
    traders = [KeyPair.from_seed(generator.randbytes(32)) for _ in range(accounts)]
    txs = []
    for index in range(count):
        side = Side.BUY if generator.random() < 0.5 else Side.SELL
        offset = generator.randint(0, PRICE_SPREAD_TICKS)
        price = MID_PRICE_TICKS + offset if side is Side.BUY else MID_PRICE_TICKS - offset
        body = PlaceOrder(MARKET, side, OrderType.LIMIT, price, generator.randint(1, LOTS_MAX), 0)
        txs.append(sign_tx(traders[index % accounts], CHAIN_ID, index // accounts, body))
    return traders, txs


class _Clock:
    """This thread's CPU nanoseconds, summed per stage: ``with clock("admit"): ...``."""

    def __init__(self) -> None:
        self.totals = dict.fromkeys(STAGES, 0)
        self._stage = ""
        self._started = 0

    def __call__(self, stage: str) -> _Clock:
        self._stage = stage
        return self

    def __enter__(self) -> None:
        self._started = time.thread_time_ns()

    def __exit__(self, *exc_info: object) -> None:
        self.totals[self._stage] += time.thread_time_ns() - self._started


def run_once(
    traders: Sequence[KeyPair], txs: list[bytes], block_size: int, directory: Path
) -> tuple[dict[str, int], int, int]:
    """Nanoseconds of this thread per stage over all ``txs``, txs executed OK, trades made."""
    genesis = bench_genesis(traders, KeyPair.from_seed(bytes(32)).address)
    application = ExchangeApplication(genesis)
    store = Store.open(directory / "store.sqlite", CHAIN_ID, compute_genesis_hash(CHAIN_ID))
    clock = _Clock()
    executed = trades = 0
    shares = tuple(SignatureShare(index, bytes([index]) * 64) for index in range(3))
    try:
        for height, start in enumerate(range(0, len(txs), block_size), start=1):
            batch = tuple(txs[start : start + block_size])
            timestamp_ms = 1_700_000_000_000 + height * 100
            for data in batch:
                with clock("admit"):
                    application.admit(data)
            with clock("block"):
                header = BlockHeader(
                    CHAIN_ID, height, 0, bytes(32), b"", merkle_root(batch), 0, timestamp_ms, False
                )
                block = create_block(header, batch)
                valid = application.validate_block(batch)
            assert valid, "the bench's txs must be valid"
            with clock("execute"):
                application.execute_block(height, timestamp_ms, batch)
            result = application.last_result
            assert result is not None
            executed += sum(1 for receipt in result.receipts if receipt.code == 0)
            trades += sum(
                isinstance(event, Trade) for receipt in result.receipts for event in receipt.events
            )
            with clock("result"):
                result_bytes = encode_block_result(result)
            certificate = CommitCertificate(0, height, block.digest, shares)
            with clock("store"):
                _write_block(store, block, certificate, result, result_bytes)
        index = store.account_trades
        assert index is not None
        with clock("index"):
            index.catch_up()
    finally:
        store.close()
    return clock.totals, executed, trades


def run(count: int, block_size: int, accounts: int, repeats: int, seed: int) -> dict[str, Any]:
    traders, txs = signed_txs(count, accounts, seed)
    runs = []
    executed = trades = 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="bftx-floor-") as directory:
            totals, executed, trades = run_once(traders, txs, block_size, Path(directory))
        runs.append(totals)
    verify_us = measure_verify_s() * 1e6
    stages_us = {
        stage: round(statistics.median(run[stage] for run in runs) / 1000 / count, 2)
        for stage in STAGES
    }
    floor_us = round(sum(stages_us.values()), 2)
    return {
        "txs": count,
        "block_size": block_size,
        "accounts": accounts,
        "repeats": repeats,
        "executed_ok": executed,
        "trades": trades,
        "stages_us_per_tx": stages_us,
        "floor_us_per_tx": floor_us,
        "verify_us": round(verify_us, 2),
        "floor_vs_verify": round(floor_us / verify_us, 2),
        # What share of verify_limit_tps a cluster whose validators did only this could commit.
        "floor_share_of_verify_limit": round(verify_us / floor_us, 3),
    }


def print_table(result: dict[str, Any]) -> None:
    print(
        f"{result['txs']:,} txs in blocks of {result['block_size']}, "
        f"{result['accounts']:,} accounts, median of {result['repeats']} runs"
    )
    for stage, us in result["stages_us_per_tx"].items():
        print(f"  {stage:<8} {us:8.2f} µs/tx")
    print(f"  {'floor':<8} {result['floor_us_per_tx']:8.2f} µs/tx")
    print(
        f"verify_us {result['verify_us']:.2f}; floor = {result['floor_vs_verify']:.2f} × verify_us"
    )
    print(
        f"a cluster doing only this would commit at most "
        f"{100 * result['floor_share_of_verify_limit']:.1f}% of verify_limit_tps"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bftx.bench.floor",
        description="CPU per tx of the work every validator must do (decode, verify, check, "
        "execute, store), in one process, against the verification time.",
    )
    parser.add_argument("--txs", type=int, default=60_000, help="txs to run (default 60,000)")
    parser.add_argument("--block", type=int, default=512, help="txs per block (default 512)")
    parser.add_argument(
        "--accounts", type=int, default=1251, help="trading accounts (default 1,251, as the bench)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    for name in ("txs", "block", "accounts", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    result = run(args.txs, args.block, args.accounts, args.repeats, args.seed)
    if args.json:
        json.dump(result, sys.stdout)
        print()
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
