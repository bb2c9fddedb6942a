from __future__ import annotations

import pytest

from bftx.consensus.messages import (
    Checkpoint,
    CheckpointProof,
    CommitCertificate,
    Prepare,
    PreparedCertificate,
    SignatureShare,
)
from bftx.consensus.outputs import (
    JournalRecord,
    PreparedRecord,
    PruneRecord,
    SignedRecord,
    ViewRecord,
)
from bftx.consensus.storage import (
    decode_block,
    decode_commit_certificate,
    decode_journal_record,
    encode_block,
    encode_commit_certificate,
    encode_journal_record,
)
from tests.consensus.support import CHAIN_ID, make_chain, make_first_block, sign

_CONFIG, KEYS = make_chain()
BLOCK = make_first_block()
SHARES = tuple(SignatureShare(index, bytes([index]) * 64) for index in range(3))
PROOF = CheckpointProof(Checkpoint(8, b"\x01" * 32, b"\x02" * 32), SHARES)


@pytest.mark.parametrize(
    "record",
    [
        SignedRecord(sign(KEYS, 1, Prepare(0, 1, BLOCK.digest))),
        PreparedRecord(PreparedCertificate(0, 1, BLOCK, SHARES)),
        ViewRecord(3),
        PruneRecord(8, 3, PROOF),
        PruneRecord(0, 1, None),  # a new view before any stable checkpoint
    ],
    ids=lambda record: type(record).__name__,
)
def test_journal_records_round_trip(record: JournalRecord) -> None:
    assert decode_journal_record(encode_journal_record(record), CHAIN_ID) == record


def test_blocks_and_certificates_round_trip() -> None:
    assert decode_block(encode_block(BLOCK), CHAIN_ID) == BLOCK
    certificate = CommitCertificate(0, 1, BLOCK.digest, SHARES)
    assert decode_commit_certificate(encode_commit_certificate(certificate)) == certificate
