"""What executing a block reports: per-tx receipts with result codes and events.

Events are facts about committed state, in execution order. Together with the
genesis they are enough to rebuild every book, balance and trade history
(the API's WebSocket streams are derived from them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import cast

from bftx import codec
from bftx.codec import Value
from bftx.errors import Code, DecodeError
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


@dataclass(frozen=True, slots=True)
class HtlcLocked:
    contract_id: bytes
    sender: bytes
    receiver: bytes
    asset: str
    amount: int
    hashlock: bytes
    expiry_ms: int


@dataclass(frozen=True, slots=True)
class HtlcClaimed:
    """The preimage is here so a watcher of this chain can claim the other leg of a swap."""

    contract_id: bytes
    receiver: bytes
    asset: str
    amount: int
    preimage: bytes
    claimer: bytes


@dataclass(frozen=True, slots=True)
class HtlcRefunded:
    contract_id: bytes
    sender: bytes
    asset: str
    amount: int


@dataclass(frozen=True, slots=True)
class DealProposed:
    contract_id: bytes
    party_a: bytes  # delivers
    party_b: bytes  # pays
    deliver_asset: str
    deliver_amount: int
    pay_asset: str
    pay_amount: int
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class DealFunded:
    contract_id: bytes
    party: bytes
    asset: str
    amount: int


@dataclass(frozen=True, slots=True)
class DealSettled:
    """Both legs moved at once: A's delivery to B, B's payment to A."""

    contract_id: bytes
    party_a: bytes
    party_b: bytes


@dataclass(frozen=True, slots=True)
class DealRefunded:
    contract_id: bytes
    party: bytes
    asset: str
    amount: int


@dataclass(frozen=True, slots=True)
class DealClosed:
    """A deal ended without settling. ``reason``: cancelled, expired."""

    contract_id: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class IbcClientCreated:
    client_id: str
    chain_id: str  # the chain the client tracks
    creator: bytes


@dataclass(frozen=True, slots=True)
class IbcClientUpdated:
    client_id: str
    height: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class IbcClientFrozen:
    client_id: str
    height: int  # where two different headers were certified


@dataclass(frozen=True, slots=True)
class IbcClientRecovered:
    client_id: str
    substitute_client_id: str
    height: int  # the client's latest header height from now on


@dataclass(frozen=True, slots=True)
class IbcPacketSent:
    client_id: str  # this chain's client of the destination (the packet's source client)
    sequence: int
    sender: bytes
    receiver: bytes
    asset: str
    amount: int
    timeout_ms: int


@dataclass(frozen=True, slots=True)
class IbcPacketReceived:
    """A packet arrived. ``error`` empty: ``receiver`` was credited ``amount`` of ``asset`` (a
    voucher, or the original asset coming home); otherwise the error ack's reason."""

    client_id: str  # this chain's client of the source (the packet's destination client)
    source_client_id: str
    sequence: int
    receiver: bytes
    asset: str
    amount: int
    error: str


@dataclass(frozen=True, slots=True)
class IbcPacketAcknowledged:
    client_id: str
    sequence: int
    sender: bytes
    error: str  # empty: the destination credited the receiver


@dataclass(frozen=True, slots=True)
class IbcPacketRefunded:
    """The sender got back what a packet carried (an error ack or a timeout)."""

    client_id: str
    sequence: int
    sender: bytes
    asset: str
    amount: int
    reason: str  # error_ack or timeout


Event = (
    Registered
    | Deposited
    | Withdrawn
    | Transferred
    | OrderPlaced
    | Trade
    | OrderClosed
    | HtlcLocked
    | HtlcClaimed
    | HtlcRefunded
    | DealProposed
    | DealFunded
    | DealSettled
    | DealRefunded
    | DealClosed
    | IbcClientCreated
    | IbcClientUpdated
    | IbcClientFrozen
    | IbcClientRecovered
    | IbcPacketSent
    | IbcPacketReceived
    | IbcPacketAcknowledged
    | IbcPacketRefunded
)


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
    block_events: tuple[Event, ...]  # not caused by a tx: order and deal expiries at its start
    state_root: bytes


# --- encoding (what the store saves and the API serves) ---------------------------

_EVENT_TAGS: dict[type, int] = {
    Registered: 1,
    Deposited: 2,
    Withdrawn: 3,
    Transferred: 4,
    OrderPlaced: 5,
    Trade: 6,
    OrderClosed: 7,
    HtlcLocked: 8,
    HtlcClaimed: 9,
    HtlcRefunded: 10,
    DealProposed: 11,
    DealFunded: 12,
    DealSettled: 13,
    DealRefunded: 14,
    DealClosed: 15,
    IbcClientCreated: 16,
    IbcClientUpdated: 17,
    IbcClientFrozen: 18,
    IbcPacketSent: 19,
    IbcPacketReceived: 20,
    IbcPacketAcknowledged: 21,
    IbcPacketRefunded: 22,
    IbcClientRecovered: 23,
}
_EVENT_TYPES = {tag: kind for kind, tag in _EVENT_TAGS.items()}
_ENUM_FIELDS = {"side": Side, "taker_side": Side, "order_type": OrderType}


# Per event type: its tag and a getter of its fields' values in order (found once per type).
_ENCODERS: dict[type, tuple[int, Callable[[Event], tuple[object, ...]]]] = {}


def event_to_value(event: Event) -> Value:
    encoder = _ENCODERS.get(type(event))
    if encoder is None:
        encoder = _ENCODERS[type(event)] = _make_encoder(type(event))
    tag, values_of = encoder
    values = [int(v) if isinstance(v, int) else v for v in values_of(event)]
    return (tag, *cast(list[Value], values))


def _make_encoder(kind: type) -> tuple[int, Callable[[Event], tuple[object, ...]]]:
    names = [field.name for field in fields(kind)]
    if len(names) == 1:
        single = attrgetter(names[0])
        return _EVENT_TAGS[kind], lambda event: (single(event),)
    return _EVENT_TAGS[kind], cast(Callable[[Event], tuple[object, ...]], attrgetter(*names))


def event_from_value(value: Value) -> Event:
    items = codec.expect_list(value, 16, "event")
    if not items:
        raise DecodeError("event: empty")
    kind = _EVENT_TYPES.get(codec.expect_int(items[0], "event.kind"))
    if kind is None:
        raise DecodeError(f"event: unknown kind {items[0]!r}")
    names = [field.name for field in fields(kind)]
    if len(items) != len(names) + 1:
        raise DecodeError(f"event {kind.__name__}: expected {len(names)} fields")
    arguments: dict[str, object] = {}
    for name, item in zip(names, items[1:], strict=True):
        enum = _ENUM_FIELDS.get(name)
        if enum is not None:
            arguments[name] = enum(codec.expect_int(item, f"event.{name}", 0, len(enum) - 1))
        elif not isinstance(item, str | bytes | int) or isinstance(item, bool):
            raise DecodeError(f"event.{name}: unexpected {type(item).__name__}")
        else:
            arguments[name] = item
    event: Event = kind(**arguments)
    return event


def encode_block_result(result: BlockResult) -> bytes:
    return codec.encode(
        (
            result.height,
            result.timestamp_ms,
            tuple(
                (
                    r.tx_hash,
                    r.sender,
                    r.nonce,
                    int(r.code),
                    tuple(event_to_value(e) for e in r.events),
                )
                for r in result.receipts
            ),
            tuple(event_to_value(e) for e in result.block_events),
            result.state_root,
        )
    )


def decode_block_result(data: bytes) -> BlockResult:
    height, timestamp_ms, receipts, block_events, state_root = codec.expect_tuple(
        codec.decode(data, 2**30, max_items=2**22), 5, "result"
    )
    return BlockResult(
        codec.expect_int(height, "result.height"),
        codec.expect_int(timestamp_ms, "result.timestamp_ms"),
        tuple(_receipt(value) for value in codec.expect_list(receipts, 2**22, "result.receipts")),
        tuple(
            event_from_value(value)
            for value in codec.expect_list(block_events, 2**22, "result.events")
        ),
        codec.expect_bytes(state_root, "result.state_root", size=32),
    )


def _receipt(value: Value) -> Receipt:
    tx_hash, sender, nonce, code, events = codec.expect_tuple(value, 5, "receipt")
    code_number = codec.expect_int(code, "receipt.code", 0, max(Code))
    return Receipt(
        codec.expect_bytes(tx_hash, "receipt.tx_hash", size=32),
        codec.expect_bytes(sender, "receipt.sender", max_size=32),
        codec.expect_int(nonce, "receipt.nonce"),
        Code(code_number),
        tuple(
            event_from_value(item) for item in codec.expect_list(events, 2**20, "receipt.events")
        ),
    )
