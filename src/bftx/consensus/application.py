"""The boundary between consensus and the replicated application (ABCI-like).

Consensus sees transactions as opaque bytes. Whatever it replicates (the
exchange, the simulator's counter) implements `Application`. The application
must be deterministic: the same blocks in the same order give the same state
roots on every replica. This module owns only the protocol; it never imports
an application.
"""

from __future__ import annotations

from typing import Protocol

CHECK_TX_OK = 0


class Application(Protocol):
    def check_tx(self, tx: bytes) -> int:
        """Admission check for the pending pool: 0 admits, any other value is a rejection code."""
        ...

    def is_tx_used(self, tx: bytes) -> bool:
        """True once ``tx`` can never execute successfully again: it, or another tx that takes
        its place (the exchange: the same sender and nonce), executed in a block up to the last
        one executed here. The replica drops such txs from its pending pool and never admits
        them, however it learned of the block (execution, state transfer, restart)."""
        ...

    def validate_block(self, txs: tuple[bytes, ...]) -> bool:
        """Stateless validity of a proposal's txs (decoding, sizes, signatures).

        Called before the blocks in flight ahead of it have executed, so it must
        not depend on state those blocks change. Expected rejections of single
        txs (a bad nonce, no funds) are results of executing a valid block,
        never reasons to refuse it.
        """
        ...

    def execute_block(self, height: int, timestamp_ms: int, txs: tuple[bytes, ...]) -> bytes:
        """Apply a committed block and return the state root after it."""
        ...

    def state_root(self) -> bytes:
        """The state root after the last executed block (the genesis root before any)."""
        ...

    def create_snapshot(self) -> bytes:
        """The whole state, canonically encoded, as of the last executed block."""
        ...

    def restore_snapshot(self, height: int, snapshot: bytes, state_root: bytes) -> bool:
        """Replace the state with ``snapshot`` if its root is ``state_root``; else change nothing."""
        ...
