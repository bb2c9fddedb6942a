"""Votes and quorums: what one sequence number collected, and when that is enough.

`Slot` holds the proposals, PREPARE and COMMIT votes of one sequence number
inside the watermark window; the `is_*`/`find_*` rules say when a slot is
prepared or committed. Pure data and pure functions: `Replica` decides what to
send.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bftx.consensus.messages import (
    Block,
    CommitCertificate,
    PreparedCertificate,
    SignatureShare,
)


@dataclass(slots=True)
class Slot:
    """Everything known about one sequence number inside the watermark window."""

    seq: int
    blocks: dict[bytes, Block] = field(default_factory=dict)  # digest -> block
    proposals: dict[int, Block] = field(default_factory=dict)  # view -> first signed proposal
    accepted: dict[int, bytes] = field(default_factory=dict)  # view -> digest this replica voted
    prepares: dict[tuple[int, bytes], dict[int, SignatureShare]] = field(default_factory=dict)
    commits: dict[tuple[int, bytes], dict[int, SignatureShare]] = field(default_factory=dict)
    prepare_votes: dict[tuple[int, int], bytes] = field(default_factory=dict)  # (view, signer)
    commit_votes: dict[tuple[int, int], bytes] = field(default_factory=dict)
    prepared: PreparedCertificate | None = None  # highest view prepared here
    commit_sent_views: set[int] = field(default_factory=set)
    certificate: CommitCertificate | None = None


def compute_first_shares(
    shares: dict[int, SignatureShare], count: int
) -> tuple[SignatureShare, ...]:
    return tuple(shares[signer] for signer in sorted(shares)[:count])


def is_prepared(slot: Slot, view: int, digest: bytes, quorum: int) -> bool:
    """2f+1 PREPAREs for (view, digest): the replica may COMMIT."""
    return len(slot.prepares.get((view, digest), ())) >= quorum
