"""Invariants the running node checks after every block it executes (DESIGN.md section 5).

The exchange's full invariant checks (`bftx.exchange.invariants`) walk every
account and order: right for tests, too slow for every block in production.
After each block the node checks what is cheap:

- **conservation**: for each asset, the sum of all balances equals minted -
  burned. The node keeps that sum per asset and each account's last seen
  totals, and after a block re-reads only the accounts the block touched (the
  senders, every account an event names, the markets' fee accounts); a block
  that creates or destroys value in any of them breaks the sum. When the sum
  does not match, the node sums every account once before deciding: an account
  that changed without being named (a module account holding a contract's
  funds) is then re-read after every block, and only a violation the full sum
  confirms counts.
- **no crossed book**: in every market the best bid is below the best ask.

A violation is a bug in the application: the node raises `InvariantViolation`,
which halts it like any other exception (it never saves, signs or serves past
it). After a state transfer the sums are rebuilt from the whole new state,
which is checked in full once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from operator import attrgetter
from typing import cast

from bftx.exchange.events import BlockResult
from bftx.exchange.invariants import find_crossed_books
from bftx.exchange.state import ExchangeState

# Accounts re-read after every block although no block names them (fee and module accounts).
ALWAYS_TOUCHED_MAX = 64


class InvariantViolation(AssertionError):
    """The state after a block breaks an invariant: the application has a bug; halt."""


class RuntimeChecks:
    def __init__(self, state: ExchangeState) -> None:
        self.blocks_checked = 0
        self.account_totals: dict[bytes, dict[str, int]] = {}
        self.totals: dict[str, int] = defaultdict(int)
        self.always_touched: set[bytes] = set()
        self.rebuild(state)

    def rebuild(self, state: ExchangeState) -> None:
        """Sum every account (at start, and after a state transfer), then check the sums."""
        # Fee accounts are credited without an event naming them: re-read after every block.
        self.always_touched = {market.fee_account for market in state.markets.values()}
        self._sum_all(state)
        self._raise_if_violated(state, "the restored state")

    def _sum_all(self, state: ExchangeState) -> set[bytes]:
        """Sum every account afresh; the accounts whose totals differ from the kept ones."""
        previous = self.account_totals
        self.account_totals = {}
        self.totals = defaultdict(int)
        changed = set()
        for address, account in state.accounts.items():
            self.account_totals[address] = totals = _account_totals(account.balances)
            if previous.get(address) != totals:
                changed.add(address)
            for symbol, amount in totals.items():
                self.totals[symbol] += amount
        return changed

    def check_block(self, state: ExchangeState, result: BlockResult) -> None:
        """After executing ``result``'s block on ``state``: raise `InvariantViolation` if broken."""
        totals, account_totals, accounts = self.totals, self.account_totals, state.accounts
        for address in self.always_touched | _touched_accounts(state, result):
            account = accounts.get(address)
            new = _account_totals(account.balances) if account is not None else {}
            old = account_totals.get(address)
            if old == new:
                continue
            for symbol, amount in new.items():
                totals[symbol] += amount
            if old is not None:
                for symbol, amount in old.items():
                    totals[symbol] -= amount
            account_totals[address] = new
        self.blocks_checked += 1
        if self._find_violations(state):
            # An account changed without the block naming it (a module account holding funds
            # for a contract, say): sum everything once, and re-read it after every block
            # from now on. Only a violation the full sum confirms halts the node.
            unnamed = self._sum_all(state)
            if len(self.always_touched) < ALWAYS_TOUCHED_MAX:
                self.always_touched.update(unnamed)
        self._raise_if_violated(state, f"block {result.height}")

    def _raise_if_violated(self, state: ExchangeState, where: str) -> None:
        violations = self._find_violations(state)
        if violations:
            raise InvariantViolation(f"invariant broken after {where}: {'; '.join(violations)}")

    def _find_violations(self, state: ExchangeState) -> list[str]:
        violations = [
            f"{symbol}: balances sum to {self.totals.get(symbol, 0)}, minted - burned is "
            f"{state.minted[symbol] - state.burned[symbol]}"
            for symbol in sorted(state.assets)
            if self.totals.get(symbol, 0) != state.minted[symbol] - state.burned[symbol]
        ]
        return violations + find_crossed_books(state)


def _account_totals(balances: dict[str, list[int]]) -> dict[str, int]:
    return {symbol: available + locked for symbol, (available, locked) in balances.items()}


# Per event type, a getter of its bytes fields (the accounts it may name), found once.
_BYTES_FIELDS: dict[type, Callable[[object], tuple[object, ...]]] = {}


def _touched_accounts(state: ExchangeState, result: BlockResult) -> set[bytes]:
    """The accounts a block names: its senders and every account one of its events names."""
    touched = {receipt.sender for receipt in result.receipts}
    named: set[object] = set()
    for receipt in result.receipts:
        for event in receipt.events:
            named.update(_bytes_fields(event))
    for event in result.block_events:
        named.update(_bytes_fields(event))
    accounts = state.accounts
    touched.update(value for value in named if isinstance(value, bytes) and value in accounts)
    return touched


def _bytes_fields(event: object) -> tuple[object, ...]:
    getter = _BYTES_FIELDS.get(type(event))
    if getter is None:
        names = (
            [f.name for f in fields(event) if f.type in ("bytes", bytes)]
            if is_dataclass(event)
            else []
        )
        getter = _make_getter(names)
        _BYTES_FIELDS[type(event)] = getter
    return getter(event)


def _make_getter(names: list[str]) -> Callable[[object], tuple[object, ...]]:
    if not names:
        return lambda _event: ()
    if len(names) == 1:
        single = attrgetter(names[0])
        return lambda event: (single(event),)
    return cast(Callable[[object], tuple[object, ...]], attrgetter(*names))
