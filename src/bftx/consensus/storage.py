"""Bytes for what the node keeps on disk: blocks, commit certificates, journal records.

The store (`bftx.store`) saves opaque bytes; this module owns their canonical
encoding and strict decoding (a damaged file raises `DecodeError`, never
anything else), and the one rule a replaying node needs besides the
application: the timestamp a block executes with (`compute_execution_timestamp`, defined
beside `apply_certified_block` and re-exported here).
"""

from __future__ import annotations

from bftx import codec, lightblock, limits
from bftx.consensus import messages
from bftx.consensus.certified import compute_execution_timestamp as compute_execution_timestamp
from bftx.consensus.messages import Block, CommitCertificate, HistoryEntry, SignedMessage
from bftx.consensus.outputs import (
    JournalRecord,
    PreparedRecord,
    PruneRecord,
    SignedRecord,
    ViewRecord,
)
from bftx.errors import DecodeError

_SIGNED, _PREPARED, _VIEW, _PRUNE = 1, 2, 3, 4


def encode_block(block: Block) -> bytes:
    return codec.encode(block.to_value())


def decode_block(data: bytes, chain_id: str) -> Block:
    return messages._block(codec.decode(data, limits.block_bytes_max), chain_id)


def encode_commit_certificate(certificate: CommitCertificate) -> bytes:
    return codec.encode(certificate.to_value())


def decode_commit_certificate(data: bytes) -> CommitCertificate:
    return lightblock.decode_commit_certificate(data)


def encode_history(history: tuple[HistoryEntry, ...]) -> bytes:
    return codec.encode(tuple(entry.to_value() for entry in history))


def decode_history(data: bytes) -> tuple[HistoryEntry, ...]:
    """A chain tail saved with a state-transfer snapshot (`messages.decode_history_entries`)."""
    return messages.decode_history_entries(codec.decode(data, 65_536), limits.pipeline_depth_blocks)


def encode_journal_record(record: JournalRecord) -> bytes:
    if isinstance(record, SignedRecord):
        return codec.encode((_SIGNED, record.message.to_value()))
    if isinstance(record, PreparedRecord):
        return codec.encode((_PREPARED, record.certificate.to_value()))
    if isinstance(record, ViewRecord):
        return codec.encode((_VIEW, record.view))
    proof = None if record.proof is None else record.proof.to_value()
    return codec.encode((_PRUNE, record.seq, record.view, proof))


def decode_journal_record(data: bytes, chain_id: str) -> JournalRecord:
    value = codec.decode(data, limits.consensus_message_bytes_max)
    items = codec.expect_list(value, 4, "journal record")
    if not items:
        raise DecodeError("journal record: empty")
    kind = codec.expect_int(items[0], "journal record kind", _SIGNED, _PRUNE)
    if kind == _SIGNED:
        _kind, message = codec.expect_tuple(value, 2, "signed record")
        signed: SignedMessage = messages._signed_message(message, chain_id, 0)
        return SignedRecord(signed)
    if kind == _PREPARED:
        _kind, certificate = codec.expect_tuple(value, 2, "prepared record")
        return PreparedRecord(messages._prepared_certificate(certificate, chain_id))
    if kind == _VIEW:
        _kind, view = codec.expect_tuple(value, 2, "view record")
        return ViewRecord(codec.expect_int(view, "view"))
    _kind, seq, view, proof = codec.expect_tuple(value, 4, "prune record")
    return PruneRecord(
        codec.expect_int(seq, "prune seq"),
        codec.expect_int(view, "prune view"),
        None if proof is None else messages._checkpoint_proof(proof),
    )
