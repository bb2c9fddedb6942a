"""Checks of the exchange's invariants over a whole state (DESIGN.md section 5).

Used by the property tests after every tx and available to operators as an
audit. Each check returns human-readable violations; an empty list means the
state is sound. They read the state only and never repair it.
"""

from __future__ import annotations

from collections import defaultdict

from bftx.exchange.execution import compute_order_lock
from bftx.exchange.state import ExchangeState


def find_violations(state: ExchangeState) -> list[str]:
    return [
        *find_conservation_violations(state),
        *find_negative_balances(state),
        *find_crossed_books(state),
        *find_lock_mismatches(state),
        *find_book_mismatches(state),
    ]


def find_conservation_violations(state: ExchangeState) -> list[str]:
    """Each asset: the sum of available + locked over all accounts (fee accounts included)
    equals minted - burned."""
    totals: dict[str, int] = defaultdict(int)
    for account in state.accounts.values():
        for symbol, (available, locked) in account.balances.items():
            totals[symbol] += available + locked
    return [
        f"{symbol}: balances sum to {totals[symbol]}, minted - burned is "
        f"{state.minted[symbol] - state.burned[symbol]}"
        for symbol in sorted(state.assets)
        if totals[symbol] != state.minted[symbol] - state.burned[symbol]
    ]


def find_negative_balances(state: ExchangeState) -> list[str]:
    return [
        f"{account.address.hex()} {symbol}: available {available}, locked {locked}"
        for account in state.accounts.values()
        for symbol, (available, locked) in sorted(account.balances.items())
        if available < 0 or locked < 0
    ]


def find_crossed_books(state: ExchangeState) -> list[str]:
    found = []
    for symbol, book in sorted(state.books.items()):
        bid, ask = book.bids.best_price(), book.asks.best_price()
        if bid is not None and ask is not None and bid >= ask:
            found.append(f"{symbol}: best bid {bid} >= best ask {ask}")
    return found


def find_lock_mismatches(state: ExchangeState) -> list[str]:
    """Each account's locked balance equals what its open orders could still spend."""
    found = []
    for account in state.accounts.values():
        expected: dict[str, int] = defaultdict(int)
        for order in account.open_orders.values():
            market = state.markets[order.market]
            asset, amount = compute_order_lock(
                market, order.side, order.price_ticks, order.remaining_lots
            )
            expected[asset] += amount
        for symbol in sorted(set(expected) | set(account.balances)):
            if account.locked(symbol) != expected[symbol]:
                found.append(
                    f"{account.address.hex()} {symbol}: locked {account.locked(symbol)}, "
                    f"open orders need {expected[symbol]}"
                )
    return found


def find_book_mismatches(state: ExchangeState) -> list[str]:
    """The books hold exactly the accounts' open orders, with consistent level totals."""
    found = []
    open_orders = {
        order.key: order
        for account in state.accounts.values()
        for order in account.open_orders.values()
    }
    in_books = {}
    for symbol, book in sorted(state.books.items()):
        for side in (book.bids, book.asks):
            for key, level in side.levels.items():
                live = [order for order in level.orders if order.remaining_lots]
                if (
                    sum(order.remaining_lots for order in live) != level.quantity_lots
                    or len(live) != level.live
                ):
                    found.append(
                        f"{symbol}: level {key * side.sign} totals do not match its orders"
                    )
                if not live:
                    found.append(f"{symbol}: empty level {key * side.sign} kept")
                for order in live:
                    in_books[order.key] = order
    if set(in_books) != set(open_orders):
        found.append(
            f"books hold {len(in_books)} orders, accounts list {len(open_orders)} open orders"
        )
    return found
