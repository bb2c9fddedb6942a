"""Executing transactions: admission (`check_tx`) and block execution (`execute_block`).

Every handler validates first and mutates last, so a rejected tx leaves the
state untouched (apart from consuming its nonce, see below). Rejections are
`Code` values in the receipts; a broken invariant is an ``assert``.

Nonces: a tx from another chain, from an unregistered sender, or with a nonce
other than the account's next one is not executed and does not consume a
nonce. Any other tx consumes its nonce, whether its kind-specific checks pass
or not, so a failed tx can never be replayed later.

Canonical order (DESIGN.md section 3): the proposer chooses which txs enter a
block, not the order they execute in. See `canonical_order`.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Sequence

from bftx import limits
from bftx.errors import Code
from bftx.exchange import contracts, interchain, ledger
from bftx.exchange.book import Fill
from bftx.exchange.events import (
    BlockResult,
    Deposited,
    Event,
    OrderClosed,
    OrderPlaced,
    Receipt,
    Registered,
    Trade,
    Transferred,
    Withdrawn,
)
from bftx.exchange.genesis import Market
from bftx.exchange.state import Account, ExchangeState, Order
from bftx.exchange.transactions import (
    IBC_BODIES,
    Burn,
    CancelOrder,
    Mint,
    OrderType,
    PlaceOrder,
    Register,
    Side,
    Transfer,
    Tx,
)

_ORDER_DOMAIN = b"bftx/order/v1\x00"
_IMMEDIATE = (OrderType.MARKET, OrderType.IOC, OrderType.FOK)
_BUY = Side.BUY


# --- canonical order --------------------------------------------------------------


def compute_order_seed(height: int, previous_state_root: bytes) -> bytes:
    """The seed that ranks a block's senders: fixed by the committed history before the block is
    proposed, so neither the proposer's listing nor its choice of txs can change anyone's rank."""
    return hashlib.sha256(_ORDER_DOMAIN + height.to_bytes(8, "big") + previous_state_root).digest()


def canonical_order(txs: Sequence[Tx], seed: bytes) -> list[Tx]:
    """The execution order of a block's txs, independent of the order the proposer listed them.

    Each sender's txs are sorted by (nonce, hash). The senders are ranked by
    ``sha256(seed || address)`` (see `compute_order_seed`). Execution then goes
    round by round: every sender's first tx in rank order, then every sender's
    second tx, and so on, so no account can queue ahead of the others.
    """
    if len(txs) <= 1:
        return list(txs)
    by_sender: dict[bytes, list[Tx]] = {}
    for tx in txs:
        sender_txs = by_sender.get(tx.sender)
        if sender_txs is None:
            by_sender[tx.sender] = [tx]
        else:
            sender_txs.append(tx)
    ranked = sorted(by_sender.items(), key=lambda item: hashlib.sha256(seed + item[0]).digest())
    queues = []
    for _sender, sender_txs in ranked:
        if len(sender_txs) > 1:
            sender_txs.sort(key=_nonce_then_hash)
        queues.append(sender_txs)
    ordered: list[Tx] = []
    round_number = 0
    while queues:
        ordered.extend(queue[round_number] for queue in queues)
        round_number += 1
        queues = [queue for queue in queues if len(queue) > round_number]
    return ordered


def _nonce_then_hash(tx: Tx) -> tuple[int, bytes]:
    return tx.nonce, tx.hash


# --- admission ---------------------------------------------------------------------


def check_tx(
    state: ExchangeState, tx: Tx, verify_signature: bool = True, check_body: bool = True
) -> Code:
    """Would ``tx`` be worth admitting against the latest state? Cheap checks only, no mutation.

    Admits nonces from the account's next one up to ``limits.nonce_ahead_max``
    ahead (the mempool orders them); funds are checked for this tx alone.
    Without ``check_body`` only what decides whether the tx can still execute
    at all is checked (chain, signature, registration, nonce window): a body
    that fails against this state (a cancel of an order that filled) still
    executes, consuming its nonce, with the failure as its result code.

    A client hears about a bad signature before anything else. Without
    ``check_body`` (a peer's tx, or the proposal pool's check; nobody is told
    which check refused it) the signature is checked last: the other checks
    are lookups and a signature check costs tens of microseconds, so a stale
    copy of a committed tx (gossip a lagging node admits late) costs no verify.
    """
    if tx.chain_id != state.chain_id:
        return Code.WRONG_CHAIN
    if check_body and verify_signature and not tx.has_valid_signature():
        return Code.BAD_SIGNATURE
    if not state.is_registered(tx.sender):
        return Code.NOT_REGISTERED
    account = state.peek_account(tx.sender)
    if tx.nonce < account.nonce:
        return Code.NONCE_USED
    if tx.nonce >= account.nonce + limits.nonce_ahead_max:
        return Code.NONCE_GAP
    if check_body:
        return validate_body(state, account, tx)
    if verify_signature and not tx.has_valid_signature():
        return Code.BAD_SIGNATURE
    return Code.OK


def validate_body(state: ExchangeState, account: Account, tx: Tx) -> Code:
    body = tx.body
    if isinstance(body, PlaceOrder):
        return validate_place_order(state, account, body, None)
    if isinstance(body, CancelOrder):
        return Code.OK if body.order_nonce in account.open_orders else Code.UNKNOWN_ORDER
    if isinstance(body, Transfer):
        return validate_transfer(state, account, body)
    if isinstance(body, Burn):
        return validate_burn(state, account, body)
    if isinstance(body, Mint):
        return validate_mint(state, tx.sender, body)
    if isinstance(body, Register):
        return validate_register(state, tx.sender, body)
    if isinstance(body, IBC_BODIES):
        return interchain.validate(state, account, tx, None)
    return contracts.validate(state, account, tx, None)


def validate_place_order(
    state: ExchangeState, account: Account, body: PlaceOrder, timestamp_ms: int | None
) -> Code:
    market = state.markets.get(body.market)
    if market is None:
        return Code.UNKNOWN_MARKET
    if not 1 <= body.price_ticks <= limits.price_ticks_max:
        return Code.INVALID_PRICE
    if not 1 <= body.quantity_lots <= limits.quantity_lots_max:
        return Code.INVALID_QUANTITY
    if body.quantity_lots < market.min_lots:
        return Code.BELOW_MIN_SIZE
    if body.expires_at_ms:
        if body.order_type in _IMMEDIATE:
            return Code.INVALID_ORDER_TYPE
        if timestamp_ms is not None and body.expires_at_ms <= timestamp_ms:
            return Code.ORDER_EXPIRED
    if (
        len(account.open_orders) >= limits.orders_per_account_max
        and body.order_type not in _IMMEDIATE
    ):
        return Code.TOO_MANY_ORDERS
    asset, cost = compute_order_lock(market, body.side, body.price_ticks, body.quantity_lots)
    if account.available(asset) < cost:
        return Code.INSUFFICIENT_FUNDS
    return Code.OK


def compute_order_lock(market: Market, side: Side, price_ticks: int, lots: int) -> tuple[str, int]:
    """What an order can spend at most: the quote at its limit price (buy) or the base (sell)."""
    if side is _BUY:
        return market.quote, lots * price_ticks * market.tick_size
    return market.base, lots * market.lot_size


def validate_transfer(state: ExchangeState, account: Account, body: Transfer) -> Code:
    if body.asset not in state.assets:
        return Code.UNKNOWN_ASSET
    if body.amount <= 0:
        return Code.INVALID_AMOUNT
    if body.recipient == account.address or ledger.is_module_account(body.recipient):
        return Code.INVALID_RECIPIENT
    if not state.is_registered(body.recipient):
        return Code.RECIPIENT_NOT_REGISTERED
    if account.available(body.asset) < body.amount:
        return Code.INSUFFICIENT_FUNDS
    return Code.OK


def validate_burn(state: ExchangeState, account: Account, body: Burn) -> Code:
    if body.asset not in state.assets:
        return Code.UNKNOWN_ASSET
    if body.amount <= 0:
        return Code.INVALID_AMOUNT
    if account.available(body.asset) < body.amount:
        return Code.INSUFFICIENT_FUNDS
    return Code.OK


def validate_mint(state: ExchangeState, sender: bytes, body: Mint) -> Code:
    asset = state.assets.get(body.asset)
    if asset is None:
        return Code.UNKNOWN_ASSET
    if sender not in state.issuers[body.asset]:
        return Code.NOT_ISSUER
    if ledger.is_module_account(body.recipient):
        return Code.INVALID_RECIPIENT
    if body.amount <= 0:
        return Code.INVALID_AMOUNT
    if state.minted[body.asset] - state.burned[body.asset] + body.amount > asset.supply_max:
        return Code.SUPPLY_OVERFLOW
    if not state.is_registered(body.recipient):
        return Code.RECIPIENT_NOT_REGISTERED
    return Code.OK


def validate_register(state: ExchangeState, sender: bytes, body: Register) -> Code:
    if sender not in state.registrars:
        return Code.NOT_REGISTRAR
    if state.peek_account(body.address).registered:
        return Code.ALREADY_REGISTERED
    return Code.OK


# --- block execution ------------------------------------------------------------


def execute_block(
    state: ExchangeState, height: int, timestamp_ms: int, txs: Sequence[Tx]
) -> BlockResult:
    """Execute a committed block's txs (signatures already verified by block validation)."""
    assert height == state.height + 1, f"block {height} does not follow {state.height}"
    state.height = height
    # The seed first: expiries depend on the timestamp the proposer picks, the seed must not.
    seed = compute_order_seed(height, state.compute_state_root())
    block_events = expire_orders(state, timestamp_ms)
    block_events.extend(contracts.expire_deals(state, timestamp_ms))
    receipts = tuple(execute_tx(state, tx, timestamp_ms) for tx in canonical_order(txs, seed))
    state_root = state.compute_state_root()
    state.commitment.seal(height)  # keeps this height provable (`bftx.exchange.proofs`)
    return BlockResult(height, timestamp_ms, receipts, tuple(block_events), state_root)


def execute_tx(state: ExchangeState, tx: Tx, timestamp_ms: int) -> Receipt:
    if tx.chain_id != state.chain_id:
        return Receipt(tx.hash, tx.sender, tx.nonce, Code.WRONG_CHAIN, ())
    if not state.is_registered(tx.sender):
        return Receipt(tx.hash, tx.sender, tx.nonce, Code.NOT_REGISTERED, ())
    next_nonce = state.peek_account(tx.sender).nonce  # a tx that is not executed creates nothing
    if tx.nonce != next_nonce:
        code = Code.NONCE_USED if tx.nonce < next_nonce else Code.NONCE_GAP
        return Receipt(tx.hash, tx.sender, tx.nonce, code, ())
    account = state.account(tx.sender)
    account.nonce += 1
    state.dirty_accounts.add(account.address)
    events: list[Event] = []
    body = tx.body
    if isinstance(body, PlaceOrder):
        code = place_order(state, account, tx.nonce, body, timestamp_ms, events)
    elif isinstance(body, CancelOrder):
        code = cancel_order(state, account, body, events)
    elif isinstance(body, Transfer):
        code = transfer(state, account, body, events)
    elif isinstance(body, Burn):
        code = burn(state, account, body, events)
    elif isinstance(body, Mint):
        code = mint(state, tx.sender, body, events)
    elif isinstance(body, Register):
        code = register(state, tx.sender, body, events)
    elif isinstance(body, IBC_BODIES):
        code = interchain.execute(state, account, tx, timestamp_ms, events)
    else:
        code = contracts.execute(state, account, tx, timestamp_ms, events)
    return Receipt(tx.hash, tx.sender, tx.nonce, code, tuple(events))


def register(state: ExchangeState, sender: bytes, body: Register, events: list[Event]) -> Code:
    code = validate_register(state, sender, body)
    if code is Code.OK:
        state.account(body.address).registered = True
        state.dirty_accounts.add(body.address)
        events.append(Registered(body.address))
    return code


def mint(state: ExchangeState, sender: bytes, body: Mint, events: list[Event]) -> Code:
    code = validate_mint(state, sender, body)
    if code is Code.OK:
        ledger.mint(state, state.account(body.recipient), body.asset, body.amount)
        events.append(Deposited(body.asset, body.recipient, body.amount))
    return code


def burn(state: ExchangeState, account: Account, body: Burn, events: list[Event]) -> Code:
    code = validate_burn(state, account, body)
    if code is Code.OK:
        ledger.burn(state, account, body.asset, body.amount)
        events.append(Withdrawn(body.asset, account.address, body.amount, body.destination))
    return code


def transfer(state: ExchangeState, account: Account, body: Transfer, events: list[Event]) -> Code:
    code = validate_transfer(state, account, body)
    if code is Code.OK:
        ledger.move(state, account, state.account(body.recipient), body.asset, body.amount)
        events.append(Transferred(body.asset, account.address, body.recipient, body.amount))
    return code


# --- orders ------------------------------------------------------------------------


def place_order(
    state: ExchangeState,
    account: Account,
    nonce: int,
    body: PlaceOrder,
    timestamp_ms: int,
    events: list[Event],
) -> Code:
    code = validate_place_order(state, account, body, timestamp_ms)
    if code is not Code.OK:
        return code
    book = state.books[body.market]
    market = state.markets[body.market]
    side, price, lots = body.side, body.price_ticks, body.quantity_lots
    if body.order_type is OrderType.POST_ONLY and book.would_cross(side, price):
        return Code.POST_ONLY_WOULD_CROSS
    if (
        body.order_type is OrderType.FOK
        and book.fillable(side, price, lots, account.address) < lots
    ):
        return Code.FOK_UNFILLED

    lock_asset, lock_amount = compute_order_lock(market, side, price, lots)
    ledger.lock(state, account, lock_asset, lock_amount)
    sequence = state.next_order_sequence
    state.next_order_sequence += 1
    events.append(
        OrderPlaced(
            body.market, account.address, nonce, side, body.order_type, price, lots, sequence
        )
    )
    resting = body.order_type not in _IMMEDIATE
    fills, self_trade_cancels, remaining = book.place(
        sequence, account.address, side, price, lots, resting, True
    )
    if self_trade_cancels:
        for maker_sequence, _lots in self_trade_cancels:
            close_resting_order(
                state, state.orders[maker_sequence], "self_trade", events, in_book=False
            )
    if fills:
        settle_fills(state, market, account, side, price, nonce, fills, timestamp_ms, events)
    if not remaining:
        events.append(OrderClosed(body.market, account.address, nonce, "filled", 0))
    elif not resting:
        unlock(state, account, market, side, price, remaining)
        events.append(OrderClosed(body.market, account.address, nonce, "unfilled", remaining))
    else:
        order = Order(
            (account.address, nonce),
            body.market,
            side,
            body.order_type,
            price,
            lots,
            remaining,
            sequence,
            body.expires_at_ms,
        )
        state.orders[sequence] = order
        account.open_orders[nonce] = order
        state.dirty_orders[order.key] = order
        if order.expires_at_ms:
            heapq.heappush(state.expiries, (order.expires_at_ms, sequence, order.key))
            if len(state.expiries) > 2 * len(state.orders) + 1_024:
                forget_stale_expiries(state)
    return Code.OK


def forget_stale_expiries(state: ExchangeState) -> None:
    """Drop the entries of orders that were filled or cancelled before they expired.

    They are otherwise skipped only when their time comes, which may be never:
    place-and-cancel with a far expiry would grow the heap without bound.
    """
    state.expiries = [
        (order.expires_at_ms, sequence, order.key)
        for sequence, order in state.orders.items()
        if order.expires_at_ms
    ]
    heapq.heapify(state.expiries)


def settle_fills(
    state: ExchangeState,
    market: Market,
    taker: Account,
    taker_side: Side,
    taker_price_ticks: int,
    taker_nonce: int,
    fills: list[Fill],
    timestamp_ms: int,
    events: list[Event],
) -> None:
    """Delivery versus payment for each fill: both legs and both fees, or nothing.

    Fees are charged in what each side receives (the buyer's in base, the
    seller's in quote), rounded up: ``ceil(received * bps / 10_000)``. A buyer
    whose limit was above the fill price gets the difference unlocked.
    """
    base, quote = market.base, market.quote
    lot_size, tick_size = market.lot_size, market.tick_size
    maker_bps, taker_bps = market.maker_fee_bps, market.taker_fee_bps
    fee_account = state.account(market.fee_account)
    fee_base = fee_account.balance(base)
    fee_quote = fee_account.balance(quote)
    taker_base = taker.balance(base)
    taker_quote = taker.balance(quote)
    taker_buys = taker_side is _BUY
    orders = state.orders
    accounts = state.accounts
    dirty_accounts = state.dirty_accounts
    dirty_orders = state.dirty_orders
    recent = state.recent_trades[market.symbol]
    settle_fill = ledger.settle_fill
    for maker_sequence, lots, price in fills:
        maker_order = orders[maker_sequence]
        maker = accounts[maker_order.owner]
        base_units = lots * lot_size
        quote_units = lots * price * tick_size
        maker_base = maker.balance(base)
        maker_quote = maker.balance(quote)
        if taker_buys:
            taker_fee = -(-base_units * taker_bps // 10_000)
            maker_fee = -(-quote_units * maker_bps // 10_000)
            settle_fill(
                taker_base,
                taker_quote,
                maker_base,
                maker_quote,
                fee_base,
                fee_quote,
                base_units,
                quote_units,
                lots * taker_price_ticks * tick_size,
                taker_fee,
                maker_fee,
            )
        else:
            taker_fee = -(-quote_units * taker_bps // 10_000)
            maker_fee = -(-base_units * maker_bps // 10_000)
            settle_fill(
                maker_base,
                maker_quote,
                taker_base,
                taker_quote,
                fee_base,
                fee_quote,
                base_units,
                quote_units,
                quote_units,
                maker_fee,
                taker_fee,
            )
        maker_nonce = maker_order.key[1]
        trade = Trade(
            market.symbol,
            state.next_trade_id,
            price,
            lots,
            taker_side,
            maker.address,
            maker_nonce,
            taker.address,
            taker_nonce,
            maker_fee,
            taker_fee,
            timestamp_ms,
        )
        state.next_trade_id += 1
        events.append(trade)
        recent.append(trade)
        dirty_accounts.add(maker.address)
        dirty_orders[maker_order.key] = maker_order
        maker_order.remaining_lots -= lots
        if maker_order.remaining_lots == 0:
            del orders[maker_sequence]
            del maker.open_orders[maker_nonce]
            events.append(OrderClosed(market.symbol, maker.address, maker_nonce, "filled", 0))
    dirty_accounts.add(taker.address)
    dirty_accounts.add(fee_account.address)


def unlock(
    state: ExchangeState, account: Account, market: Market, side: Side, price_ticks: int, lots: int
) -> None:
    """Release what ``lots`` of an order at ``price_ticks`` had locked."""
    asset, amount = compute_order_lock(market, side, price_ticks, lots)
    ledger.unlock(state, account, asset, amount)


def close_resting_order(
    state: ExchangeState, order: Order, reason: str, events: list[Event], in_book: bool = True
) -> None:
    """Take a resting order out (of the book too, unless the matcher already dropped it),
    unlock what it still holds and forget it."""
    remaining = order.remaining_lots
    if in_book:
        removed = state.books[order.market].cancel(order.sequence)
        assert removed == remaining, f"book held {removed} lots of an order with {remaining}"
    order.remaining_lots = 0
    account = state.accounts[order.owner]
    unlock(state, account, state.markets[order.market], order.side, order.price_ticks, remaining)
    del account.open_orders[order.key[1]]
    del state.orders[order.sequence]
    state.dirty_orders[order.key] = order
    events.append(OrderClosed(order.market, order.owner, order.key[1], reason, remaining))


def cancel_order(
    state: ExchangeState, account: Account, body: CancelOrder, events: list[Event]
) -> Code:
    order = account.open_orders.get(body.order_nonce)
    if order is None:
        return Code.UNKNOWN_ORDER
    close_resting_order(state, order, "cancelled", events)
    return Code.OK


def expire_orders(state: ExchangeState, timestamp_ms: int) -> list[Event]:
    """Close every resting order whose expiry is at or before the block's timestamp."""
    events: list[Event] = []
    expiries = state.expiries
    while expiries and expiries[0][0] <= timestamp_ms:
        _expires_at, sequence, _key = heapq.heappop(expiries)
        order = state.orders.get(sequence)
        if order is not None:
            close_resting_order(state, order, "expired", events)
    return events
