"""Blocks and the signed consensus messages: their fields, canonical bytes and strict decoding.

This module owns the wire shape of consensus. Every message is a frozen, slotted
record; its canonical encoding (bftx.codec) is what is signed and hashed. It
must never hold replica state, verify signatures or decide anything: checks
against the validator set live in `bftx.consensus.certificates`, protocol
decisions in `bftx.consensus.replica`.

A block header does not name the previous block but its *anchor*: the block
``pipeline_depth_blocks`` heights back (the previous block when the depth is 1).
The anchor is the newest block a proposer is guaranteed to have committed and
executed while ``pipeline_depth_blocks`` proposals are in flight, so the header
can commit to its hash, its state root and its timestamp, and every replica
can check them before it votes (docs/consensus.md, "Blocks").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from bftx import codec, limits
from bftx.codec import Value
from bftx.crypto import HASH_BYTES, SIGNATURE_BYTES, merkle_root, sha256
from bftx.errors import DecodeError
from bftx.lightblock import (
    COMMIT_KIND,
    decode_hash,
    decode_header_value,
    decode_int,
    decode_shares,
    decode_state_root,
)
from bftx.lightblock import SIGNING_DOMAIN as SIGNING_DOMAIN
from bftx.lightblock import STATE_ROOT_BYTES_MAX as STATE_ROOT_BYTES_MAX
from bftx.lightblock import BlockHeader as BlockHeader
from bftx.lightblock import CommitCertificate as CommitCertificate
from bftx.lightblock import SignatureShare as SignatureShare
from bftx.lightblock import compute_header_digest as compute_header_digest
from bftx.lightblock import compute_shares_value as compute_shares_value
from bftx.lightblock import decode_commit_certificate_value as _commit_certificate
from bftx.lightblock import decode_header as decode_header

ZERO_HASH = bytes(HASH_BYTES)


def compute_genesis_hash(chain_id: str) -> bytes:
    """The hash blocks below the pipeline depth use as their anchor."""
    return sha256(b"bftx/genesis/" + chain_id.encode())


# --- blocks ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Block:
    header: BlockHeader
    txs: tuple[bytes, ...]
    digest: bytes  # sha256 of the canonical header; set only by create_block / decode_block

    @property
    def height(self) -> int:
        return self.header.height

    def to_value(self) -> Value:
        return (self.header.to_value(), self.txs)


def create_block(header: BlockHeader, txs: tuple[bytes, ...]) -> Block:
    assert header.txs_root == merkle_root(txs), "the header must commit to the txs"
    return Block(header=header, txs=txs, digest=compute_header_digest(header))


def create_null_block(chain_id: str, height: int, view: int, proposer: int) -> Block:
    """The canonical filler block: every replica computes the same one."""
    header = BlockHeader(
        chain_id=chain_id,
        height=height,
        view=view,
        anchor_hash=ZERO_HASH,
        anchor_state_root=b"",
        txs_root=merkle_root(()),
        proposer=proposer,
        timestamp_ms=0,
        is_null=True,
    )
    return create_block(header, ())


# --- message bodies ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrePrepare:
    view: int
    seq: int
    block: Block

    def to_value(self) -> Value:
        return (self.view, self.seq, self.block.to_value())


@dataclass(frozen=True, slots=True)
class Prepare:
    view: int
    seq: int
    digest: bytes

    def to_value(self) -> Value:
        return (self.view, self.seq, self.digest)


@dataclass(frozen=True, slots=True)
class Commit:
    view: int
    seq: int
    digest: bytes

    def to_value(self) -> Value:
        return (self.view, self.seq, self.digest)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """What a replica remembers of an executed block: enough to check later anchors."""

    height: int
    digest: bytes
    state_root: bytes
    timestamp_ms: int

    def to_value(self) -> Value:
        return (self.height, self.digest, self.state_root, self.timestamp_ms)


def compute_history_digest(history: tuple[HistoryEntry, ...]) -> bytes:
    return sha256(codec.encode(tuple(entry.to_value() for entry in history)))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A replica's signed claim about its state after executing block ``seq``."""

    seq: int
    state_root: bytes
    history_digest: bytes  # over the last pipeline-depth HistoryEntry records up to seq

    def to_value(self) -> Value:
        return (self.seq, self.state_root, self.history_digest)


@dataclass(frozen=True, slots=True)
class CheckpointProof:
    """2f+1 signatures over one Checkpoint: the checkpoint is stable."""

    checkpoint: Checkpoint
    shares: tuple[SignatureShare, ...]
    _value: Value = field(default=None, init=False, repr=False, compare=False)  # memo

    def to_value(self) -> Value:
        if self._value is None:
            value = (self.checkpoint.to_value(), compute_shares_value(self.shares))
            object.__setattr__(self, "_value", value)
        return self._value


@dataclass(frozen=True, slots=True)
class PreparedCertificate:
    """2f+1 signed PREPAREs for (view, seq, block.digest), with the block."""

    view: int
    seq: int
    block: Block
    shares: tuple[SignatureShare, ...]
    _value: Value = field(default=None, init=False, repr=False, compare=False)  # memo

    def to_value(self) -> Value:
        if self._value is None:
            value = (self.view, self.seq, self.block.to_value(), compute_shares_value(self.shares))
            object.__setattr__(self, "_value", value)
        return self._value


@dataclass(frozen=True, slots=True)
class Suspect:
    """The signer wants to leave ``view`` (it stalled, or a tx was passed over).

    Not binding: the signer keeps voting in ``view``. 2f+1 of them make a
    view change certain (at least f+1 honest replicas wanted it), and that
    proof travels inside every VIEW-CHANGE, so one replica alone never leaves
    a view the others keep using (docs/consensus.md, "View change").
    """

    view: int

    def to_value(self) -> Value:
        return (self.view,)


@dataclass(frozen=True, slots=True)
class ViewChange:
    new_view: int
    checkpoint: CheckpointProof | None  # None means the genesis checkpoint (seq 0)
    prepared: tuple[PreparedCertificate, ...]  # the highest-view certificate per seq
    suspicions: tuple[SignatureShare, ...]  # 2f+1 signatures over Suspect(new_view - 1)
    _value: Value = field(default=None, init=False, repr=False, compare=False)  # memo

    @property
    def checkpoint_seq(self) -> int:
        return 0 if self.checkpoint is None else self.checkpoint.checkpoint.seq

    def to_value(self) -> Value:
        if self._value is None:
            value = (
                self.new_view,
                None if self.checkpoint is None else self.checkpoint.to_value(),
                tuple(certificate.to_value() for certificate in self.prepared),
                compute_shares_value(self.suspicions),
            )
            object.__setattr__(self, "_value", value)
        return self._value


@dataclass(frozen=True, slots=True)
class NewView:
    view: int
    view_changes: tuple[SignedMessage, ...]  # 2f+1 signed ViewChange for ``view``
    _value: Value = field(default=None, init=False, repr=False, compare=False)  # memo

    def to_value(self) -> Value:
        if self._value is None:
            value = (self.view, tuple(message.to_value() for message in self.view_changes))
            object.__setattr__(self, "_value", value)
        return self._value


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """Ask a peer for the committed blocks from ``from_height`` (state transfer)."""

    from_height: int

    def to_value(self) -> Value:
        return (self.from_height,)


@dataclass(frozen=True, slots=True)
class CertifiedBlock:
    block: Block
    certificate: CommitCertificate

    def to_value(self) -> Value:
        return (self.block.to_value(), self.certificate.to_value())


@dataclass(frozen=True, slots=True)
class CheckpointTransfer:
    """A stable checkpoint, the application snapshot at it and its anchor history."""

    proof: CheckpointProof
    history: tuple[HistoryEntry, ...]
    snapshot: bytes

    def to_value(self) -> Value:
        return (
            self.proof.to_value(),
            tuple(entry.to_value() for entry in self.history),
            self.snapshot,
        )


@dataclass(frozen=True, slots=True)
class FetchReply:
    transfer: CheckpointTransfer | None
    blocks: tuple[CertifiedBlock, ...]  # consecutive heights
    new_view: SignedMessage | None  # the responder's installed NEW-VIEW, to join its view

    def to_value(self) -> Value:
        return (
            None if self.transfer is None else self.transfer.to_value(),
            tuple(block.to_value() for block in self.blocks),
            None if self.new_view is None else self.new_view.to_value(),
        )


Body: TypeAlias = (
    PrePrepare
    | Prepare
    | Commit
    | Checkpoint
    | ViewChange
    | NewView
    | FetchRequest
    | FetchReply
    | Suspect
)

KIND_OF_BODY: dict[type, int] = {
    PrePrepare: 1,
    Prepare: 2,
    Commit: COMMIT_KIND,
    Checkpoint: 4,
    ViewChange: 5,
    NewView: 6,
    FetchRequest: 7,
    FetchReply: 8,
    Suspect: 9,
}


def compute_signing_payload(chain_id: str, body: Body) -> bytes:
    """The bytes a validator signs: domain, chain id, message kind and body."""
    return codec.encode((SIGNING_DOMAIN, chain_id, KIND_OF_BODY[type(body)], body.to_value()))


@dataclass(frozen=True, slots=True)
class SignedMessage:
    body: Body
    signer: int
    signature: bytes
    # memo of (chain id, signing payload): one message object may reach many replicas
    _payload: tuple[str, bytes] | None = field(default=None, init=False, repr=False, compare=False)

    def to_value(self) -> Value:
        return (KIND_OF_BODY[type(self.body)], self.body.to_value(), self.signer, self.signature)

    def compute_payload(self, chain_id: str) -> bytes:
        """The bytes the signature must cover (`compute_signing_payload` of the body)."""
        memo = self._payload
        if memo is None or memo[0] != chain_id:
            memo = (chain_id, compute_signing_payload(chain_id, self.body))
            object.__setattr__(self, "_payload", memo)
        return memo[1]


def encode_message(message: SignedMessage) -> bytes:
    return codec.encode(message.to_value())


# --- strict decoding -------------------------------------------------------------


def decode_message(data: bytes, chain_id: str) -> SignedMessage:
    """Decode wire bytes into a SignedMessage; raise DecodeError on anything malformed."""
    return _signed_message(codec.decode(data, limits.consensus_message_bytes_max), chain_id, 0)


def _signed_message(value: Value, chain_id: str, depth: int) -> SignedMessage:
    kind_value, body_value, signer_value, signature_value = codec.expect_tuple(value, 4, "message")
    kind = codec.expect_int(kind_value, "message kind", 1, len(KIND_OF_BODY))
    signer = codec.expect_int(signer_value, "signer", 0, limits.validators_max - 1)
    signature = codec.expect_bytes(signature_value, "signature", size=SIGNATURE_BYTES)
    body = _body(kind, body_value, chain_id, depth)
    return SignedMessage(body=body, signer=signer, signature=signature)


def _body(kind: int, value: Value, chain_id: str, depth: int) -> Body:
    if kind == 1:
        view, seq, block = codec.expect_tuple(value, 3, "pre-prepare")
        return PrePrepare(_int(view, "view"), _int(seq, "seq"), _block(block, chain_id))
    if kind in (2, 3):
        view, seq, digest = codec.expect_tuple(value, 3, "vote")
        record = Prepare if kind == 2 else Commit
        return record(_int(view, "view"), _int(seq, "seq"), _hash(digest, "digest"))
    if kind == 4:
        return _checkpoint(value)
    if kind == 5:
        return _view_change(value, chain_id)
    if kind == 6:
        if depth > 1:
            raise DecodeError("a NEW-VIEW is nested too deep")
        view, changes = codec.expect_tuple(value, 2, "new-view")
        items = codec.expect_list(changes, limits.validators_max, "view changes")
        signed = tuple(_signed_message(item, chain_id, depth + 1) for item in items)
        if not all(isinstance(message.body, ViewChange) for message in signed):
            raise DecodeError("new-view: every entry must be a view change")
        return NewView(_int(view, "view"), signed)
    if kind == 7:
        (from_height,) = codec.expect_tuple(value, 1, "fetch request")
        return FetchRequest(_int(from_height, "from height"))
    if kind == 9:
        (view,) = codec.expect_tuple(value, 1, "suspect")
        return Suspect(_int(view, "view"))
    if depth > 0:
        raise DecodeError("a fetch reply cannot be nested")
    return _fetch_reply(value, chain_id, depth)


_int = decode_int
_hash = decode_hash
_state_root = decode_state_root


def _block(value: Value, chain_id: str) -> Block:
    header_value, txs_value = codec.expect_tuple(value, 2, "block")
    header = decode_header_value(header_value, chain_id)
    items = codec.expect_list(txs_value, limits.txs_per_block_max, "txs")
    txs = tuple(codec.expect_bytes(tx, "tx", max_size=limits.tx_bytes_max) for tx in items)
    digest = compute_header_digest(header)
    known = _decoded_blocks.get(digest)
    if known is not None and known.txs == txs:
        return known  # the same block again (a retransmission, a view change): root checked
    if merkle_root(txs) != header.txs_root:
        raise DecodeError("the txs root does not match the txs")
    block = Block(header=header, txs=txs, digest=digest)
    if len(_decoded_blocks) >= _DECODED_BLOCKS_MAX:
        del _decoded_blocks[next(iter(_decoded_blocks))]
    _decoded_blocks[digest] = block
    return block


# Recently decoded blocks by header digest. A pure memo: a hit has the same header and the
# same txs, so it is exactly the block a fresh decode would build; it only saves the txs root.
_DECODED_BLOCKS_MAX = 64
_decoded_blocks: dict[bytes, Block] = {}


_shares = decode_shares


def _checkpoint(value: Value) -> Checkpoint:
    seq, state_root, history_digest = codec.expect_tuple(value, 3, "checkpoint")
    return Checkpoint(
        _int(seq, "seq"), _state_root(state_root, "state root"), _hash(history_digest, "history")
    )


def _checkpoint_proof(value: Value) -> CheckpointProof:
    checkpoint, shares = codec.expect_tuple(value, 2, "checkpoint proof")
    return CheckpointProof(_checkpoint(checkpoint), _shares(shares))


def _prepared_certificate(value: Value, chain_id: str) -> PreparedCertificate:
    view, seq, block, shares = codec.expect_tuple(value, 4, "prepared certificate")
    return PreparedCertificate(
        _int(view, "view"), _int(seq, "seq"), _block(block, chain_id), _shares(shares)
    )


def _view_change(value: Value, chain_id: str) -> ViewChange:
    new_view, checkpoint, prepared, suspicions = codec.expect_tuple(value, 4, "view change")
    items = codec.expect_list(prepared, limits.watermark_window_blocks, "prepared certificates")
    return ViewChange(
        new_view=_int(new_view, "new view"),
        checkpoint=None if checkpoint is None else _checkpoint_proof(checkpoint),
        prepared=tuple(_prepared_certificate(item, chain_id) for item in items),
        suspicions=_shares(suspicions),
    )


def decode_history_entries(value: Value, entries_max: int) -> tuple[HistoryEntry, ...]:
    """The one decoder of `HistoryEntry` lists (on the wire and in the store)."""
    items = codec.expect_list(value, entries_max, "history")
    entries = []
    for item in items:
        height, digest, state_root, timestamp = codec.expect_tuple(item, 4, "history entry")
        entries.append(
            HistoryEntry(
                _int(height, "height"),
                _hash(digest, "digest"),
                _state_root(state_root, "state root"),
                _int(timestamp, "timestamp"),
            )
        )
    return tuple(entries)


def _history(value: Value) -> tuple[HistoryEntry, ...]:
    return decode_history_entries(value, limits.pipeline_depth_blocks)


def _fetch_reply(value: Value, chain_id: str, depth: int) -> FetchReply:
    transfer_value, blocks_value, new_view_value = codec.expect_tuple(value, 3, "fetch reply")
    transfer = None
    if transfer_value is not None:
        proof, history, snapshot = codec.expect_tuple(transfer_value, 3, "checkpoint transfer")
        transfer = CheckpointTransfer(
            _checkpoint_proof(proof),
            _history(history),
            codec.expect_bytes(snapshot, "snapshot", max_size=limits.snapshot_bytes_max),
        )
    items = codec.expect_list(blocks_value, limits.fetch_blocks_max, "certified blocks")
    blocks = []
    for item in items:
        block, certificate = codec.expect_tuple(item, 2, "certified block")
        blocks.append(CertifiedBlock(_block(block, chain_id), _commit_certificate(certificate)))
    new_view = None
    if new_view_value is not None:
        new_view = _signed_message(new_view_value, chain_id, depth + 1)
        if not isinstance(new_view.body, NewView):
            raise DecodeError("fetch reply: the new view entry must be a NEW-VIEW")
    return FetchReply(transfer, tuple(blocks), new_view)
