"""Restart from the store: the same state again, and a damaged or divergent store stops the node.

One validator (n = 1 commits alone) runs in-process; after it stops, the
test restarts it from its store, or tampers with the store first.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bftx.chain import Genesis
from bftx.crypto import KeyPair, load_key
from bftx.errors import Code
from bftx.exchange import OrderType, PlaceOrder, Side, sign_tx
from bftx.node.config import load_config
from bftx.node.runtime import Node
from bftx.node.testnet import CHAIN_ID, create_testnet
from bftx.store import StoreError

pytestmark = pytest.mark.timeout(120)


def make_node(home: Path) -> Node:
    config = load_config(home)
    return Node(config, Genesis.load(config.genesis_file), load_key(config.key_file))


async def run_and_trade(home: Path, traders: list[KeyPair], rounds: int) -> tuple[int, str]:
    """Start the node, trade in rounds (a block or more each), stop; its final height and root."""
    node = make_node(home)
    await node.start()
    nonces = dict.fromkeys((trader.address for trader in traders), 0)
    try:
        for round_number in range(rounds):
            hashes = []
            for index, trader in enumerate(traders):
                side = Side.BUY if (index + round_number) % 2 else Side.SELL
                body = PlaceOrder(
                    "BTC/USD", side, OrderType.LIMIT, 4_500_000 + index % 3, 1 + index, 0
                )
                admitted = node.submit(sign_tx(trader, CHAIN_ID, nonces[trader.address], body))
                assert admitted.code is Code.OK, admitted
                nonces[trader.address] += 1
                hashes.append(admitted.tx_hash)
            await wait_committed(node, hashes)
        return node.height, node.application.state_root().hex()
    finally:
        await node.stop()


async def wait_committed(node: Node, hashes: list[bytes | None]) -> None:
    for _ in range(500):
        assert node.store is not None
        if all(tx_hash is not None and node.store.tx(tx_hash) is not None for tx_hash in hashes):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the orders did not commit")


async def restart(home: Path) -> tuple[int, str]:
    node = make_node(home)
    await node.start()
    try:
        return node.height, node.application.state_root().hex()
    finally:
        await node.stop()


@pytest.fixture
def chain(tmp_path: Path) -> tuple[Path, int, str]:
    testnet = create_testnet(tmp_path / "testnet", validators=1, traders=4)
    traders = [testnet.accounts[f"trader{index:03d}"] for index in range(4)]
    home = testnet.nodes[0].home
    height, root = asyncio.run(run_and_trade(home, traders, rounds=5))
    return home, height, root


def test_a_restart_recovers_the_same_state(chain: tuple[Path, int, str]) -> None:
    home, height, root = chain
    assert height >= 5
    recovered_height, recovered_root = asyncio.run(restart(home))
    assert recovered_height >= height
    if recovered_height == height:
        assert recovered_root == root


def tamper(home: Path, statement: str) -> None:
    connection = sqlite3.connect(home / "data" / "node.db")
    connection.execute(statement)
    connection.commit()
    connection.close()


def test_a_stored_state_root_that_differs_from_execution_stops_the_node(
    chain: tuple[Path, int, str],
) -> None:
    home, _height, _root = chain
    tamper(home, "UPDATE blocks SET state_root = zeroblob(32) WHERE height = 2")
    with pytest.raises(StoreError, match="another state root"):
        asyncio.run(restart(home))


def test_a_damaged_block_stops_the_node(chain: tuple[Path, int, str]) -> None:
    home, _height, _root = chain
    tamper(home, "UPDATE blocks SET block = substr(block, 1, length(block) - 3) WHERE height = 3")
    with pytest.raises(StoreError, match="block 3"):
        asyncio.run(restart(home))


def test_a_block_without_a_valid_certificate_stops_the_node(chain: tuple[Path, int, str]) -> None:
    home, _height, _root = chain
    connection = sqlite3.connect(home / "data" / "node.db")
    (certificate,) = connection.execute(
        "SELECT certificate FROM blocks WHERE height = 2"
    ).fetchone()
    forged = bytearray(certificate)
    forged[-5] ^= 0xFF  # inside the last signature
    connection.execute("UPDATE blocks SET certificate = ? WHERE height = 2", (bytes(forged),))
    connection.commit()
    connection.close()
    with pytest.raises(StoreError, match="block 2"):
        asyncio.run(restart(home))


def test_a_store_of_another_genesis_is_refused(
    chain: tuple[Path, int, str], tmp_path: Path
) -> None:
    home, _height, _root = chain
    other = create_testnet(tmp_path / "other", validators=1, traders=0)
    (other.nodes[0].home / "data").mkdir()
    (other.nodes[0].home / "data" / "node.db").write_bytes((home / "data" / "node.db").read_bytes())
    with pytest.raises(StoreError, match="another chain"):
        asyncio.run(restart(other.nodes[0].home))


def test_a_store_that_fails_while_running_halts_the_node(tmp_path: Path) -> None:
    """A failing disk must stop voting and executing, not let the node run ahead of its store."""
    testnet = create_testnet(tmp_path / "testnet", validators=1, traders=1)
    trader = testnet.accounts["trader000"]

    async def scenario() -> tuple[str | None, int, int]:
        node = make_node(testnet.nodes[0].home)
        await node.start()
        try:
            assert node.store is not None
            node.store._connection.close()  # the disk goes away under the running node
            body = PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 4_500_000, 1, 0)
            node.submit(sign_tx(trader, CHAIN_ID, 0, body))
            for _ in range(200):
                if node.halted:
                    break
                await asyncio.sleep(0.02)
            height = node.height
            await asyncio.sleep(0.5)
            return node.halted, height, node.height
        finally:
            node.store = None  # already closed
            await node.stop()

    halted, height_at_halt, height_later = asyncio.run(scenario())
    assert halted is not None and "store failed" in halted
    assert height_later == height_at_halt  # nothing executes after the halt
