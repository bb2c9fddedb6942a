"""Matching benchmark: bftx's matcher against a peer, and the full execute_block path.

    python -m bftx.bench.matching [--ops 200000] [--seed 7] [--json]

In one process and on one seeded workload (`bftx.bench.workload`), replays the
operations through bftx's bare order book and through `lightmatchingengine`
(a matcher nobody here wrote), checks that both produce the same fills in the
same order, and reports operations per second for each and their ratio
(median of ``--repeats`` interleaved runs). Then measures ``execute_txs_per_s``:
signed place/cancel txs of the same shape from many accounts, run through
`Exchange.execute_block` (locks, matching, settlement, fees, events, state
root), signatures already verified as a validator's mempool would have.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence

from bftx.bench.workload import (
    Operation,
    Place,
    generate_operations,
    replay_bftx,
    replay_peer,
)
from bftx.crypto import KeyPair
from bftx.exchange import (
    CancelOrder,
    Exchange,
    ExchangeGenesis,
    OrderType,
    PlaceOrder,
    Tx,
    decode_tx,
    sign_tx,
)

CHAIN_ID = "bftx-bench"


def time_once(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def bench_genesis(traders: Sequence[KeyPair], fee_account: bytes) -> ExchangeGenesis:
    return ExchangeGenesis.from_document(
        {
            "chain_id": CHAIN_ID,
            "access": "permissioned",
            "assets": [{"symbol": "BTC", "decimals": 8}, {"symbol": "USD", "decimals": 6}],
            "markets": [
                {
                    "symbol": "BTC/USD",
                    "base": "BTC",
                    "quote": "USD",
                    "tick_size": 1,
                    "lot_size": 10_000,
                    "maker_fee_bps": 2,
                    "taker_fee_bps": 5,
                    "fee_account": fee_account.hex(),
                }
            ],
            "accounts": [
                {"address": t.address.hex(), "balances": {"BTC": 10**15, "USD": 10**15}}
                for t in traders
            ],
        }
    )


def signed_workload(
    operations: list[Operation], accounts: int, seed: int
) -> tuple[ExchangeGenesis, list[Tx]]:
    """The operations as signed, decoded txs from ``accounts`` traders (setup, not timed)."""
    generator = random.Random(seed)
    traders = [KeyPair.from_seed(generator.randbytes(32)) for _ in range(accounts)]
    fee_account = KeyPair.from_seed(generator.randbytes(32)).address
    nonces = [0] * accounts
    placed: dict[int, tuple[int, int]] = {}  # order id -> (trader index, nonce)
    txs = []
    for operation in operations:
        if isinstance(operation, Place):
            trader = generator.randrange(accounts)
            body: PlaceOrder | CancelOrder = PlaceOrder(
                "BTC/USD",
                operation.side,
                OrderType.LIMIT,
                operation.price_ticks,
                operation.quantity_lots,
                0,
            )
            placed[operation.order_id] = (trader, nonces[trader])
        else:
            trader, order_nonce = placed[operation.order_id]
            body = CancelOrder(order_nonce)
        txs.append(decode_tx(sign_tx(traders[trader], CHAIN_ID, nonces[trader], body)))
        nonces[trader] += 1
    return bench_genesis(traders, fee_account), txs


def measure_execute(genesis: ExchangeGenesis, txs: list[Tx], block_size: int) -> tuple[float, int]:
    """Seconds to execute every block, and how many txs succeeded."""
    exchange = Exchange(genesis)
    blocks = [txs[start : start + block_size] for start in range(0, len(txs), block_size)]
    succeeded = 0
    started = time.perf_counter()
    for height, block in enumerate(blocks, start=1):
        result = exchange.execute_block(height, height * 1000, block)
        succeeded += sum(1 for receipt in result.receipts if receipt.code == 0)
    return time.perf_counter() - started, succeeded


def run(
    ops: int, seed: int, repeats: int, execute_ops: int, accounts: int, block_size: int
) -> dict[str, object]:
    operations = generate_operations(ops, seed)
    places = sum(1 for operation in operations if isinstance(operation, Place))
    bftx_fills = replay_bftx(operations)
    peer_fills = replay_peer(operations)
    bftx_seconds, peer_seconds = [], []
    for _ in range(repeats):
        bftx_seconds.append(time_once(lambda: replay_bftx(operations)))
        peer_seconds.append(time_once(lambda: replay_peer(operations)))
    bftx_rate = ops / statistics.median(bftx_seconds)
    peer_rate = ops / statistics.median(peer_seconds)

    execute_operations = operations[:execute_ops]
    genesis, txs = signed_workload(execute_operations, accounts, seed)
    execute_seconds, succeeded = measure_execute(genesis, txs, block_size)
    return {
        "ops": ops,
        "seed": seed,
        "places": places,
        "cancels": ops - places,
        "fills": len(bftx_fills),
        "fills_equal": bftx_fills == peer_fills,
        "bftx_ops_per_s": round(bftx_rate),
        "peer_ops_per_s": round(peer_rate),
        "ratio": round(bftx_rate / peer_rate, 2),
        "repeats": repeats,
        "execute_txs": len(txs),
        "execute_accounts": accounts,
        "execute_block_size": block_size,
        "execute_txs_succeeded": succeeded,
        "execute_txs_per_s": round(len(txs) / execute_seconds),
    }


def print_table(result: dict[str, object]) -> None:
    rows = [
        (
            "workload",
            f"{result['ops']:,} ops (seed {result['seed']}): {result['places']:,} limit orders, "
            f"{result['cancels']:,} cancels, {result['fills']:,} fills",
        ),
        ("fills equal", str(result["fills_equal"])),
        ("bftx matcher", f"{result['bftx_ops_per_s']:,} ops/s"),
        ("lightmatchingengine", f"{result['peer_ops_per_s']:,} ops/s"),
        ("ratio", f"{result['ratio']}x (median of {result['repeats']} interleaved runs)"),
        (
            "execute_block",
            f"{result['execute_txs_per_s']:,} txs/s ({result['execute_txs']:,} signed txs, "
            f"{result['execute_accounts']} accounts, {result['execute_block_size']} txs/block)",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bftx.bench.matching", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--ops", type=int, default=200_000, help="operations in the matcher workload"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timed runs per engine")
    parser.add_argument(
        "--execute-ops", type=int, default=100_000, help="signed txs for execute_block"
    )
    parser.add_argument(
        "--accounts", type=int, default=1_000, help="trading accounts for execute_block"
    )
    parser.add_argument(
        "--block-size", type=int, default=2_000, help="txs per block for execute_block"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    arguments = parser.parse_args(argv)
    if (
        min(
            arguments.ops,
            arguments.repeats,
            arguments.execute_ops,
            arguments.accounts,
            arguments.block_size,
        )
        < 1
    ):
        parser.error(
            "--ops, --repeats, --execute-ops, --accounts and --block-size must be positive"
        )
    result = run(
        arguments.ops,
        arguments.seed,
        arguments.repeats,
        min(arguments.execute_ops, arguments.ops),
        arguments.accounts,
        arguments.block_size,
    )
    if arguments.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0 if result["fills_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
