"""apply_certified_block: the one path a certified block takes into the application."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bftx import codec
from bftx.consensus import ChainRules, InvalidCertifiedBlock, apply_certified_block
from bftx.consensus.messages import (
    Block,
    CertifiedBlock,
    Commit,
    CommitCertificate,
    HistoryEntry,
    SignatureShare,
    compute_genesis_hash,
    create_block,
)
from bftx.consensus.storage import decode_history, encode_history
from bftx.crypto import KeyPair
from bftx.errors import DecodeError
from bftx.sim.app import CounterApplication
from tests.consensus.support import CHAIN_ID, make_chain, make_first_block, sign


def certify(keys: list[KeyPair], block: Block, signers: range = range(3)) -> CertifiedBlock:
    body = Commit(0, block.height, block.digest)
    shares = tuple(SignatureShare(s, sign(keys, s, body).signature) for s in signers)
    return CertifiedBlock(block, CommitCertificate(0, block.height, block.digest, shares))


def genesis_history() -> dict[int, HistoryEntry]:
    root = CounterApplication().state_root()
    return {0: HistoryEntry(0, compute_genesis_hash(CHAIN_ID), root, 0)}


def rules_for_chain() -> tuple[ChainRules, list[KeyPair]]:
    config, keys = make_chain()
    return ChainRules(config.validators, config.pipeline_depth_blocks), keys


def test_valid_certified_block_executes_and_returns_its_history_entry() -> None:
    rules, keys = rules_for_chain()
    application = CounterApplication()
    block = make_first_block()
    entry = apply_certified_block(rules, application, genesis_history(), certify(keys, block))
    assert entry == HistoryEntry(1, block.digest, application.state_root(), 10)
    assert application.height == 1


def test_certificate_without_a_quorum_is_refused_and_nothing_executes() -> None:
    rules, keys = rules_for_chain()
    application = CounterApplication()
    certified = certify(keys, make_first_block(), signers=range(2))
    with pytest.raises(InvalidCertifiedBlock) as raised:
        apply_certified_block(rules, application, genesis_history(), certified)
    assert raised.value.reason == "bad_certificate" and not raised.value.is_divergence
    assert application.height == 0


def test_certificate_for_another_block_is_refused() -> None:
    rules, keys = rules_for_chain()
    other = make_first_block(txs=(b"tx:other",))
    certified = CertifiedBlock(make_first_block(), certify(keys, other).certificate)
    with pytest.raises(InvalidCertifiedBlock, match="bad_certificate"):
        apply_certified_block(rules, CounterApplication(), genesis_history(), certified)


def test_certified_block_on_another_anchor_is_a_divergence() -> None:
    rules, keys = rules_for_chain()
    block = make_first_block()
    wrong = create_block(replace(block.header, anchor_state_root=b"\x01" * 32), block.txs)
    application = CounterApplication()
    with pytest.raises(InvalidCertifiedBlock) as raised:
        apply_certified_block(rules, application, genesis_history(), certify(keys, wrong))
    assert raised.value.reason == "bad_anchor" and raised.value.is_divergence
    assert application.height == 0


def test_certified_block_stamped_before_its_anchor_is_refused() -> None:
    rules, keys = rules_for_chain()
    history = genesis_history()
    history[0] = replace(history[0], timestamp_ms=11)  # the anchor executed at 11, block says 10
    with pytest.raises(InvalidCertifiedBlock, match="timestamp_before_anchor"):
        apply_certified_block(
            rules, CounterApplication(), history, certify(keys, make_first_block())
        )


def test_block_that_is_not_the_next_height_is_refused() -> None:
    rules, keys = rules_for_chain()
    block = make_first_block(seq=2)
    with pytest.raises(InvalidCertifiedBlock, match="previous_unknown"):
        apply_certified_block(rules, CounterApplication(), genesis_history(), certify(keys, block))


def test_recorded_state_root_that_differs_after_execution_is_a_divergence() -> None:
    rules, keys = rules_for_chain()
    with pytest.raises(InvalidCertifiedBlock) as raised:
        apply_certified_block(
            rules,
            CounterApplication(),
            genesis_history(),
            certify(keys, make_first_block()),
            expected_state_root=b"\x00" * 32,
        )
    assert raised.value.reason == "state_root_mismatch" and raised.value.is_divergence


def test_history_has_one_decoder_that_bounds_state_roots_like_the_wire() -> None:
    entries = (HistoryEntry(5, b"\x01" * 32, b"\x02" * 64, 7),)
    assert decode_history(encode_history(entries)) == entries
    too_long = codec.encode(((5, b"\x01" * 32, b"\x02" * 65, 7),))
    with pytest.raises(DecodeError):
        decode_history(too_long)
