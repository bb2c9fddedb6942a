"""Checks of the exchange's invariants over a whole state (DESIGN.md section 5).

Used by the property tests after every tx and available to operators as an
audit. Each check returns human-readable violations; an empty list means the
state is sound. They read the state only and never repair it.
"""

from __future__ import annotations

from collections import defaultdict

from bftx.exchange import interchain, ledger
from bftx.exchange.contracts import escrowed_by_asset
from bftx.exchange.execution import compute_order_lock
from bftx.exchange.state import ExchangeState
from bftx.exchange.transactions import Side


def find_violations(state: ExchangeState) -> list[str]:
    return [
        *find_conservation_violations(state),
        *find_negative_balances(state),
        *find_crossed_books(state),
        *find_lock_mismatches(state),
        *find_book_mismatches(state),
        *find_escrow_mismatches(state),
        *find_interchain_escrow_mismatches(state),
    ]


def find_interchain_escrow_mismatches(state: ExchangeState) -> list[str]:
    """The interchain module's account holds exactly the escrow of every route, all available,
    and every voucher is a known asset never burnt past what was minted. (Escrow may fall
    below the packets still awaiting their ack: the destination may already have sent the
    vouchers back. Escrow against vouchers outstanding spans two chains: see
    tests/exchange/test_interchain.py.)"""
    module = state.interchain
    expected = interchain.escrowed_by_asset(module)
    account = state.peek_account(ledger.INTERCHAIN_ACCOUNT)
    found = []
    for symbol in sorted(set(expected) | set(account.balances)):
        held = account.available(symbol)
        if held != expected.get(symbol, 0) or account.locked(symbol):
            found.append(
                f"interchain account {symbol}: holds {held} (locked {account.locked(symbol)}), "
                f"routes escrow {expected.get(symbol, 0)}"
            )
    for symbol in sorted(module.vouchers):
        if symbol not in state.assets or state.minted[symbol] < state.burned[symbol]:
            found.append(f"voucher {symbol}: not an asset, or burnt more than minted")
    return found


def find_escrow_mismatches(state: ExchangeState) -> list[str]:
    """The contracts module's account holds exactly what its open HTLCs and the funded legs of
    its open deals escrow, all of it available (nothing of it is ever locked)."""
    expected = escrowed_by_asset(state.contracts)
    account = state.peek_account(ledger.CONTRACTS_ACCOUNT)
    found = []
    for symbol in sorted(set(expected) | set(account.balances)):
        held = account.available(symbol)
        if held != expected.get(symbol, 0) or account.locked(symbol):
            found.append(
                f"contracts account {symbol}: holds {held} (locked {account.locked(symbol)}), "
                f"open contracts escrow {expected.get(symbol, 0)}"
            )
    return found


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
        bid, ask = book.best(Side.BUY), book.best(Side.SELL)
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
    """The books hold exactly the open orders the exchange records, at the same price and size,
    with level totals that add up."""
    found = []
    in_books: dict[int, tuple[bytes, int, int, int]] = {}
    for symbol, book in sorted(state.books.items()):
        for order_id, owner, side, price, remaining in book.orders():
            in_books[order_id] = (owner, side, price, remaining)
            order = state.orders.get(order_id)
            if order is None or order.market != symbol:
                found.append(f"{symbol}: book holds order {order_id} the exchange does not record")
            elif (order.owner, int(order.side), order.price_ticks, order.remaining_lots) != (
                owner,
                side,
                price,
                remaining,
            ):
                found.append(f"{symbol}: order {order_id} differs between book and exchange")
        for side in (Side.BUY, Side.SELL):
            sizes: dict[int, list[int]] = defaultdict(list)
            for _id, _owner, order_side, price, remaining in book.orders():
                if order_side == side:
                    sizes[price].append(remaining)
            for price, quantity, count in book.levels(side):
                if sizes[price] and (sum(sizes[price]), len(sizes[price])) != (quantity, count):
                    found.append(f"{symbol}: level {price} totals do not match its orders")
                if count == 0 or quantity <= 0:
                    found.append(f"{symbol}: empty level {price} kept")
    missing = set(state.orders) - set(in_books)
    if missing:
        found.append(f"open orders missing from the books: {sorted(missing)[:10]}")
    for account in state.accounts.values():
        for nonce, order in account.open_orders.items():
            if state.orders.get(order.sequence) is not order or order.key != (
                account.address,
                nonce,
            ):
                found.append(
                    f"{account.address.hex()}: open order {nonce} is not recorded consistently"
                )
    return found
