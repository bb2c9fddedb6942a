"""What executing a block reports: per-tx receipts with result codes and events.

Events are facts about committed state, in execution order. Together with the
genesis they are enough to rebuild every book, balance and trade history
(the API's WebSocket streams are derived from them).
"""

from __future__ import annotations

from dataclasses import dataclass

from bftx.errors import Code
from bftx.exchange.transactions import OrderType, Side


@dataclass(frozen=True, slots=True)
class Registered:
    address: bytes


@dataclass(frozen=True, slots=True)
class Deposited:
    asset: str
    recipient: bytes
    amount: int


@dataclass(frozen=True, slots=True)
class Withdrawn:
    asset: str
    account: bytes
    amount: int
    destination: str


@dataclass(frozen=True, slots=True)
class Transferred:
    asset: str
    sender: bytes
    recipient: bytes
    amount: int


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    market: str
    owner: bytes
    nonce: int
    side: Side
    order_type: OrderType
    price_ticks: int
    quantity_lots: int
    sequence: int


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill, at the maker's price. Fees are in what each side receives."""

    market: str
    trade_id: int
    price_ticks: int
    quantity_lots: int
    taker_side: Side
    maker: bytes
    maker_nonce: int
    taker: bytes
    taker_nonce: int
    maker_fee: int  # in the asset the maker receives
    taker_fee: int  # in the asset the taker receives
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class OrderClosed:
    """An order left the book (or never rested). ``reason``: filled, cancelled, expired,
    self_trade (cancelled by self-trade prevention), unfilled (IOC/market remainder)."""

    market: str
    owner: bytes
    nonce: int
    reason: str
    remaining_lots: int


Event = Registered | Deposited | Withdrawn | Transferred | OrderPlaced | Trade | OrderClosed


@dataclass(frozen=True, slots=True)
class Receipt:
    tx_hash: bytes
    sender: bytes
    nonce: int
    code: Code
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class BlockResult:
    height: int
    timestamp_ms: int
    receipts: tuple[Receipt, ...]  # in canonical execution order
    block_events: tuple[Event, ...]  # not caused by a tx: order expiries at the block's start
    state_root: bytes
