"""Rebuilding a node's state from its store, trusting nothing that certificates do not prove.

Restart = load the latest snapshot, then replay every stored block after it.
Each replayed block must hash to its stored digest and then pass the one path
every certified block takes (`bftx.consensus.apply_certified_block`: a valid
commit certificate, the anchor digest and state root this node computed, the
timestamp rule), and execute to the stored state root. Any disagreement stops the node with `StoreError`: a node must
never serve a state that differs from the certified one.
"""

from __future__ import annotations

from dataclasses import dataclass

from bftx.consensus import ChainRules, InvalidCertifiedBlock, ValidatorSet, apply_certified_block
from bftx.consensus.certified import BAD_CERTIFICATE, STATE_ROOT_MISMATCH
from bftx.consensus.messages import CertifiedBlock, HistoryEntry, compute_genesis_hash
from bftx.consensus.storage import (
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
    rules = ChainRules(validators, pipeline_depth_blocks)
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
        if block.digest != stored.block_hash:
            raise StoreError(f"{store.path}: block {height} does not hash to its stored digest")
        try:
            entry = apply_certified_block(
                rules,
                application,
                history,
                CertifiedBlock(block, certificate),
                expected_state_root=stored.state_root,
            )
        except InvalidCertifiedBlock as error:
            raise StoreError(f"{store.path}: {_explain(error)}") from error
        history[height] = entry
        for old in [h for h in history if h <= height - pipeline_depth_blocks]:
            del history[old]
        replayed += 1
    return Recovered(application, tuple(history[h] for h in sorted(history)), replayed)


def _explain(error: InvalidCertifiedBlock) -> str:
    height = error.height
    if error.reason == STATE_ROOT_MISMATCH:
        return f"block {height} executes to another state root than the one stored"
    if error.reason == BAD_CERTIFICATE:
        return f"block {height} is not the block its certificate commits"
    if error.is_divergence:
        return (
            f"replaying: {error}: this node's state diverged from the certified one; "
            "stop and restore it from a healthy node"
        )
    return f"replaying: {error}"


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
