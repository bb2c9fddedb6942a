"""The simulator's test application: a hash-chained counter.

Deterministic and tiny, so thousands of simulated blocks cost nothing. Its
state is (height, tx count, hash chain over every executed tx and block, the
executed txs), so any divergence in order or content changes the root at
once, and it can answer `is_tx_used` after a state transfer as the exchange
does from nonces. It owns only
its own state; it must never read time or randomness.
"""

from __future__ import annotations

from bftx import codec, limits
from bftx.consensus import CHECK_TX_OK
from bftx.crypto import sha256

TX_PREFIX = b"tx:"
REJECTED = 1


class CounterApplication:
    """Implements `bftx.consensus.Application`."""

    def __init__(self) -> None:
        self.height = 0
        self.tx_count = 0
        self.chain = sha256(b"bftx/sim/counter")
        self.executed_txs: set[bytes] = set()

    def check_tx(self, tx: bytes) -> int:
        return CHECK_TX_OK if is_valid_tx(tx) else REJECTED

    def is_tx_used(self, tx: bytes) -> bool:
        return tx in self.executed_txs

    def validate_block(self, txs: tuple[bytes, ...]) -> bool:
        return all(is_valid_tx(tx) for tx in txs)

    def execute_block(self, height: int, timestamp_ms: int, txs: tuple[bytes, ...]) -> bytes:
        assert height == self.height + 1, f"executing {height} after {self.height}"
        chain = self.chain
        for tx in txs:
            chain = sha256(chain + tx)
            self.executed_txs.add(tx)
        self.chain = sha256(chain + codec.encode((height, timestamp_ms)))
        self.height = height
        self.tx_count += len(txs)
        return self.state_root()

    def state_root(self) -> bytes:
        return sha256(self.create_snapshot())

    def create_snapshot(self) -> bytes:
        return codec.encode(
            (self.height, self.tx_count, self.chain, tuple(sorted(self.executed_txs)))
        )

    def restore_snapshot(self, height: int, snapshot: bytes, state_root: bytes) -> bool:
        if sha256(snapshot) != state_root:
            return False
        try:
            value = codec.decode(snapshot, limits.snapshot_bytes_max)
            restored_height, tx_count, chain, txs = codec.expect_tuple(value, 4, "snapshot")
            height = codec.expect_int(restored_height, "height")
            count = codec.expect_int(tx_count, "tx count")
            chain_hash = codec.expect_bytes(chain, "chain", size=32)
            items = codec.expect_list(txs, limits.snapshot_bytes_max, "executed txs")
            executed = {codec.expect_bytes(tx, "tx", max_size=64) for tx in items}
        except ValueError:
            return False
        self.height, self.tx_count, self.chain, self.executed_txs = (
            height,
            count,
            chain_hash,
            executed,
        )
        return self.height == height


def is_valid_tx(tx: bytes) -> bool:
    return tx.startswith(TX_PREFIX) and len(tx) <= 64
