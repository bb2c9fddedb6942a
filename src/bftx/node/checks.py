"""Invariants the running node checks after every block it executes (DESIGN.md section 5).

The exchange's full invariant checks (`bftx.exchange.invariants`) walk every
account and order: right for tests, too slow for every block in production.
After each block the node checks what is cheap:

- **conservation**: for each asset, the sum of all balances equals minted -
  burned. The node keeps that sum per asset and each account's last seen
  totals, and after a block re-reads only the accounts the block touched (the
  senders, every account an event names, the markets' fee accounts); a block
  that creates or destroys value in any of them breaks the sum.
- **no crossed book**: in every market the best bid is below the best ask.

A violation is a bug in the application: the node raises `InvariantViolation`,
which halts it like any other exception (it never saves, signs or serves past
it). After a state transfer the sums are rebuilt from the whole new state,
which is checked in full once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container
from dataclasses import fields, is_dataclass

from bftx.exchange.events import BlockResult
from bftx.exchange.invariants import find_crossed_books
from bftx.exchange.state import ExchangeState


class InvariantViolation(AssertionError):
    """The state after a block breaks an invariant: the application has a bug; halt."""


class RuntimeChecks:
    def __init__(self, state: ExchangeState) -> None:
        self.blocks_checked = 0
        self.rebuild(state)

    def rebuild(self, state: ExchangeState) -> None:
        """Sum every account (at start, and after a state transfer), then check the sums."""
        # Fee accounts are credited without an event naming them: re-read after every block.
        self.always_touched = frozenset(market.fee_account for market in state.markets.values())
        self.account_totals: dict[bytes, dict[str, int]] = {}
        self.totals: dict[str, int] = defaultdict(int)
        for address, account in state.accounts.items():
            self.account_totals[address] = totals = _account_totals(account.balances)
            for symbol, amount in totals.items():
                self.totals[symbol] += amount
        self._raise_if_violated(state, "the restored state")

    def check_block(self, state: ExchangeState, result: BlockResult) -> None:
        """After executing ``result``'s block on ``state``: raise `InvariantViolation` if broken."""
        for address in self.always_touched | _touched_accounts(state, result):
            account = state.accounts.get(address)
            new = _account_totals(account.balances) if account is not None else {}
            old = self.account_totals.get(address, {})
            for symbol in new.keys() | old.keys():
                self.totals[symbol] += new.get(symbol, 0) - old.get(symbol, 0)
            self.account_totals[address] = new
        self.blocks_checked += 1
        self._raise_if_violated(state, f"block {result.height}")

    def _raise_if_violated(self, state: ExchangeState, where: str) -> None:
        violations = [
            f"{symbol}: balances sum to {self.totals.get(symbol, 0)}, minted - burned is "
            f"{state.minted[symbol] - state.burned[symbol]}"
            for symbol in sorted(state.assets)
            if self.totals.get(symbol, 0) != state.minted[symbol] - state.burned[symbol]
        ]
        violations += find_crossed_books(state)
        if violations:
            raise InvariantViolation(f"invariant broken after {where}: {'; '.join(violations)}")


def _account_totals(balances: dict[str, list[int]]) -> dict[str, int]:
    return {symbol: available + locked for symbol, (available, locked) in balances.items()}


_ADDRESS_FIELDS: dict[type, tuple[str, ...]] = {}


def _touched_accounts(state: ExchangeState, result: BlockResult) -> set[bytes]:
    """The accounts a block names: its senders and every account one of its events names."""
    touched: set[bytes] = set()
    accounts = state.accounts
    for receipt in result.receipts:
        touched.add(receipt.sender)
        for event in receipt.events:
            touched.update(_named_accounts(event, accounts))
    for event in result.block_events:
        touched.update(_named_accounts(event, accounts))
    return touched


def _named_accounts(event: object, accounts: Container[bytes]) -> list[bytes]:
    kind = type(event)
    names = _ADDRESS_FIELDS.get(kind)
    if names is None:
        names = tuple(f.name for f in fields(event)) if is_dataclass(event) else ()
        _ADDRESS_FIELDS[kind] = names
    found = []
    for name in names:
        value = getattr(event, name)
        if isinstance(value, bytes) and value in accounts:
            found.append(value)
    return found
