"""Signed transactions: the envelope, the six kinds, and their canonical bytes.

A transaction is the canonical encoding of
``(chain_id, public_key, nonce, kind, body, signature)``; the signature is the
sender's Ed25519 signature of ``SIGNING_DOMAIN + encode((chain_id, public_key,
nonce, kind, body))``. The sender's account is ``crypto.address_of(public_key)``.
A tx signed for one chain is rejected on any other (``Code.WRONG_CHAIN``), and
each account's nonces are used once, in order.

Decoding (`decode_tx`) checks only shape and bounds; whether a tx may execute
is the state machine's business (`check_tx`, `execute_block`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bftx import codec, crypto, limits

SIGNING_DOMAIN = b"bftx/tx/v1\x00"


class Kind(enum.IntEnum):
    REGISTER = 1
    MINT = 2
    BURN = 3
    TRANSFER = 4
    PLACE_ORDER = 5
    CANCEL_ORDER = 6


class Side(enum.IntEnum):
    BUY = 0
    SELL = 1


class OrderType(enum.IntEnum):
    LIMIT = 0  # good till cancelled (or until ``expires_at_ms``)
    MARKET = 1  # immediate, bounded by the worst acceptable price; remainder cancelled
    IOC = 2  # immediate or cancel at the limit price
    FOK = 3  # fill completely at once or not at all
    POST_ONLY = 4  # rest without taking; rejected if it would cross


@dataclass(frozen=True, slots=True)
class Register:
    """A registrar admits ``address`` (permissioned mode)."""

    address: bytes


@dataclass(frozen=True, slots=True)
class Mint:
    """An asset's issuer credits a deposit (from a custodian or bridge) to ``recipient``."""

    asset: str
    recipient: bytes
    amount: int


@dataclass(frozen=True, slots=True)
class Burn:
    """The sender withdraws ``amount`` out of the exchange to an external ``destination``."""

    asset: str
    amount: int
    destination: str


@dataclass(frozen=True, slots=True)
class Transfer:
    asset: str
    recipient: bytes
    amount: int


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """``price_ticks`` is the limit; for a market order it is the worst acceptable price."""

    market: str
    side: Side
    order_type: OrderType
    price_ticks: int
    quantity_lots: int
    expires_at_ms: int  # 0: never; only for LIMIT and POST_ONLY


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel the sender's open order placed by the tx with nonce ``order_nonce``."""

    order_nonce: int


Body = Register | Mint | Burn | Transfer | PlaceOrder | CancelOrder


@dataclass(frozen=True, slots=True)
class Tx:
    chain_id: str
    public_key: bytes
    nonce: int
    body: Body
    signature: bytes
    sender: bytes  # address of public_key
    hash: bytes  # sha256 of the encoded tx

    @property
    def kind(self) -> Kind:
        return _KIND_OF[type(self.body)]

    def signing_bytes(self) -> bytes:
        return compute_signing_bytes(self.chain_id, self.public_key, self.nonce, self.body)

    def has_valid_signature(self) -> bool:
        return crypto.verify(self.public_key, self.signing_bytes(), self.signature)


_KIND_OF: dict[type, Kind] = {
    Register: Kind.REGISTER,
    Mint: Kind.MINT,
    Burn: Kind.BURN,
    Transfer: Kind.TRANSFER,
    PlaceOrder: Kind.PLACE_ORDER,
    CancelOrder: Kind.CANCEL_ORDER,
}


def encode_body(body: Body) -> codec.Value:
    match body:
        case Register(address):
            return (address,)
        case Mint(asset, recipient, amount) | Transfer(asset, recipient, amount):
            return (asset, recipient, amount)
        case Burn(asset, amount, destination):
            return (asset, amount, destination)
        case PlaceOrder(market, side, order_type, price, quantity, expires_at):
            return (market, int(side), int(order_type), price, quantity, expires_at)
        case CancelOrder(order_nonce):
            return (order_nonce,)
    raise AssertionError(f"unknown body {body!r}")


def compute_signing_bytes(chain_id: str, public_key: bytes, nonce: int, body: Body) -> bytes:
    unsigned = (chain_id, public_key, nonce, int(_KIND_OF[type(body)]), encode_body(body))
    return SIGNING_DOMAIN + codec.encode(unsigned)


def sign_tx(key: crypto.KeyPair, chain_id: str, nonce: int, body: Body) -> bytes:
    """The encoded, signed tx: what a client submits."""
    signature = key.sign(compute_signing_bytes(chain_id, key.public_key, nonce, body))
    kind = int(_KIND_OF[type(body)])
    return codec.encode((chain_id, key.public_key, nonce, kind, encode_body(body), signature))


def decode_tx(data: bytes) -> Tx:
    """Decode a tx of at most ``limits.tx_bytes_max`` bytes; `DecodeError` says what is wrong."""
    value = codec.decode(data, limits.tx_bytes_max)
    fields = codec.expect_tuple(value, 6, "tx")
    chain_id = codec.expect_str(fields[0], "tx.chain_id", limits.chain_id_bytes_max)
    public_key = codec.expect_bytes(fields[1], "tx.public_key", size=crypto.PUBLIC_KEY_BYTES)
    nonce = codec.expect_int(fields[2], "tx.nonce", 0, limits.nonce_max)
    kind_number = codec.expect_int(fields[3], "tx.kind", 1, len(Kind))
    body = _decode_body(Kind(kind_number), fields[4])
    signature = codec.expect_bytes(fields[5], "tx.signature", size=crypto.SIGNATURE_BYTES)
    return Tx(
        chain_id=chain_id,
        public_key=public_key,
        nonce=nonce,
        body=body,
        signature=signature,
        sender=crypto.address_of(public_key),
        hash=crypto.sha256(bytes(data)),
    )


def _decode_body(kind: Kind, value: codec.Value) -> Body:
    if kind is Kind.REGISTER:
        (address,) = codec.expect_tuple(value, 1, "register")
        return Register(_address(address, "register.address"))
    if kind is Kind.MINT or kind is Kind.TRANSFER:
        name = kind.name.lower()
        asset, recipient, amount = codec.expect_tuple(value, 3, name)
        record = Mint if kind is Kind.MINT else Transfer
        return record(
            _symbol(asset, f"{name}.asset"),
            _address(recipient, f"{name}.recipient"),
            codec.expect_int(amount, f"{name}.amount", 0, limits.amount_max),
        )
    if kind is Kind.BURN:
        asset, amount, destination = codec.expect_tuple(value, 3, "burn")
        return Burn(
            _symbol(asset, "burn.asset"),
            codec.expect_int(amount, "burn.amount", 0, limits.amount_max),
            codec.expect_str(destination, "burn.destination", limits.memo_bytes_max),
        )
    if kind is Kind.PLACE_ORDER:
        market, side, order_type, price, quantity, expires_at = codec.expect_tuple(
            value, 6, "order"
        )
        side_number = codec.expect_int(side, "order.side", 0, len(Side) - 1)
        type_number = codec.expect_int(order_type, "order.type", 0, len(OrderType) - 1)
        return PlaceOrder(
            codec.expect_str(market, "order.market", 2 * limits.symbol_bytes_max + 1),
            Side(side_number),
            OrderType(type_number),
            codec.expect_int(price, "order.price_ticks", 0, limits.price_ticks_max),
            codec.expect_int(quantity, "order.quantity_lots", 0, limits.quantity_lots_max),
            codec.expect_int(expires_at, "order.expires_at_ms", 0, 2**62),
        )
    assert kind is Kind.CANCEL_ORDER
    (order_nonce,) = codec.expect_tuple(value, 1, "cancel")
    return CancelOrder(codec.expect_int(order_nonce, "cancel.order_nonce", 0, limits.nonce_max))


def _address(value: codec.Value, what: str) -> bytes:
    return codec.expect_bytes(value, what, size=crypto.ADDRESS_BYTES)


def _symbol(value: codec.Value, what: str) -> str:
    return codec.expect_str(value, what, limits.symbol_bytes_max)


assert set(_KIND_OF.values()) == set(Kind)
