"""Helpers for consensus tests: a 4-validator chain, signed messages, valid proposals."""

from __future__ import annotations

from bftx.consensus import Broadcast, ConsensusConfig, Replica, SignedMessage, ValidatorSet
from bftx.consensus.messages import (
    Block,
    BlockHeader,
    Body,
    compute_genesis_hash,
    compute_signing_payload,
    create_block,
)
from bftx.consensus.outputs import Output
from bftx.crypto import KeyPair, merkle_root
from bftx.sim.app import CounterApplication
from bftx.sim.simulation import create_keys

CHAIN_ID = "bftx-test"


def broadcasts_of(outputs: list[Output], kind: type) -> list[SignedMessage]:
    """The messages broadcast among ``outputs`` whose body is a ``kind``."""
    return [
        output.message
        for output in outputs
        if isinstance(output, Broadcast) and isinstance(output.message.body, kind)
    ]


def make_chain(nodes: int = 4) -> tuple[ConsensusConfig, list[KeyPair]]:
    keys = create_keys(nodes)
    validators = ValidatorSet(CHAIN_ID, tuple(key.public_key for key in keys))
    return ConsensusConfig(validators), keys


def make_replica(config: ConsensusConfig, keys: list[KeyPair], index: int) -> Replica:
    return Replica(config, index, keys[index], CounterApplication())


def sign(keys: list[KeyPair], signer: int, body: Body, chain_id: str = CHAIN_ID) -> SignedMessage:
    payload = compute_signing_payload(chain_id, body)
    return SignedMessage(body, signer, keys[signer].sign(payload))


def make_first_block(
    view: int = 0, seq: int = 1, txs: tuple[bytes, ...] = (b"tx:1",), proposer: int = 0
) -> Block:
    """A valid proposal for a height whose anchor is the genesis (seq <= pipeline depth)."""
    header = BlockHeader(
        chain_id=CHAIN_ID,
        height=seq,
        view=view,
        anchor_hash=compute_genesis_hash(CHAIN_ID),
        anchor_state_root=CounterApplication().state_root(),
        txs_root=merkle_root(txs),
        proposer=proposer,
        timestamp_ms=10,
        is_null=False,
    )
    return create_block(header, txs)
