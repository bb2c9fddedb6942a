"""The invariants a running node checks after every block: conservation over the accounts the
block touched, no crossed book; a broken one halts the node with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from bftx.crypto import ADDRESS_BYTES
from bftx.exchange import OrderType, PlaceOrder, Side, Transfer
from bftx.exchange.book import ReferenceOrderBook
from bftx.node.checks import InvariantViolation, RuntimeChecks
from tests.exchange.support import ALICE, BOB, CAROL, World
from tests.node.test_halting import run_single_validator


def make_world() -> tuple[World, RuntimeChecks]:
    world = World.create([ALICE, BOB, CAROL], maker_fee_bps=5, taker_fee_bps=17)
    return world, RuntimeChecks(world.exchange.state)


def trade_block(world: World) -> None:
    result = world.block(
        [
            world.tx(ALICE, PlaceOrder("BTC/USD", Side.SELL, OrderType.LIMIT, 100, 3, 0)),
            world.tx(BOB, PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 100, 2, 0)),
            world.tx(CAROL, Transfer("USD", ALICE.address, 7)),
        ]
    )
    world.result = result  # type: ignore[attr-defined]


def test_sound_blocks_pass_the_checks() -> None:
    world, checks = make_world()
    for _ in range(3):
        trade_block(world)
        checks.check_block(world.exchange.state, world.result)  # type: ignore[attr-defined]
    assert checks.blocks_checked == 3


def test_value_created_in_a_touched_account_is_caught() -> None:
    world, checks = make_world()
    trade_block(world)
    world.exchange.state.accounts[BOB.address].balances["USD"][0] += 1  # a bug credits bob
    with pytest.raises(InvariantViolation, match="USD: balances sum to"):
        checks.check_block(world.exchange.state, world.result)  # type: ignore[attr-defined]


def test_value_moved_without_a_counterpart_to_a_fee_account_is_caught() -> None:
    world, checks = make_world()
    trade_block(world)
    fee_account = world.exchange.state.markets["BTC/USD"].fee_account
    world.exchange.state.accounts[fee_account].balances["BTC"][0] += 5
    with pytest.raises(InvariantViolation, match="BTC"):
        checks.check_block(world.exchange.state, world.result)  # type: ignore[attr-defined]


def test_a_crossed_book_is_caught() -> None:
    world, checks = make_world()
    trade_block(world)
    crossed = ReferenceOrderBook()
    crossed.place(1, b"x", 0, 105, 1, True, False)
    crossed._sides[1].add(
        type(crossed._orders[1])(2, b"y", 1, 104, 1)
    )  # a bug rests a crossing ask
    world.exchange.state.books["BTC/USD"] = crossed
    with pytest.raises(InvariantViolation, match="best bid 105 >= best ask 104"):
        checks.check_block(world.exchange.state, world.result)  # type: ignore[attr-defined]


def test_a_node_whose_state_breaks_conservation_halts(tmp_path: Path) -> None:
    """The running node's exchange is corrupted; the next block touching the account halts it."""

    def corrupt(node):  # type: ignore[no-untyped-def]
        for account in node.application.exchange.state.accounts.values():
            if account.balances.get("USD", [0, 0])[0] > 0:  # the trader among them
                account.balances["USD"][0] += 1_000

    halted, at_halt, later = run_single_validator(tmp_path, corrupt)
    assert halted is not None and "InvariantViolation" in halted and "USD" in halted
    assert at_halt == later  # the block that showed it was never saved, nothing after it


def test_value_moved_to_an_account_no_event_names_is_not_a_violation() -> None:
    """A module account (contract escrow) is credited without being named: the full sum
    confirms conservation, and the account is re-read after every block from then on."""
    world, checks = make_world()
    world.check_invariants = False  # this test breaks them on purpose at the end
    trade_block(world)
    state = world.exchange.state
    state.accounts[ALICE.address].balances["USD"][0] -= 11  # alice is a sender in the block
    escrow = state.account(b"\x99" * ADDRESS_BYTES)  # named by no block
    escrow.balance("USD")[0] += 11
    checks.check_block(state, world.result)  # type: ignore[attr-defined]
    assert escrow.address in checks.always_touched
    escrow.balances["USD"][0] += 1  # and now a bug that creates value there is caught
    trade_block(world)
    with pytest.raises(InvariantViolation, match="USD"):
        checks.check_block(state, world.result)  # type: ignore[attr-defined]
