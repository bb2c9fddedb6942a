"""Signed transactions: the envelope, the kinds (ledger, markets, contracts, interchain), their
canonical bytes.

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
    HTLC_LOCK = 7
    HTLC_CLAIM = 8
    HTLC_REFUND = 9
    DEAL_PROPOSE = 10
    DEAL_FUND = 11
    DEAL_CANCEL = 12
    IBC_CREATE_CLIENT = 13
    IBC_UPDATE_CLIENT = 14
    IBC_MISBEHAVIOUR = 15
    IBC_TRANSFER = 16
    IBC_RECEIVE = 17
    IBC_ACKNOWLEDGE = 18
    IBC_TIMEOUT = 19
    IBC_RECOVER_CLIENT = 20


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


@dataclass(frozen=True, slots=True)
class HtlcLock:
    """Lock ``amount`` of ``asset`` for ``receiver`` until ``expiry_ms`` (a block timestamp):
    released to ``receiver`` by the preimage of ``hashlock`` (SHA-256), or back to the sender
    after expiry. The contract's id is `compute_contract_id` of the sender and this tx's nonce."""

    asset: str
    amount: int
    receiver: bytes
    hashlock: bytes
    expiry_ms: int


@dataclass(frozen=True, slots=True)
class HtlcClaim:
    """Anyone may claim with the preimage; the funds always go to the contract's receiver."""

    contract_id: bytes
    preimage: bytes  # decoded up to htlc_preimage_bytes_max so a wrong size is a result code


@dataclass(frozen=True, slots=True)
class HtlcRefund:
    """The contract's sender takes the funds back after expiry."""

    contract_id: bytes


@dataclass(frozen=True, slots=True)
class DealPropose:
    """The sender (party A) proposes to deliver ``deliver_amount`` of ``deliver_asset`` to
    ``counterparty`` (party B) against ``pay_amount`` of ``pay_asset``, before ``deadline_ms``."""

    counterparty: bytes
    deliver_asset: str
    deliver_amount: int
    pay_asset: str
    pay_amount: int
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class DealFund:
    """A party escrows its own leg of the deal."""

    contract_id: bytes


@dataclass(frozen=True, slots=True)
class DealCancel:
    """A party calls the deal off (refunding its own leg) while the other leg is unfunded."""

    contract_id: bytes


@dataclass(frozen=True, slots=True)
class IbcCreateClient:
    """Create a light client of the chain ``chain_id`` run by ``validators`` (Ed25519 public
    keys, in the order of its genesis), trusting a header for ``trusting_period_ms``."""

    chain_id: str
    validators: tuple[bytes, ...]
    trusting_period_ms: int


@dataclass(frozen=True, slots=True)
class IbcUpdateClient:
    """Give a client a light block of its chain: a header and its commit certificate."""

    client_id: str
    header: bytes
    certificate: bytes


@dataclass(frozen=True, slots=True)
class IbcMisbehaviour:
    """Two light blocks of one height with different headers: the tracked chain equivocated."""

    client_id: str
    header_1: bytes
    certificate_1: bytes
    header_2: bytes
    certificate_2: bytes


@dataclass(frozen=True, slots=True)
class IbcTransfer:
    """Send ``amount`` of ``asset`` to ``receiver`` on the chain ``client_id`` tracks, whose
    client of this chain is ``counterparty_client_id``; refunded unless received before the
    destination's block time reaches ``timeout_ms``."""

    asset: str
    amount: int
    receiver: bytes
    client_id: str
    counterparty_client_id: str
    timeout_ms: int


@dataclass(frozen=True, slots=True)
class IbcReceive:
    """Deliver a packet (its canonical bytes) with a proof of its commitment on the source."""

    packet: bytes
    proof: bytes


@dataclass(frozen=True, slots=True)
class IbcAcknowledge:
    """Close a sent packet with the destination's ack and a proof of that ack."""

    packet: bytes
    ack: bytes
    proof: bytes


@dataclass(frozen=True, slots=True)
class IbcTimeout:
    """Refund a sent packet with a proof that the destination never received it in time."""

    packet: bytes
    proof: bytes


@dataclass(frozen=True, slots=True)
class IbcRecoverClient:
    """Bring an expired client back with the newer headers of ``substitute_client_id``, an
    active client of the same chain and validators (docs/interchain.md)."""

    client_id: str
    substitute_client_id: str


IbcBody = (
    IbcCreateClient
    | IbcUpdateClient
    | IbcMisbehaviour
    | IbcTransfer
    | IbcReceive
    | IbcAcknowledge
    | IbcTimeout
    | IbcRecoverClient
)
IBC_BODIES = (
    IbcCreateClient,
    IbcUpdateClient,
    IbcMisbehaviour,
    IbcTransfer,
    IbcReceive,
    IbcAcknowledge,
    IbcTimeout,
    IbcRecoverClient,
)

Body = (
    Register
    | Mint
    | Burn
    | Transfer
    | PlaceOrder
    | CancelOrder
    | HtlcLock
    | HtlcClaim
    | HtlcRefund
    | DealPropose
    | DealFund
    | DealCancel
    | IbcBody
)

# contract amounts decode up to what the codec holds, so out of range is a result code
_AMOUNT_DECODED_MAX = 2**63 - 1
_CONTRACT_DOMAIN = b"bftx/contract/v1\x00"


def compute_contract_id(sender: bytes, nonce: int) -> bytes:
    """The id of the HTLC or deal created by ``sender``'s tx with ``nonce`` (known before it
    is submitted, so the other leg of a swap can name it at once)."""
    return crypto.sha256(_CONTRACT_DOMAIN + sender + nonce.to_bytes(8, "big"))


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
    HtlcLock: Kind.HTLC_LOCK,
    HtlcClaim: Kind.HTLC_CLAIM,
    HtlcRefund: Kind.HTLC_REFUND,
    DealPropose: Kind.DEAL_PROPOSE,
    DealFund: Kind.DEAL_FUND,
    DealCancel: Kind.DEAL_CANCEL,
    IbcCreateClient: Kind.IBC_CREATE_CLIENT,
    IbcUpdateClient: Kind.IBC_UPDATE_CLIENT,
    IbcMisbehaviour: Kind.IBC_MISBEHAVIOUR,
    IbcTransfer: Kind.IBC_TRANSFER,
    IbcReceive: Kind.IBC_RECEIVE,
    IbcAcknowledge: Kind.IBC_ACKNOWLEDGE,
    IbcTimeout: Kind.IBC_TIMEOUT,
    IbcRecoverClient: Kind.IBC_RECOVER_CLIENT,
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
        case HtlcLock(asset, amount, receiver, hashlock, expiry_ms):
            return (asset, amount, receiver, hashlock, expiry_ms)
        case HtlcClaim(contract_id, preimage):
            return (contract_id, preimage)
        case HtlcRefund(contract_id) | DealFund(contract_id) | DealCancel(contract_id):
            return (contract_id,)
        case DealPropose(
            counterparty, deliver_asset, deliver_amount, pay_asset, pay_amount, deadline
        ):
            return (counterparty, deliver_asset, deliver_amount, pay_asset, pay_amount, deadline)
        case IbcCreateClient(chain_id, validators, trusting_period_ms):
            return (chain_id, validators, trusting_period_ms)
        case IbcUpdateClient(client_id, header, certificate):
            return (client_id, header, certificate)
        case IbcMisbehaviour(client_id, header_1, certificate_1, header_2, certificate_2):
            return (client_id, header_1, certificate_1, header_2, certificate_2)
        case IbcTransfer(asset, amount, receiver, client_id, counterparty_client_id, timeout):
            return (asset, amount, receiver, client_id, counterparty_client_id, timeout)
        case IbcReceive(packet, proof) | IbcTimeout(packet, proof):
            return (packet, proof)
        case IbcAcknowledge(packet, ack, proof):
            return (packet, ack, proof)
        case IbcRecoverClient(client_id, substitute_client_id):
            return (client_id, substitute_client_id)
    raise AssertionError(f"unknown body {body!r}")


def compute_signing_bytes(chain_id: str, public_key: bytes, nonce: int, body: Body) -> bytes:
    unsigned = (chain_id, public_key, nonce, int(_KIND_OF[type(body)]), encode_body(body))
    return SIGNING_DOMAIN + codec.encode(unsigned)


def sign_tx(key: crypto.KeyPair, chain_id: str, nonce: int, body: Body) -> bytes:
    """The encoded, signed tx: what a client submits."""
    signature = key.sign(compute_signing_bytes(chain_id, key.public_key, nonce, body))
    kind = int(_KIND_OF[type(body)])
    return codec.encode((chain_id, key.public_key, nonce, kind, encode_body(body), signature))


def peek_sender_and_nonce(data: bytes) -> tuple[bytes, int] | None:
    """The sender's address and the nonce a tx claims, without decoding or checking it (None
    when they cannot be read). A hint for load shedding only: nothing else may trust it."""
    value = codec.peek(data, limits.tx_bytes_max)
    if type(value) is not tuple or len(value) != 6:
        return None
    public_key, nonce = value[1], value[2]
    if type(public_key) is not bytes or len(public_key) != crypto.PUBLIC_KEY_BYTES:
        return None
    if type(nonce) is not int:
        return None
    return crypto.address_of(public_key), nonce


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
    if kind is Kind.CANCEL_ORDER:
        (order_nonce,) = codec.expect_tuple(value, 1, "cancel")
        return CancelOrder(codec.expect_int(order_nonce, "cancel.order_nonce", 0, limits.nonce_max))
    if kind >= Kind.IBC_CREATE_CLIENT:
        return _decode_interchain_body(kind, value)
    return _decode_contract_body(kind, value)


def _decode_interchain_body(kind: Kind, value: codec.Value) -> Body:
    blob_max = limits.tx_bytes_max
    if kind is Kind.IBC_CREATE_CLIENT:
        chain_id, validators, trusting = codec.expect_tuple(value, 3, "ibc_create_client")
        keys = codec.expect_list(
            validators, limits.interchain_validators_max, "ibc_create_client.validators"
        )
        return IbcCreateClient(
            codec.expect_str(chain_id, "ibc_create_client.chain_id", limits.chain_id_bytes_max),
            tuple(
                codec.expect_bytes(key, "ibc_create_client.validator", size=crypto.PUBLIC_KEY_BYTES)
                for key in keys
            ),
            codec.expect_int(trusting, "ibc_create_client.trusting_period_ms", 0, 2**62),
        )
    if kind is Kind.IBC_UPDATE_CLIENT:
        client_id, header, certificate = codec.expect_tuple(value, 3, "ibc_update_client")
        return IbcUpdateClient(
            _client_id(client_id, "ibc_update_client.client_id"),
            codec.expect_bytes(header, "ibc_update_client.header", max_size=blob_max),
            codec.expect_bytes(certificate, "ibc_update_client.certificate", max_size=blob_max),
        )
    if kind is Kind.IBC_MISBEHAVIOUR:
        client_id, header_1, certificate_1, header_2, certificate_2 = codec.expect_tuple(
            value, 5, "ibc_misbehaviour"
        )
        return IbcMisbehaviour(
            _client_id(client_id, "ibc_misbehaviour.client_id"),
            codec.expect_bytes(header_1, "ibc_misbehaviour.header_1", max_size=blob_max),
            codec.expect_bytes(certificate_1, "ibc_misbehaviour.certificate_1", max_size=blob_max),
            codec.expect_bytes(header_2, "ibc_misbehaviour.header_2", max_size=blob_max),
            codec.expect_bytes(certificate_2, "ibc_misbehaviour.certificate_2", max_size=blob_max),
        )
    if kind is Kind.IBC_TRANSFER:
        asset, amount, receiver, client_id, counterparty, timeout = codec.expect_tuple(
            value, 6, "ibc_transfer"
        )
        return IbcTransfer(
            _symbol(asset, "ibc_transfer.asset"),
            codec.expect_int(amount, "ibc_transfer.amount", 0, _AMOUNT_DECODED_MAX),
            _address(receiver, "ibc_transfer.receiver"),
            _client_id(client_id, "ibc_transfer.client_id"),
            _client_id(counterparty, "ibc_transfer.counterparty_client_id"),
            codec.expect_int(timeout, "ibc_transfer.timeout_ms", 0, limits.timestamp_ms_max),
        )
    if kind is Kind.IBC_RECOVER_CLIENT:
        client_id, substitute = codec.expect_tuple(value, 2, "ibc_recover_client")
        return IbcRecoverClient(
            _client_id(client_id, "ibc_recover_client.client_id"),
            _client_id(substitute, "ibc_recover_client.substitute_client_id"),
        )
    if kind is Kind.IBC_ACKNOWLEDGE:
        packet, ack, proof = codec.expect_tuple(value, 3, "ibc_acknowledge")
        return IbcAcknowledge(
            codec.expect_bytes(packet, "ibc_acknowledge.packet", max_size=blob_max),
            codec.expect_bytes(ack, "ibc_acknowledge.ack", max_size=blob_max),
            codec.expect_bytes(proof, "ibc_acknowledge.proof", max_size=blob_max),
        )
    name = kind.name.lower()
    packet, proof = codec.expect_tuple(value, 2, name)
    assert kind in (Kind.IBC_RECEIVE, Kind.IBC_TIMEOUT)
    record = IbcReceive if kind is Kind.IBC_RECEIVE else IbcTimeout
    return record(
        codec.expect_bytes(packet, f"{name}.packet", max_size=blob_max),
        codec.expect_bytes(proof, f"{name}.proof", max_size=blob_max),
    )


def _client_id(value: codec.Value, what: str) -> str:
    """Any short text: whether it names a client is the interchain module's business."""
    return codec.expect_str(value, what, limits.client_id_bytes_max)


def _decode_contract_body(kind: Kind, value: codec.Value) -> Body:
    if kind is Kind.HTLC_LOCK:
        asset, amount, receiver, hashlock, expiry = codec.expect_tuple(value, 5, "htlc_lock")
        return HtlcLock(
            _symbol(asset, "htlc_lock.asset"),
            codec.expect_int(amount, "htlc_lock.amount", 0, _AMOUNT_DECODED_MAX),
            _address(receiver, "htlc_lock.receiver"),
            codec.expect_bytes(hashlock, "htlc_lock.hashlock", size=crypto.HASH_BYTES),
            codec.expect_int(expiry, "htlc_lock.expiry_ms", 0, limits.timestamp_ms_max),
        )
    if kind is Kind.HTLC_CLAIM:
        contract_id, preimage = codec.expect_tuple(value, 2, "htlc_claim")
        return HtlcClaim(
            _contract_id(contract_id, "htlc_claim.contract_id"),
            codec.expect_bytes(
                preimage, "htlc_claim.preimage", max_size=limits.htlc_preimage_bytes_max
            ),
        )
    if kind is Kind.DEAL_PROPOSE:
        counterparty, deliver, deliver_amount, pay, pay_amount, deadline = codec.expect_tuple(
            value, 6, "deal_propose"
        )
        return DealPropose(
            _address(counterparty, "deal_propose.counterparty"),
            _symbol(deliver, "deal_propose.deliver_asset"),
            codec.expect_int(deliver_amount, "deal_propose.deliver_amount", 0, _AMOUNT_DECODED_MAX),
            _symbol(pay, "deal_propose.pay_asset"),
            codec.expect_int(pay_amount, "deal_propose.pay_amount", 0, _AMOUNT_DECODED_MAX),
            codec.expect_int(deadline, "deal_propose.deadline_ms", 0, limits.timestamp_ms_max),
        )
    name = kind.name.lower()
    (value_id,) = codec.expect_tuple(value, 1, name)
    contract_id = _contract_id(value_id, f"{name}.contract_id")
    if kind is Kind.HTLC_REFUND:
        return HtlcRefund(contract_id)
    if kind is Kind.DEAL_FUND:
        return DealFund(contract_id)
    assert kind is Kind.DEAL_CANCEL
    return DealCancel(contract_id)


def _contract_id(value: codec.Value, what: str) -> bytes:
    return codec.expect_bytes(value, what, size=crypto.HASH_BYTES)


def _address(value: codec.Value, what: str) -> bytes:
    return codec.expect_bytes(value, what, size=crypto.ADDRESS_BYTES)


def _symbol(value: codec.Value, what: str) -> str:
    return codec.expect_str(value, what, limits.asset_symbol_bytes_max)


assert set(_KIND_OF.values()) == set(Kind)
