"""The one path a certified block takes into the application.

A block with a commit certificate is final, whoever delivered it: the
replica's own quorum, a peer's fetch reply, a follower's sync, or the store at
restart. `apply_certified_block` is the only function that executes one. It
checks, in this order, that the block is the next height, that 2f+1
validators signed its COMMIT, that its anchor (digest and state root) is the
block this node executed ``pipeline_depth_blocks`` heights back, that its
timestamp is not before the anchor's, then executes it and, when the caller
knows the root the block must reach (the store at restart), compares it.

A block that fails a check raises `InvalidCertifiedBlock` with a stable
``reason`` and changes nothing. A certified block whose anchor disagrees with
this node's own history is not a peer's lie (the certificate is valid): it
means this node's state diverged, which callers must treat as fatal.

This module performs no I/O and keeps no state between calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bftx import crypto
from bftx.consensus.application import Application
from bftx.consensus.certificates import SignatureCheck, ValidatorSet, verify_commit_certificate
from bftx.consensus.messages import Block, CertifiedBlock, HistoryEntry
from bftx.errors import BftxError

NOT_NEXT_HEIGHT = "not_next_height"
PREVIOUS_UNKNOWN = "previous_unknown"
BAD_CERTIFICATE = "bad_certificate"
BAD_ANCHOR = "bad_anchor"
TIMESTAMP_BEFORE_ANCHOR = "timestamp_before_anchor"
STATE_ROOT_MISMATCH = "state_root_mismatch"

# Reasons that mean this node's own state disagrees with a block 2f+1 validators certified.
DIVERGENCE_REASONS = frozenset({BAD_ANCHOR, STATE_ROOT_MISMATCH})


class InvalidCertifiedBlock(BftxError):
    """A certified block this node must not execute; ``reason`` is one of the constants above."""

    def __init__(self, height: int, reason: str, detail: str) -> None:
        super().__init__(f"certified block {height}: {reason}: {detail}")
        self.height = height
        self.reason = reason

    @property
    def is_divergence(self) -> bool:
        """The certificate is valid but this node's state disagrees with it: stop the node."""
        return self.reason in DIVERGENCE_REASONS


@dataclass(frozen=True, slots=True)
class ChainRules:
    """What every check of a certified block needs besides the block and the history."""

    validators: ValidatorSet
    pipeline_depth_blocks: int
    check: SignatureCheck = crypto.verify
    quorum: int | None = (
        None  # None: the validator set's 2f+1 (only the simulator's mutants differ)
    )


def compute_execution_timestamp(block: Block, previous_timestamp_ms: int) -> int:
    """Blocks execute with non-decreasing time: the header's, or the previous block's if later
    (a null block carries no time of its own)."""
    return max(block.header.timestamp_ms, previous_timestamp_ms)


def compute_anchor_height(height: int, pipeline_depth_blocks: int) -> int:
    return max(height - pipeline_depth_blocks, 0)


def find_anchor_error(block: Block, anchor: HistoryEntry | None) -> str | None:
    """Why ``block``'s header does not fit ``anchor`` (None: it fits, or nothing to compare).

    Null blocks carry no anchor. An anchor this node no longer (or never)
    held, e.g. below a snapshot it restored, cannot be compared: the
    certificate alone vouches for it.
    """
    header = block.header
    if header.is_null or anchor is None:
        return None
    if header.anchor_hash != anchor.digest or header.anchor_state_root != anchor.state_root:
        return BAD_ANCHOR
    if header.timestamp_ms < anchor.timestamp_ms:
        return TIMESTAMP_BEFORE_ANCHOR
    return None


def verify_certified_block(
    rules: ChainRules, history: Mapping[int, HistoryEntry], certified: CertifiedBlock
) -> HistoryEntry:
    """Every check `apply_certified_block` makes before executing; returns the previous entry."""
    block = certified.block
    height = block.height
    previous = history.get(height - 1)
    if previous is None:
        newest = max(history, default=-1)
        reason = NOT_NEXT_HEIGHT if newest >= height else PREVIOUS_UNKNOWN
        raise InvalidCertifiedBlock(height, reason, f"this node's newest block is {newest}")
    if not verify_commit_certificate(
        rules.validators, certified.certificate, block, rules.check, rules.quorum
    ):
        raise InvalidCertifiedBlock(
            height, BAD_CERTIFICATE, "no quorum of validator signatures for this block"
        )
    anchor_height = compute_anchor_height(height, rules.pipeline_depth_blocks)
    error = find_anchor_error(block, history.get(anchor_height))
    if error is not None:
        raise InvalidCertifiedBlock(
            height,
            error,
            f"the header does not match block {anchor_height} as this node executed it",
        )
    return previous


def apply_certified_block(
    rules: ChainRules,
    application: Application,
    history: Mapping[int, HistoryEntry],
    certified: CertifiedBlock,
    expected_state_root: bytes | None = None,
) -> HistoryEntry:
    """Check ``certified`` against ``history`` (this node's executed chain tail, which must
    hold the previous height and, when known, the anchor), execute it, and return its entry.

    The caller adds the returned entry to its history. On a failed check nothing
    is executed and `InvalidCertifiedBlock` is raised. ``expected_state_root``
    (the root a store recorded for this block) is compared after execution: a
    mismatch raises with reason ``state_root_mismatch`` and the application has
    already changed, so the caller must stop.
    """
    previous = verify_certified_block(rules, history, certified)
    block = certified.block
    timestamp_ms = compute_execution_timestamp(block, previous.timestamp_ms)
    state_root = application.execute_block(block.height, timestamp_ms, block.txs)
    if expected_state_root is not None and state_root != expected_state_root:
        raise InvalidCertifiedBlock(
            block.height,
            STATE_ROOT_MISMATCH,
            "executing it gives another state root than the one recorded for it",
        )
    return HistoryEntry(block.height, block.digest, state_root, timestamp_ms)


__all__ = [
    "BAD_ANCHOR",
    "BAD_CERTIFICATE",
    "NOT_NEXT_HEIGHT",
    "PREVIOUS_UNKNOWN",
    "STATE_ROOT_MISMATCH",
    "TIMESTAMP_BEFORE_ANCHOR",
    "ChainRules",
    "InvalidCertifiedBlock",
    "apply_certified_block",
    "compute_execution_timestamp",
    "find_anchor_error",
    "verify_certified_block",
]
