from __future__ import annotations

import pytest

from bftx import codec
from bftx.consensus.messages import (
    CertifiedBlock,
    Checkpoint,
    CheckpointProof,
    CheckpointTransfer,
    Commit,
    CommitCertificate,
    FetchReply,
    FetchRequest,
    HistoryEntry,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    SignatureShare,
    SignedMessage,
    Suspect,
    ViewChange,
    decode_message,
    encode_message,
)
from bftx.errors import DecodeError
from tests.consensus.support import CHAIN_ID, make_chain, make_first_block, sign

CONFIG, KEYS = make_chain()
BLOCK = make_first_block()
SHARES = tuple(SignatureShare(index, bytes([index]) * 64) for index in range(3))
CHECKPOINT = Checkpoint(8, b"\x01" * 32, b"\x02" * 32)
PREPARED = PreparedCertificate(0, 1, BLOCK, SHARES)
VIEW_CHANGE = ViewChange(1, CheckpointProof(CHECKPOINT, SHARES), (PREPARED,), SHARES)


def all_bodies() -> list[object]:
    view_change = sign(KEYS, 1, VIEW_CHANGE)
    return [
        PrePrepare(0, 1, BLOCK),
        Prepare(0, 1, BLOCK.digest),
        Commit(3, 9, BLOCK.digest),
        CHECKPOINT,
        VIEW_CHANGE,
        ViewChange(2, None, (), ()),
        Suspect(3),
        NewView(1, (view_change,)),
        FetchRequest(17),
        FetchReply(
            CheckpointTransfer(
                CheckpointProof(CHECKPOINT, SHARES),
                (HistoryEntry(8, b"\x03" * 32, b"\x01" * 32, 5),),
                b"snapshot",
            ),
            (CertifiedBlock(BLOCK, CommitCertificate(0, 1, BLOCK.digest, SHARES)),),
            sign(KEYS, 1, NewView(1, (view_change,))),
        ),
    ]


@pytest.mark.parametrize("body", all_bodies(), ids=lambda body: type(body).__name__)
def test_every_message_round_trips_through_the_codec(body: object) -> None:
    message = sign(KEYS, 2, body)  # type: ignore[arg-type]
    decoded = decode_message(encode_message(message), CHAIN_ID)
    assert decoded == message
    assert encode_message(decoded) == encode_message(message)


def test_block_whose_txs_do_not_match_the_txs_root_is_rejected() -> None:
    message = sign(KEYS, 0, PrePrepare(0, 1, BLOCK))
    kind, body, signer, signature = message.to_value()  # type: ignore[misc]
    view, seq, (header, _txs) = body  # type: ignore[misc]
    tampered = codec.encode((kind, (view, seq, (header, (b"tx:other",))), signer, signature))
    with pytest.raises(DecodeError, match="txs root"):
        decode_message(tampered, CHAIN_ID)


def test_block_for_another_chain_is_rejected() -> None:
    message = encode_message(sign(KEYS, 0, PrePrepare(0, 1, BLOCK)))
    with pytest.raises(DecodeError, match="chain"):
        decode_message(message, "another-chain")


@pytest.mark.parametrize(
    "data",
    [b"", b"\xc1", codec.encode((9, (), 0, b"x" * 64)), codec.encode((2, (0, 1), 0, b"x" * 64))],
)
def test_junk_bytes_raise_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_message(data, CHAIN_ID)


def test_signing_payload_is_memoized_per_message_and_chain() -> None:
    message = sign(KEYS, 2, Prepare(0, 1, BLOCK.digest))
    assert message.compute_payload(CHAIN_ID) is message.compute_payload(CHAIN_ID)
    assert message.compute_payload("other") != message.compute_payload(CHAIN_ID)
    assert isinstance(message, SignedMessage)
