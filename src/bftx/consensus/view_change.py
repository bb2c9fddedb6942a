"""View-change rules: which VIEW-CHANGE is valid and what a NEW-VIEW re-proposes.

Pure functions every replica evaluates alike (PBFT's NEW-VIEW rule), so a
NEW-VIEW need not carry its re-proposals. `Replica` owns the view-change state
and the transitions; this module never keeps state.
"""

from __future__ import annotations

from collections.abc import Sequence

from bftx.consensus.certificates import (
    SignatureCheck,
    ValidatorSet,
    is_quorum_of_shares,
    verify_checkpoint_proof,
    verify_prepared_certificate,
)
from bftx.consensus.messages import (
    Block,
    PreparedCertificate,
    Suspect,
    ViewChange,
    create_null_block,
)


def is_structurally_valid_view_change(
    validators: ValidatorSet,
    body: ViewChange,
    window_blocks: int,
    check: SignatureCheck,
    quorum: int,
) -> bool:
    """Its SUSPECT proof, checkpoint proof and every prepared certificate (not its signature)."""
    if not is_quorum_of_shares(
        validators, Suspect(body.new_view - 1), body.suspicions, check, quorum
    ):
        return False
    if body.checkpoint is not None and not verify_checkpoint_proof(
        validators, body.checkpoint, check, quorum
    ):
        return False
    base = body.checkpoint_seq
    seqs = [certificate.seq for certificate in body.prepared]
    if len(set(seqs)) != len(seqs):
        return False
    for certificate in body.prepared:
        if certificate.view >= body.new_view:
            return False
        if not base < certificate.seq <= base + window_blocks:
            return False
        if not verify_prepared_certificate(validators, certificate, check, quorum):
            return False
    return True


def compute_reproposals(
    view_changes: Sequence[ViewChange], chain_id: str, view: int, primary: int
) -> tuple[int, tuple[Block, ...]]:
    """PBFT's NEW-VIEW rule, as a pure function every replica evaluates alike.

    Returns the highest stable checkpoint among the view changes and, for each
    sequence number above it up to the highest prepared one, the block prepared
    in the highest view, or a null block where none was prepared.
    """
    base = max(change.checkpoint_seq for change in view_changes)
    best: dict[int, PreparedCertificate] = {}
    for change in view_changes:
        for certificate in change.prepared:
            if certificate.seq <= base:
                continue
            current = best.get(certificate.seq)
            if (
                current is None
                or certificate.view > current.view
                or (
                    certificate.view == current.view
                    and certificate.block.digest < current.block.digest
                )
            ):
                best[certificate.seq] = certificate
    highest = max(best, default=base)
    blocks = tuple(
        best[seq].block if seq in best else create_null_block(chain_id, seq, view, primary)
        for seq in range(base + 1, highest + 1)
    )
    return base, blocks
