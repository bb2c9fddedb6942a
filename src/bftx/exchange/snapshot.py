"""The whole exchange state as one canonical byte string, and back.

A snapshot is what a node saves at checkpoints and what a lagging replica
receives in state transfer. Restoring is strict: a snapshot from a peer is
untrusted bytes, so every field is checked, and the result is accepted only
when its state root equals the root the caller expects (taken from a
certified block header). Recent trades, kept for queries only, are not part
of a snapshot.

Layout (version 2):
``(2, chain_id, height, next_order_sequence, next_trade_id,
supplies, accounts, orders, htlcs, deals, interchain)`` with
supplies ``((symbol, minted, burned), ...)`` in genesis order, then the vouchers in
the order they were created (the two counters as
16-byte big-endian integers: they only grow),
accounts ``((address, nonce, registered, ((symbol, available, locked), ...)), ...)``
sorted by address, and open orders
``((sequence, owner, nonce, market, side, type, price, quantity, remaining, expires_at), ...)``
sorted by sequence (which is also their time priority), and the contracts
module's HTLCs and deals (`bftx.exchange.contracts` value shapes) sorted by id,
and the interchain module (`bftx.exchange.interchain.encode_interchain`).
"""

from __future__ import annotations

import heapq

from bftx import codec, crypto, limits
from bftx.errors import DecodeError
from bftx.exchange.commitment import StateCommitment
from bftx.exchange.contracts import deal_from_value, deal_to_value, htlc_from_value, htlc_to_value
from bftx.exchange.genesis import ExchangeGenesis
from bftx.exchange.interchain import decode_interchain, encode_interchain
from bftx.exchange.state import Account, ExchangeState, Order
from bftx.exchange.transactions import OrderType, Side

VERSION = 3  # 3 added the interchain module; 2 (without it) still restores


def encode_snapshot(state: ExchangeState) -> bytes:
    supplies = tuple(
        (symbol, _encode_supply(state.minted[symbol]), _encode_supply(state.burned[symbol]))
        for symbol in state.assets
    )
    accounts = tuple(
        (
            account.address,
            account.nonce,
            account.registered,
            tuple(
                (symbol, b[0], b[1])
                for symbol, b in sorted(account.balances.items())
                if b[0] or b[1]
            ),
        )
        for _address, account in sorted(state.accounts.items())
    )
    orders = tuple(
        (
            order.sequence,
            order.owner,
            order.key[1],
            order.market,
            int(order.side),
            int(order.order_type),
            order.price_ticks,
            order.quantity_lots,
            order.remaining_lots,
            order.expires_at_ms,
        )
        for _sequence, order in sorted(state.orders.items())
    )
    return codec.encode(
        (
            VERSION,
            state.chain_id,
            state.height,
            state.next_order_sequence,
            state.next_trade_id,
            supplies,
            accounts,
            orders,
            tuple(htlc_to_value(h) for _id, h in sorted(state.contracts.htlcs.items())),
            tuple(deal_to_value(d) for _id, d in sorted(state.contracts.deals.items())),
            encode_interchain(state.interchain),
        )
    )


def decode_snapshot(genesis: ExchangeGenesis, data: bytes) -> ExchangeState:
    """Rebuild a state from snapshot bytes; `DecodeError` says what is wrong with them."""
    value = codec.decode(data, limits.snapshot_bytes_max, max_items=limits.snapshot_items_max)
    items = codec.expect_list(value, 11, "snapshot")
    version = codec.expect_int(items[0] if items else None, "snapshot.version")
    if version not in (2, VERSION) or len(items) != 8 + version:
        raise DecodeError(f"snapshot.version: {version} is not supported, or fields are missing")
    fields = tuple(items)
    state = ExchangeState(genesis)
    if (
        codec.expect_str(fields[1], "snapshot.chain_id", limits.chain_id_bytes_max)
        != state.chain_id
    ):
        raise DecodeError("snapshot.chain_id: not this chain")
    state.height = codec.expect_int(fields[2], "snapshot.height", 0, 2**62)
    state.next_order_sequence = codec.expect_int(
        fields[3], "snapshot.next_order_sequence", 1, 2**62
    )
    state.next_trade_id = codec.expect_int(fields[4], "snapshot.next_trade_id", 1, 2**62)
    if version >= 3:
        decode_interchain(fields[10], state)  # vouchers first: supplies and balances hold them
    _restore_supplies(state, fields[5])
    _restore_accounts(state, fields[6])
    _restore_orders(state, fields[7])
    _restore_contracts(state, fields[8], fields[9])
    state.commitment = StateCommitment(limits.state_buckets_log2)  # nothing left from genesis
    state.compute_state_root()
    state.commitment.seal(state.height)
    return state


def _restore_contracts(state: ExchangeState, htlcs: codec.Value, deals: codec.Value) -> None:
    contracts = state.contracts
    previous = b""
    for entry in codec.expect_list(htlcs, limits.snapshot_items_max, "snapshot.htlcs"):
        htlc = htlc_from_value(entry, state.assets)
        if htlc.contract_id <= previous:
            raise DecodeError("snapshot.htlcs: ids must be sorted and unique")
        previous = htlc.contract_id
        contracts.add_htlc(htlc)
    previous = b""
    for entry in codec.expect_list(deals, limits.snapshot_items_max, "snapshot.deals"):
        deal = deal_from_value(entry, state.assets)
        if deal.contract_id <= previous or deal.contract_id in contracts.htlcs:
            raise DecodeError("snapshot.deals: ids must be sorted, unique and not an HTLC's")
        previous = deal.contract_id
        contracts.add_deal(deal)
    contracts.rebuild_indexes()


def _restore_supplies(state: ExchangeState, value: codec.Value) -> None:
    supplies = codec.expect_list(
        value, limits.assets_max + limits.interchain_vouchers_max, "snapshot.supplies"
    )
    if len(supplies) != len(state.assets):
        raise DecodeError("snapshot.supplies: one entry per genesis asset and voucher expected")
    for entry, symbol in zip(supplies, state.assets, strict=True):
        name, minted, burned = codec.expect_tuple(entry, 3, "snapshot.supply")
        if name != symbol:
            raise DecodeError(f"snapshot.supply: expected {symbol!r}, got {name!r}")
        state.minted[symbol] = _decode_supply(minted, "snapshot.supply.minted")
        state.burned[symbol] = _decode_supply(burned, "snapshot.supply.burned")


def _encode_supply(amount: int) -> bytes:
    """minted and burned only grow, past what the codec's 64-bit integers hold: 16 bytes."""
    return amount.to_bytes(16, "big")


def _decode_supply(value: codec.Value, what: str) -> int:
    return int.from_bytes(codec.expect_bytes(value, what, size=16), "big")


def _restore_accounts(state: ExchangeState, value: codec.Value) -> None:
    state.accounts.clear()
    previous = b""
    for entry in codec.expect_list(value, limits.snapshot_items_max, "snapshot.accounts"):
        address, nonce, registered, balances = codec.expect_tuple(entry, 4, "snapshot.account")
        address = codec.expect_bytes(address, "snapshot.account.address", size=crypto.ADDRESS_BYTES)
        if address <= previous:
            raise DecodeError("snapshot.accounts: addresses must be sorted and unique")
        previous = address
        account = Account(address, codec.expect_bool(registered, "snapshot.account.registered"))
        account.nonce = codec.expect_int(nonce, "snapshot.account.nonce", 0, limits.nonce_max)
        for balance in codec.expect_list(
            balances,
            limits.assets_max + limits.interchain_vouchers_max,
            "snapshot.account.balances",
        ):
            symbol, available, locked = codec.expect_tuple(balance, 3, "snapshot.balance")
            if (
                symbol not in state.assets
                or not isinstance(symbol, str)
                or symbol in account.balances
            ):
                raise DecodeError(f"snapshot.balance: unknown or repeated asset {symbol!r}")
            account.balances[symbol] = [
                codec.expect_int(available, "snapshot.balance.available", 0, limits.amount_max),
                codec.expect_int(locked, "snapshot.balance.locked", 0, limits.amount_max),
            ]
        state.accounts[address] = account
        state.dirty_accounts.add(address)


def _restore_orders(state: ExchangeState, value: codec.Value) -> None:
    previous = 0
    for entry in codec.expect_list(value, limits.snapshot_items_max, "snapshot.orders"):
        fields = codec.expect_tuple(entry, 10, "snapshot.order")
        sequence = codec.expect_int(
            fields[0], "snapshot.order.sequence", 1, state.next_order_sequence - 1
        )
        if sequence <= previous:
            raise DecodeError("snapshot.orders: sequences must be sorted and unique")
        previous = sequence
        owner = codec.expect_bytes(fields[1], "snapshot.order.owner", size=crypto.ADDRESS_BYTES)
        nonce = codec.expect_int(fields[2], "snapshot.order.nonce", 0, limits.nonce_max)
        market = fields[3]
        if not isinstance(market, str) or market not in state.markets:
            raise DecodeError(f"snapshot.order.market: unknown market {market!r}")
        side = Side(codec.expect_int(fields[4], "snapshot.order.side", 0, 1))
        order_type = OrderType(
            codec.expect_int(fields[5], "snapshot.order.type", 0, len(OrderType) - 1)
        )
        if order_type not in (OrderType.LIMIT, OrderType.POST_ONLY):
            raise DecodeError("snapshot.order.type: only limit and post-only orders rest")
        price = codec.expect_int(fields[6], "snapshot.order.price_ticks", 1, limits.price_ticks_max)
        quantity = codec.expect_int(
            fields[7], "snapshot.order.quantity_lots", 1, limits.quantity_lots_max
        )
        remaining = codec.expect_int(fields[8], "snapshot.order.remaining_lots", 1, quantity)
        expires_at = codec.expect_int(fields[9], "snapshot.order.expires_at_ms", 0, 2**62)
        account = state.accounts.get(owner)
        if account is None or nonce in account.open_orders or nonce >= account.nonce:
            raise DecodeError("snapshot.order: owner unknown, nonce repeated or not yet used")
        book = state.books[market]
        if book.would_cross(side, price):
            raise DecodeError("snapshot.orders: the book would be crossed")
        order = Order(
            (owner, nonce),
            market,
            side,
            order_type,
            price,
            quantity,
            remaining,
            sequence,
            expires_at,
        )
        book.place(sequence, owner, side, price, remaining, True, False)
        state.orders[sequence] = order
        account.open_orders[nonce] = order
        state.dirty_orders[order.key] = order
        if expires_at:
            heapq.heappush(state.expiries, (expires_at, sequence, order.key))
