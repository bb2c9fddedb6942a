"""Admitted, uncommitted txs survive a clean stop: saved at stop, admitted again at start."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import pytest

from bftx import limits
from bftx.chain import Genesis
from bftx.consensus.storage import decode_block
from bftx.crypto import load_key, sha256
from bftx.errors import BftxError, DecodeError
from bftx.exchange import OrderType, PlaceOrder, Side, sign_tx
from bftx.node.config import load_config
from bftx.node.main import serve
from bftx.node.pending import PENDING_FILE, decode_pending, load_pending, save_pending
from bftx.node.runtime import TX_GOSSIP_CHANNEL, Node
from bftx.node.testnet import CHAIN_ID, create_testnet
from bftx.p2p.gossip import decode_batch
from bftx.store import Store

pytestmark = pytest.mark.timeout(60)


def test_saved_pending_txs_load_once_and_the_file_is_removed(tmp_path: Path) -> None:
    txs = [b"first tx", b"second tx"]
    assert save_pending(tmp_path, txs) == tmp_path / PENDING_FILE
    assert load_pending(tmp_path) == txs
    assert not (tmp_path / PENDING_FILE).exists()
    assert load_pending(tmp_path) == []  # a second start finds nothing


def test_saving_no_pending_tx_removes_an_older_file(tmp_path: Path) -> None:
    save_pending(tmp_path, [b"old"])
    assert save_pending(tmp_path, []) is None
    assert load_pending(tmp_path) == []


def test_a_damaged_pending_file_is_refused_and_removed(tmp_path: Path) -> None:
    (tmp_path / PENDING_FILE).write_bytes(b"\x92\x01")  # a list, but of an int
    with pytest.raises(DecodeError):
        load_pending(tmp_path)
    assert not (tmp_path / PENDING_FILE).exists()
    with pytest.raises(DecodeError, match="exceeds"):
        too_large = limits.tx_bytes_max + 1  # one item larger than any tx
        decode_pending(b"\x91\xc5" + too_large.to_bytes(2, "big") + bytes(too_large))


def test_a_cleanly_stopped_node_admits_its_uncommitted_txs_again_at_start(tmp_path: Path) -> None:
    # One validator of four runs: nothing commits, so every admitted tx stays pending.
    testnet = create_testnet(tmp_path / "testnet", validators=4, traders=1)
    config = load_config(testnet.nodes[0].home)
    genesis, key = Genesis.load(config.genesis_file), load_key(config.key_file)
    trader = testnet.accounts["trader000"]
    order = PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 4_500_000, 1, 0)
    txs = [sign_tx(trader, CHAIN_ID, nonce, order) for nonce in range(3)]

    async def run_node(submit: list[bytes]) -> set[bytes]:
        node = Node(config, genesis, key)
        await node.start()
        try:
            for data in submit:
                assert node.submit(data).code.slug == "ok"
            assert node.mempool is not None
            return {sha256(data) for data in txs if sha256(data) in node.mempool}
        finally:
            await node.stop()

    assert asyncio.run(run_node(txs)) == {sha256(data) for data in txs}
    assert (config.data_dir / PENDING_FILE).exists()
    assert asyncio.run(run_node([])) == {sha256(data) for data in txs}
    # Loaded once: the second stop saved them again, a start after that still has them.
    assert asyncio.run(run_node([])) == {sha256(data) for data in txs}


def test_a_validator_whose_link_comes_up_is_handed_every_pending_tx(tmp_path: Path) -> None:
    """It may have restarted (an empty mempool) or lost frames with a closed link."""
    testnet = create_testnet(tmp_path / "testnet", validators=4, followers=1, traders=1)
    config = load_config(testnet.nodes[0].home)
    genesis = Genesis.load(config.genesis_file)
    trader = testnet.accounts["trader000"]
    order = PlaceOrder("BTC/USD", Side.SELL, OrderType.LIMIT, 4_500_000, 1, 0)
    txs = [sign_tx(trader, CHAIN_ID, nonce, order) for nonce in range(3)]
    validator, follower = genesis.validators[1].public_key, genesis.followers[0].public_key

    async def run() -> list[tuple[bytes, int, bytes]]:
        node = Node(config, genesis, load_key(config.key_file))
        await node.start()
        sent: list[tuple[bytes, int, bytes]] = []
        try:
            for data in txs:
                node.submit(data)
            assert node.network is not None
            node.network.send = lambda peer, channel, payload: sent.append(  # type: ignore[method-assign,assignment,func-returns-value]
                (peer, channel, payload)
            )
            node._on_link_change(follower, True)
            node._on_link_change(validator, False)
            assert sent == []  # followers are not handed txs; a link going down sends nothing
            node._on_link_change(validator, True)
            assert sent == []  # not inside the transport's callback: just after it
            await asyncio.sleep(0)
            return sent
        finally:
            await node.stop()

    sent = asyncio.run(run())
    assert [(peer, channel) for peer, channel, _ in sent] == [(validator, TX_GOSSIP_CHANNEL)]
    assert list(decode_batch(sent[0][2])) == txs


@pytest.mark.parametrize("busy", ["p2p_port", "metrics_port", "api_port"])
def test_a_start_that_fails_keeps_the_saved_txs_for_the_next_one(
    tmp_path: Path, busy: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A busy port fails the start after the saved txs were admitted again: the file stays, what
    was started stops (and says so), and the next start commits each saved tx exactly once."""
    testnet = create_testnet(tmp_path / "testnet", validators=1, traders=1)
    config = load_config(testnet.nodes[0].home)
    genesis, key = Genesis.load(config.genesis_file), load_key(config.key_file)
    trader = testnet.accounts["trader000"]
    order = PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 4_500_000, 1, 0)
    txs = [sign_tx(trader, CHAIN_ID, nonce, order) for nonce in range(2)]
    config.data_dir.mkdir(parents=True, exist_ok=True)
    save_pending(config.data_dir, txs)
    saved = (config.data_dir / PENDING_FILE).read_bytes()

    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind((config.api_host, getattr(config, busy)))
        taken.listen()
        with (
            caplog.at_level(logging.INFO, logger="bftx.node"),
            pytest.raises((BftxError, OSError)),
        ):
            asyncio.run(serve(Node(config, genesis, key)))
    assert (config.data_dir / PENDING_FILE).read_bytes() == saved
    messages = [record.getMessage() for record in caplog.records]
    assert "start failed" in messages and "node stopped" in messages

    async def run_node(wait_for_commits: bool) -> list[int | None]:
        node = Node(config, genesis, key)
        await node.start()
        try:
            assert not (config.data_dir / PENDING_FILE).exists()  # started: deleted
            for _ in range(2_000):
                assert node.store is not None
                rows = [node.store.tx(sha256(data)) for data in txs]
                if not wait_for_commits or all(row is not None for row in rows):
                    break
                await asyncio.sleep(0.01)
            assert node.store is not None
            return [row.height if row is not None else None for row in rows]
        finally:
            await node.stop()

    heights = asyncio.run(run_node(wait_for_commits=True))
    assert None not in heights
    assert not (config.data_dir / PENDING_FILE).exists()  # nothing left pending at that stop
    assert asyncio.run(run_node(wait_for_commits=False)) == heights  # committed once, not again
    store = Store.open(config.database_path, genesis.chain_id, genesis.compute_hash())
    try:
        committed = [
            tx
            for height in range(1, store.latest_height() + 1)
            if (stored := store.block(height)) is not None
            for tx in decode_block(stored.block, genesis.chain_id).txs
        ]
    finally:
        store.close()
    assert sorted(committed) == sorted(txs)  # each saved tx in exactly one block
