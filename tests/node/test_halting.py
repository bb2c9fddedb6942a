"""Any exception from the replica or the application halts an in-process node, wherever it
surfaces: a timer callback, a scheduled callback (the loop's handler), a network handler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from bftx.chain import Genesis
from bftx.consensus import TimerKind
from bftx.crypto import load_key
from bftx.errors import ConfigError
from bftx.exchange import OrderType, PlaceOrder, Side, sign_tx
from bftx.node import sync
from bftx.node.config import load_config
from bftx.node.hooks import TestHooks
from bftx.node.runtime import SYNC_CHANNEL, TX_GOSSIP_CHANNEL, Node
from bftx.node.testnet import CHAIN_ID, create_testnet
from bftx.p2p.gossip import encode_batch
from bftx.p2p.network import Message

pytestmark = pytest.mark.timeout(60)


def run_single_validator(
    tmp_path: Path, scenario: Callable[[Node], None], hooks: TestHooks | None = None
) -> tuple[str | None, int, int]:
    """Start one validator, run ``scenario``, wait for a halt; (reason, height at halt, height later)."""
    testnet = create_testnet(tmp_path / "testnet", validators=1, traders=1)
    config = load_config(testnet.nodes[0].home)
    node = Node(config, Genesis.load(config.genesis_file), load_key(config.key_file), hooks=hooks)
    trader = testnet.accounts["trader000"]

    async def run() -> tuple[str | None, int, int]:
        await node.start()
        try:
            scenario(node)
            await asyncio.sleep(0)  # what the scenario queued (gossiped txs) runs first
            for nonce in range(3):
                body = PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 4_500_000, 1, 0)
                if not node.halted:
                    node.submit(sign_tx(trader, CHAIN_ID, nonce, body))
                await asyncio.sleep(0.05)
            for _ in range(200):
                if node.halted:
                    break
                await asyncio.sleep(0.02)
            height = node.height
            await asyncio.sleep(0.3)
            return node.halted, height, node.height
        finally:
            await node.stop()

    return asyncio.run(run())


def test_exception_in_the_application_halts_with_the_traceback_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "bftx.node")
    halted, at_halt, later = run_single_validator(
        tmp_path, lambda _node: None, TestHooks(fault_execute_height=2)
    )
    assert halted is not None and "InjectedFault" in halted
    assert at_halt == later == 1
    assert any(
        "Traceback" in str(getattr(record, "traceback", ""))
        and "InjectedFault" in str(getattr(record, "traceback", ""))
        for record in caplog.records
    )


def test_exception_in_a_timer_of_the_replica_halts_the_node(tmp_path: Path) -> None:
    def break_timers(node: Node) -> None:
        assert node.replica is not None

        def on_timer(_kind: TimerKind, _now: int) -> list[object]:
            raise KeyError("a bug in the timer path")

        node.replica.on_timer = on_timer  # type: ignore[method-assign,assignment]

    halted, at_halt, later = run_single_validator(tmp_path, break_timers)
    assert halted is not None and "KeyError" in halted
    assert at_halt == later


def test_exception_in_any_loop_callback_halts_the_node(tmp_path: Path) -> None:
    def schedule_a_bug(_node: Node) -> None:
        def bug() -> None:
            raise ZeroDivisionError("a bug in a scheduled callback")

        asyncio.get_running_loop().call_later(0.01, bug)

    halted, at_halt, later = run_single_validator(tmp_path, schedule_a_bug)
    assert halted is not None and "ZeroDivisionError" in halted and "callback" in halted
    assert at_halt == later


def test_exception_in_a_network_handler_halts_the_node(tmp_path: Path) -> None:
    def break_sync(node: Node) -> None:
        def serve(_peer: bytes, _from_height: int) -> None:
            raise AssertionError("a bug serving sync")

        node._serve_sync = serve  # type: ignore[method-assign]
        assert node.network is not None
        validator = node.validators.public_keys[0]
        # As the transport would deliver it: the handler's exception goes to the node.
        node.network._on_message = node._on_network_message
        node.network._deliver(Message(validator, SYNC_CHANNEL, sync.encode_request(1)))

    halted, at_halt, later = run_single_validator(tmp_path, break_sync)
    assert halted is not None and "AssertionError" in halted and "network message" in halted
    assert at_halt == later == 0


def test_exception_admitting_a_gossiped_tx_halts_the_node(tmp_path: Path) -> None:
    def break_admission(node: Node) -> None:
        assert node.mempool is not None and node.network is not None

        def add(_data: bytes, _now: int, check_body: bool = True) -> object:
            raise KeyError("a bug in admission")

        node.mempool.add = add  # type: ignore[method-assign,assignment]
        node.network._on_message = node._on_network_message
        peer = node.validators.public_keys[0]
        node.network._deliver(Message(peer, TX_GOSSIP_CHANNEL, encode_batch([b"tx"])))

    halted, _at_halt, _later = run_single_validator(tmp_path, break_admission)
    assert halted is not None and "KeyError" in halted and "admitting a tx" in halted


def test_a_halted_node_sends_no_consensus_message(tmp_path: Path) -> None:
    sent: list[bytes] = []

    def halt_then_send(node: Node) -> None:
        assert node.network is not None
        node.network.send = lambda _key, _channel, payload: sent.append(payload)  # type: ignore[method-assign,assignment,return-value]
        node.halt("halted by the test")
        node._broadcast_to_validators(b"vote")
        node._send_to_validator(1, b"vote")

    halted, _at_halt, _later = run_single_validator(tmp_path, halt_then_send)
    assert halted == "halted by the test"
    assert sent == []


def test_unknown_test_hook_values_are_refused() -> None:
    with pytest.raises(ConfigError, match="BFTX_MUTANT"):
        TestHooks.from_environment({"BFTX_MUTANT": "nonsense"})
    with pytest.raises(ConfigError, match="BFTX_FAULT_EXECUTE_HEIGHT"):
        TestHooks.from_environment({"BFTX_FAULT_EXECUTE_HEIGHT": "0"})
    assert TestHooks.from_environment({}) == TestHooks()
    assert TestHooks.from_environment({"BFTX_MUTANT": "recommit"}).recommits
