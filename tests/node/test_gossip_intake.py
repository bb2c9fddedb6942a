"""Gossiped txs wait in a queue and are admitted a slice of the event loop at a time, so a
peer's batch never holds consensus messages behind it; the queue counts in the backlog that
admission control bounds, and a full queue drops a batch instead of growing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bftx import limits
from bftx.chain import Genesis
from bftx.crypto import KeyPair, load_key
from bftx.exchange import OrderType, PlaceOrder, Side, sign_tx
from bftx.node.config import load_config
from bftx.node.runtime import TX_GOSSIP_CHANNEL, Node
from bftx.node.testnet import CHAIN_ID, create_testnet
from bftx.p2p.gossip import encode_batch
from bftx.p2p.network import Message

pytestmark = pytest.mark.timeout(60)


def single_validator(tmp_path: Path) -> tuple[Node, KeyPair]:
    """A one-validator node (not started) and its one trader's key."""
    testnet = create_testnet(tmp_path / "testnet", validators=1, traders=1)
    config = load_config(testnet.nodes[0].home)
    node = Node(config, Genesis.load(config.genesis_file), load_key(config.key_file))
    return node, testnet.accounts["trader000"]


def test_a_gossiped_batch_is_admitted_over_loop_turns_and_counts_as_backlog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node, trader = single_validator(tmp_path)
    body = PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 4_500_000, 1, 0)
    txs = [sign_tx(trader, CHAIN_ID, nonce, body) for nonce in range(40)]
    monkeypatch.setattr(limits, "gossip_slice_ms", 0)  # one tx per loop turn

    async def run() -> tuple[int, int, int, int]:
        await node.start()
        try:
            assert node.network is not None and node.mempool is not None
            peer = node.validators.public_keys[0]
            before = node.client_backlog()
            node._on_network_message(Message(peer, TX_GOSSIP_CHANNEL, encode_batch(txs)))
            queued, counted = len(node._gossip_backlog), node.client_backlog() - before
            await asyncio.sleep(0)
            after_one_turn = len(node._gossip_backlog)
            for _ in range(200):
                if not node._gossip_backlog:
                    break
                await asyncio.sleep(0)
            return queued, counted, after_one_turn, len(node.mempool)
        finally:
            await node.stop()

    queued, counted, after_one_turn, pooled = asyncio.run(run())
    assert queued == 40 and counted == 40  # nothing admitted inline, all of it is backlog
    assert after_one_turn == 39  # one slice, then the loop's turn
    assert pooled + node.txs_committed_total == 40


def test_a_peer_past_its_share_of_the_gossip_queue_has_its_batch_dropped_not_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node, _trader = single_validator(tmp_path)
    monkeypatch.setattr(limits, "gossip_backlog_txs_max", 4)  # one validator: a share of 4

    async def run() -> tuple[int, float]:
        await node.start()
        try:
            flooder, other = b"f" * 32, b"o" * 32
            node._on_network_message(Message(flooder, TX_GOSSIP_CHANNEL, encode_batch([b"a"] * 4)))
            node._on_network_message(Message(flooder, TX_GOSSIP_CHANNEL, encode_batch([b"b"])))
            node._on_network_message(Message(other, TX_GOSSIP_CHANNEL, encode_batch([b"c"] * 4)))
            return len(node._gossip_backlog), node.metrics.registry.get_sample_value(
                "bftx_gossip_batches_dropped_total"
            )
        finally:
            await node.stop()

    assert asyncio.run(run()) == (8, 1)  # the flooder's second batch only
