"""Matching benchmark: bftx's matcher against a peer, and the full execute_block path.

    python -m bftx.bench.matching [--ops 200000] [--seed 7] [--json]

In one process and on one seeded workload (`bftx.bench.workload`), replays the
operations through bftx's bare order book and through `lightmatchingengine`
(a matcher nobody here wrote), checks that both produce the same fills in the
same order, and reports operations per second for each and their ratio
(median of ``--repeats`` interleaved runs). Then measures ``execute_txs_per_s``
(CPU time of this process, median of ``--repeats`` runs):
signed place/cancel txs of the same shape from many accounts, run through
`Exchange.execute_block` (locks, matching, settlement, fees, events, state
root), signatures already verified as a validator's mempool would have.
Last, ``execute_contract_txs_per_s``: HTLC lock and claim txs (each lock claimed
by a third party in the next block) through the same `execute_block`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bftx import limits
from bftx.bench.workload import (
    Operation,
    Place,
    generate_operations,
    replay_bftx,
    replay_peer,
)
from bftx.crypto import KeyPair, sha256
from bftx.exchange import (
    CancelOrder,
    Exchange,
    ExchangeGenesis,
    HtlcClaim,
    HtlcLock,
    OrderType,
    PlaceOrder,
    Tx,
    compute_contract_id,
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


@dataclass(frozen=True, slots=True)
class _PendingClaim:
    claimer: int
    contract_id: bytes
    secret: bytes


def contract_workload(
    pairs: int, accounts: int, block_size: int, seed: int
) -> tuple[ExchangeGenesis, list[list[Tx]]]:
    """``pairs`` HTLC locks, each claimed by a third account in the block after its lock.

    Each block holds the claims of the previous block's locks and
    ``block_size // 2`` new locks, so all but the first and last blocks hold
    ``block_size`` txs. Signed and decoded here (setup, not timed).
    """
    generator = random.Random(seed)
    traders = [KeyPair.from_seed(generator.randbytes(32)) for _ in range(accounts)]
    fee_account = KeyPair.from_seed(generator.randbytes(32)).address
    nonces = [0] * accounts

    def signed(signer: int, body: HtlcLock | HtlcClaim) -> Tx:
        tx = decode_tx(sign_tx(traders[signer], CHAIN_ID, nonces[signer], body))
        nonces[signer] += 1
        return tx

    half = max(1, block_size // 2)
    expiry_ms = limits.contract_horizon_ms_max  # blocks are 1 s apart from 1 s: never expires
    blocks: list[list[Tx]] = []
    claims: list[_PendingClaim] = []
    for start in range(0, pairs, half):
        block = [signed(c.claimer, HtlcClaim(c.contract_id, c.secret)) for c in claims]
        claims = []
        for index in range(start, min(pairs, start + half)):
            sender = index % accounts
            secret = index.to_bytes(32, "big")
            receiver = traders[(index + 1) % accounts].address
            contract_id = compute_contract_id(traders[sender].address, nonces[sender])
            block.append(
                signed(sender, HtlcLock("BTC", 1_000, receiver, sha256(secret), expiry_ms))
            )
            claims.append(_PendingClaim((index + 2) % accounts, contract_id, secret))
        blocks.append(block)
    blocks.append([signed(c.claimer, HtlcClaim(c.contract_id, c.secret)) for c in claims])
    return bench_genesis(traders, fee_account), blocks


def measure_execute_blocks(genesis: ExchangeGenesis, blocks: list[list[Tx]]) -> tuple[float, int]:
    """CPU seconds of this process to execute every block from genesis, and how many txs
    succeeded. CPU time, not wall time: the machines are shared, and other processes'
    load would otherwise swing the rates (and their ratio) from run to run."""
    exchange = Exchange(genesis)
    succeeded = 0
    started = time.process_time()
    for height, block in enumerate(blocks, start=1):
        result = exchange.execute_block(height, height * 1000, block)
        succeeded += sum(1 for receipt in result.receipts if receipt.code == 0)
    return time.process_time() - started, succeeded


def measure_execute(genesis: ExchangeGenesis, txs: list[Tx], block_size: int) -> tuple[float, int]:
    """`measure_execute_blocks` of ``txs`` cut into blocks of ``block_size``."""
    blocks = [txs[start : start + block_size] for start in range(0, len(txs), block_size)]
    return measure_execute_blocks(genesis, blocks)


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
    contract_genesis, contract_blocks = contract_workload(
        execute_ops // 2, accounts, block_size, seed
    )
    contract_txs = sum(len(block) for block in contract_blocks)
    order_times, contract_times = [], []
    for _ in range(repeats):  # interleaved, so a slower moment of the machine hits both
        execute_seconds, succeeded = measure_execute(genesis, txs, block_size)
        order_times.append(execute_seconds)
        contract_seconds, contract_succeeded = measure_execute_blocks(
            contract_genesis, contract_blocks
        )
        contract_times.append(contract_seconds)
    execute_seconds = statistics.median(order_times)
    contract_seconds = statistics.median(contract_times)
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
        "execute_contract_txs": contract_txs,
        "execute_contract_txs_succeeded": contract_succeeded,
        "execute_contract_txs_per_s": round(contract_txs / contract_seconds),
        "contract_to_order_ratio": round(
            contract_txs / contract_seconds / (len(txs) / execute_seconds), 2
        ),
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
        (
            "execute_block, HTLCs",
            f"{result['execute_contract_txs_per_s']:,} txs/s ({result['execute_contract_txs']:,} "
            f"lock and claim txs, {result['contract_to_order_ratio']}x the order txs' rate)",
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
    contracts_ok = result["execute_contract_txs_succeeded"] == result["execute_contract_txs"]
    return 0 if result["fills_equal"] and contracts_ok else 1


if __name__ == "__main__":
    sys.exit(main())
