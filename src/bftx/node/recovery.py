"""Rebuilding a node's state from its store, trusting nothing that certificates do not prove.

Restart = load the latest snapshot, then replay every stored block after it.
Each replayed block must hash to its stored digest, carry a valid commit
certificate for that digest, and execute to the stored state root; each
header's anchor state root must match the root this node computed for the
anchor height. Any disagreement stops the node with `StoreError`: a node must
never serve a state that differs from the certified one.
"""

from __future__ import annotations

from dataclasses import dataclass

from bftx.consensus import ValidatorSet, verify_commit_certificate
from bftx.consensus.messages import HistoryEntry, compute_genesis_hash
from bftx.consensus.storage import (
    compute_execution_timestamp,
    decode_block,
    decode_commit_certificate,
    decode_history,
)
from bftx.consensus.storage import (
    encode_history as encode_history,
)
from bftx.errors import DecodeError
from bftx.exchange.application import ExchangeApplication
from bftx.exchange.genesis import ExchangeGenesis
from bftx.store import Store, StoreError


@dataclass(frozen=True, slots=True)
class Recovered:
    application: ExchangeApplication
    history: tuple[HistoryEntry, ...]  # the newest executed blocks, oldest first
    replayed_blocks: int


def recover(
    store: Store, genesis: ExchangeGenesis, validators: ValidatorSet, pipeline_depth_blocks: int
) -> Recovered:
    application = ExchangeApplication(genesis)
    history: dict[int, HistoryEntry] = {
        0: HistoryEntry(0, compute_genesis_hash(validators.chain_id), application.state_root(), 0)
    }
    snapshot = store.latest_snapshot()
    if snapshot is not None:
        height, state_root, data = snapshot
        tail = _snapshot_tail(store, height, state_root)
        if not application.restore_snapshot(height, data, state_root):
            raise StoreError(
                f"{store.path}: the snapshot at height {height} does not match its state root"
            )
        history = {entry.height: entry for entry in tail}
    replayed = 0
    for stored in store.blocks_after(application.exchange.height):
        height = application.exchange.height + 1
        if stored.height != height:
            break  # a gap left by state transfer: peers will provide the rest
        try:
            block = decode_block(stored.block, validators.chain_id)
            certificate = decode_commit_certificate(stored.certificate)
        except DecodeError as error:
            raise StoreError(f"{store.path}: block {height} is damaged: {error}") from error
        if block.digest != stored.block_hash or not verify_commit_certificate(
            validators, certificate, block
        ):
            raise StoreError(
                f"{store.path}: block {height} is not the block its certificate commits"
            )
        anchor = history.get(max(height - pipeline_depth_blocks, 0))
        header = block.header
        if (
            not header.is_null
            and anchor is not None
            and (
                anchor.state_root != header.anchor_state_root or anchor.digest != header.anchor_hash
            )
        ):
            raise StoreError(
                f"{store.path}: replaying block {height} disagrees with the certified state root of block "
                f"{anchor.height}: this node's state diverged; stop and restore it from a healthy node"
            )
        previous = history[height - 1]
        timestamp = compute_execution_timestamp(block, previous.timestamp_ms)
        state_root = application.execute_block(height, timestamp, block.txs)
        if state_root != stored.state_root:
            raise StoreError(
                f"{store.path}: block {height} executes to another state root than the one stored"
            )
        history[height] = HistoryEntry(height, block.digest, state_root, timestamp)
        for old in [h for h in history if h <= height - pipeline_depth_blocks]:
            del history[old]
        replayed += 1
    return Recovered(application, tuple(history[h] for h in sorted(history)), replayed)


def _snapshot_tail(store: Store, height: int, state_root: bytes) -> tuple[HistoryEntry, ...]:
    """The executed-chain tail ending at the snapshot: its stored block, or, for a snapshot
    installed by state transfer (no block of that height here), the tail that came with it.
    The certified blocks replayed after it anchor on these entries (checked below)."""
    stored = store.block(height)
    if stored is not None and stored.state_root == state_root:
        return (HistoryEntry(height, stored.block_hash, state_root, stored.timestamp_ms),)
    saved = store.transfer_history()
    try:
        tail = decode_history(saved) if stored is None and saved is not None else ()
    except DecodeError as error:
        raise StoreError(f"{store.path}: the state-transfer history is damaged: {error}") from error
    if not tail or tail[-1].height != height or tail[-1].state_root != state_root:
        raise StoreError(
            f"{store.path}: the snapshot at height {height} has no matching stored block"
        )
    return tail
