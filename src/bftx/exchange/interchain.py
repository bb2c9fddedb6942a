"""The interchain module: light clients of other bftx chains, and token transfers by packets.

Owns the module's state (`Interchain`: clients and the headers they hold,
packet commitments, receipts and acks, escrow amounts per route, voucher
assets), the handlers of its seven tx kinds, its result codes and events, and
the state root entries of all of it (docs/interchain.md).
Must never: change a balance itself (every movement goes through
`bftx.exchange.ledger`; escrowed funds are balances of
``ledger.INTERCHAIN_ACCOUNT``), raise on a wrong use (a `Code`), read a clock
(time is the block's agreed timestamp), or trust a relayer: every packet is
checked against a proof under a state root the client verified itself.

Light client. Created from the tracked chain's id and validator keys with a
trusting period. An update gives it a light block (header + commit
certificate, `bftx.lightblock`): accepted when 2f+1 of those validators signed
it and its time is within the trusting period of the block time; the client
stores, per header height, the header's time and the state root it certifies
(the state after height - ``pipeline_depth_blocks``). Two certified headers of
one height that differ freeze the client (an update that conflicts with a
stored header is such evidence too). A client is expired once the block time
reaches its latest header's time plus the trusting period.

Packets. A transfer escrows the asset in the module account (or burns a
voucher that returns home) and commits ``sha256(packet)`` under
``ibc-commitment:<client>:<sequence>``. The destination receives it with a
proof of that entry, writes a receipt, credits a voucher
``<its client>/<asset>`` (or releases the escrow of a voucher coming home) and
commits an ack. The source then removes the commitment with a proof of the ack
(an error ack refunds), or, if the destination's certified time passed the
timeout without a receipt, with a proof of its absence (refund).

Time on the destination: a block executes at a non-decreasing time, at least
its header's time. So if the client holds the header at height ``h`` with a
time at or past the timeout, no block after ``h`` can receive the packet, and
an absence proof of the receipt in the state after ``h`` (certified by the
header at ``h + 4``) proves it never will be: a timeout needs both headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bftx import codec, crypto, limits
from bftx.errors import Code, DecodeError
from bftx.exchange import ledger
from bftx.exchange.commitment import compute_proof_root
from bftx.exchange.events import (
    Event,
    IbcClientCreated,
    IbcClientFrozen,
    IbcClientRecovered,
    IbcClientUpdated,
    IbcPacketAcknowledged,
    IbcPacketReceived,
    IbcPacketRefunded,
    IbcPacketSent,
)
from bftx.exchange.genesis import Asset
from bftx.exchange.keys import (
    NEXT_CLIENT_KEY,
    ack_key,
    client_key,
    commitment_key,
    consensus_key,
    escrow_key,
    is_client_id,
    receipt_key,
    voucher_key,
)
from bftx.exchange.proofs import StateProof, decode_proof
from bftx.exchange.transactions import (
    IbcAcknowledge,
    IbcCreateClient,
    IbcMisbehaviour,
    IbcReceive,
    IbcRecoverClient,
    IbcTimeout,
    IbcTransfer,
    IbcUpdateClient,
    Tx,
)
from bftx.lightblock import LightBlock, decode_light_block, verify_light_block

if TYPE_CHECKING:  # the exchange state holds an `Interchain`
    from bftx.exchange.state import Account, ExchangeState

_ACK_DOMAIN = "bftx/ack/v1"
_PACKET_BYTES_MAX = 1_024


class ClientStatus:
    ACTIVE = "active"
    EXPIRED = "expired"
    FROZEN = "frozen"


@dataclass(frozen=True, slots=True)
class ConsensusState:
    """What a client learnt from the header at one height of its chain."""

    timestamp_ms: int  # the header's time
    state_root: bytes  # the state after height - pipeline depth
    digest: bytes  # the header's digest (a different one at this height is misbehaviour)


@dataclass(slots=True)
class LightClient:
    client_id: str
    chain_id: str
    validators: tuple[bytes, ...]
    trusting_period_ms: int
    latest_height: int
    latest_time_ms: int  # the newest header's time (the creation block's time before any)
    frozen_height: int  # 0: not frozen
    next_sequence: int  # of the next packet this chain sends through this client
    heights: dict[int, ConsensusState]

    def status(self, timestamp_ms: int) -> str:
        if self.frozen_height:
            return ClientStatus.FROZEN
        if timestamp_ms >= self.latest_time_ms + self.trusting_period_ms:
            return ClientStatus.EXPIRED
        return ClientStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class Packet:
    source_chain_id: str
    source_client: str  # the source chain's client of the destination
    destination_chain_id: str
    destination_client: str  # the destination chain's client of the source
    sequence: int
    sender: bytes
    receiver: bytes
    asset: str  # as named on the source chain
    amount: int
    decimals: int
    timeout_ms: int  # a block time on the destination

    def to_value(self) -> codec.Value:
        return (
            self.source_chain_id,
            self.source_client,
            self.destination_chain_id,
            self.destination_client,
            self.sequence,
            self.sender,
            self.receiver,
            self.asset,
            self.amount,
            self.decimals,
            self.timeout_ms,
        )

    def encode(self) -> bytes:
        return codec.encode(self.to_value())

    def compute_hash(self) -> bytes:
        return crypto.sha256(self.encode())


PacketRoute = tuple[str, str, int]  # (destination client, source client, sequence)


class Interchain:
    """The module's state. Finished packets leave no commitment; receipts and acks stay."""

    __slots__ = (
        "acks",
        "clients",
        "commitments",
        "dirty",
        "escrows",
        "next_client_number",
        "receipts",
        "vouchers",
    )

    def __init__(self) -> None:
        self.clients: dict[str, LightClient] = {}
        self.next_client_number = 0
        self.commitments: dict[tuple[str, int], Packet] = {}  # sent, not yet finished
        self.receipts: dict[PacketRoute, Packet] = {}  # received here
        self.acks: dict[PacketRoute, bytes] = {}  # the ack of each received packet
        self.escrows: dict[tuple[str, str, str], int] = {}  # (client, counterparty, asset)
        self.vouchers: dict[str, int] = {}  # voucher asset -> decimals
        self.dirty: dict[bytes, bytes | None] = {}  # state entries changed since the last root

    def put(self, key: bytes, value: bytes) -> None:
        self.dirty[key] = value

    def delete(self, key: bytes) -> None:
        self.dirty[key] = None

    def save_client(self, client: LightClient) -> None:
        self.clients[client.client_id] = client
        self.dirty[client_key(client.client_id)] = encode_client(client)

    def save_escrow(self, route: tuple[str, str, str], amount: int) -> None:
        if amount:
            self.escrows[route] = amount
            self.dirty[escrow_key(*route)] = codec.encode((*route, amount))
        else:
            self.escrows.pop(route, None)
            self.dirty[escrow_key(*route)] = None


# --- encodings ---------------------------------------------------------------------------


def encode_client(client: LightClient) -> bytes:
    return codec.encode(
        (
            client.client_id,
            client.chain_id,
            client.validators,
            client.trusting_period_ms,
            client.latest_height,
            client.latest_time_ms,
            client.frozen_height,
            client.next_sequence,
        )
    )


def encode_consensus(state: ConsensusState) -> bytes:
    return codec.encode((state.timestamp_ms, state.state_root, state.digest))


def encode_ack(error: str) -> bytes:
    """An ack's canonical bytes: ``error`` empty for success, else the result code's name."""
    return codec.encode((_ACK_DOMAIN, error))


def decode_ack(data: bytes) -> str:
    domain, error = codec.expect_tuple(codec.decode(data, 256), 2, "ack")
    if domain != _ACK_DOMAIN:
        raise DecodeError("ack: not a bftx ack")
    return codec.expect_str(error, "ack.error", 64)


def decode_packet(data: bytes) -> Packet:
    """Strictly decode a packet's canonical bytes; `DecodeError` says what is wrong."""
    return packet_from_value(codec.decode(data, _PACKET_BYTES_MAX))


def packet_from_value(value: codec.Value) -> Packet:
    fields = codec.expect_tuple(value, 11, "packet")
    packet = Packet(
        codec.expect_str(fields[0], "packet.source_chain_id", limits.chain_id_bytes_max),
        codec.expect_str(fields[1], "packet.source_client", limits.client_id_bytes_max),
        codec.expect_str(fields[2], "packet.destination_chain_id", limits.chain_id_bytes_max),
        codec.expect_str(fields[3], "packet.destination_client", limits.client_id_bytes_max),
        codec.expect_int(fields[4], "packet.sequence", 1, 2**62),
        codec.expect_bytes(fields[5], "packet.sender", size=crypto.ADDRESS_BYTES),
        codec.expect_bytes(fields[6], "packet.receiver", size=crypto.ADDRESS_BYTES),
        codec.expect_str(fields[7], "packet.asset", limits.asset_symbol_bytes_max),
        codec.expect_int(fields[8], "packet.amount", 1, limits.amount_max),
        codec.expect_int(fields[9], "packet.decimals", 0, 18),
        codec.expect_int(fields[10], "packet.timeout_ms", 1, limits.timestamp_ms_max),
    )
    if not (is_client_id(packet.source_client) and is_client_id(packet.destination_client)):
        raise DecodeError("packet: client ids must read client-<n>")
    if not packet.asset:
        raise DecodeError("packet.asset: empty")
    return packet


def packet_to_document(packet: Packet) -> dict[str, Any]:
    """The JSON document of a packet (what the APIs serve and the SDK sends back)."""
    return {
        "source_chain_id": packet.source_chain_id,
        "source_client": packet.source_client,
        "destination_chain_id": packet.destination_chain_id,
        "destination_client": packet.destination_client,
        "sequence": packet.sequence,
        "sender": packet.sender.hex(),
        "receiver": packet.receiver.hex(),
        "asset": packet.asset,
        "amount_units": str(packet.amount),
        "decimals": packet.decimals,
        "timeout_ms": packet.timeout_ms,
    }


def packet_from_document(document: Mapping[str, Any]) -> Packet:
    """A packet from its JSON document; `DecodeError` names what is missing or wrong."""
    try:
        packet = Packet(
            str(document["source_chain_id"]),
            str(document["source_client"]),
            str(document["destination_chain_id"]),
            str(document["destination_client"]),
            int(document["sequence"]),
            bytes.fromhex(str(document["sender"]).removeprefix("0x")),
            bytes.fromhex(str(document["receiver"]).removeprefix("0x")),
            str(document["asset"]),
            int(document["amount_units"]),
            int(document["decimals"]),
            int(document["timeout_ms"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise DecodeError(f"packet document: {error}") from error
    return decode_packet(packet.encode())  # the same bounds as on chain


def ack_to_document(ack: bytes) -> dict[str, Any]:
    error = decode_ack(ack)
    return {"success": not error, "error": error, "hex": ack.hex()}


def ack_from_document(document: Mapping[str, Any]) -> bytes:
    """The ack's canonical bytes from its JSON document."""
    error = document.get("error") or ""
    if not isinstance(error, str):
        raise DecodeError("ack document: error must be a string")
    return encode_ack(error)


# --- validation ---------------------------------------------------------------------------


def validate(state: ExchangeState, account: Account, tx: Tx, timestamp_ms: int | None) -> Code:
    """Whether an interchain tx may execute (``timestamp_ms=None``: at admission, where the
    cheap checks run; signatures of light blocks are checked at execution only)."""
    body = tx.body
    if isinstance(body, IbcReceive):
        return validate_receive(state, body, timestamp_ms)[0]
    if isinstance(body, IbcTransfer):
        return validate_transfer(state, account, body, timestamp_ms)
    if isinstance(body, IbcAcknowledge):
        return validate_acknowledge(state, body, timestamp_ms)[0]
    if isinstance(body, IbcTimeout):
        return validate_timeout(state, body, timestamp_ms)[0]
    if isinstance(body, IbcUpdateClient):
        return validate_update(state, body, timestamp_ms)[0]
    if isinstance(body, IbcMisbehaviour):
        return validate_misbehaviour(state, body, timestamp_ms)[0]
    if isinstance(body, IbcRecoverClient):
        return validate_recover(state, body, timestamp_ms)
    assert isinstance(body, IbcCreateClient), f"not an interchain tx: {body!r}"
    return validate_create(state, body)


def validate_create(state: ExchangeState, body: IbcCreateClient) -> Code:
    if (
        not body.chain_id
        or body.chain_id == state.chain_id
        or not 1 <= len(body.validators) <= limits.interchain_validators_max
        or len(set(body.validators)) != len(body.validators)
        or not limits.trusting_period_ms_min
        <= body.trusting_period_ms
        <= limits.trusting_period_ms_max
    ):
        return Code.INVALID_CLIENT
    if len(state.interchain.clients) >= limits.interchain_clients_max:
        return Code.TOO_MANY_CLIENTS
    return Code.OK


def _active_client(
    state: ExchangeState, client_id: str, timestamp_ms: int | None
) -> tuple[Code, LightClient | None]:
    client = state.interchain.clients.get(client_id)
    if client is None:
        return Code.UNKNOWN_CLIENT, None
    if client.frozen_height:
        return Code.CLIENT_FROZEN, client
    if timestamp_ms is not None and client.status(timestamp_ms) == ClientStatus.EXPIRED:
        return Code.CLIENT_EXPIRED, client
    return Code.OK, client


def _check_light_block(
    client: LightClient, header: bytes, certificate: bytes, timestamp_ms: int | None
) -> LightBlock | None:
    """The light block if it is a certified header of the client's chain whose time fits the
    trusting period at ``timestamp_ms`` (None at admission: decoding only)."""
    try:
        light = decode_light_block(header, certificate, client.chain_id)
    except DecodeError:
        return None
    if light.header.height <= limits.pipeline_depth_blocks:
        return None  # it would certify the genesis state, which no proof needs
    if timestamp_ms is None:
        return light
    time_ms = light.header.timestamp_ms
    if time_ms > timestamp_ms + limits.interchain_clock_drift_ms_max:
        return None  # from the future
    if time_ms + client.trusting_period_ms <= timestamp_ms:
        return None  # too old to trust: its validators may have moved on
    if verify_light_block(light, client.validators) is not None:
        return None
    return light


def validate_update(
    state: ExchangeState, body: IbcUpdateClient, timestamp_ms: int | None
) -> tuple[Code, LightBlock | None]:
    code, client = _active_client(state, body.client_id, timestamp_ms)
    if code is not Code.OK:
        return code, None
    assert client is not None
    light = _check_light_block(client, body.header, body.certificate, timestamp_ms)
    if light is None:
        return Code.INVALID_LIGHT_BLOCK, None
    return Code.OK, light


def validate_misbehaviour(
    state: ExchangeState, body: IbcMisbehaviour, timestamp_ms: int | None
) -> tuple[Code, int]:
    client = state.interchain.clients.get(body.client_id)
    if client is None:
        return Code.UNKNOWN_CLIENT, 0
    if client.frozen_height:
        return Code.CLIENT_FROZEN, 0
    # Evidence is judged by signatures alone: an expired client may still be frozen, and the
    # headers' times do not matter (an equivocating chain signed both, whenever that was).
    lights = []
    for header, certificate in (
        (body.header_1, body.certificate_1),
        (body.header_2, body.certificate_2),
    ):
        try:
            lights.append(decode_light_block(header, certificate, client.chain_id))
        except DecodeError:
            return Code.INVALID_MISBEHAVIOUR, 0
    first, second = lights
    if first.header.height != second.header.height or first.digest == second.digest:
        return Code.INVALID_MISBEHAVIOUR, 0
    if timestamp_ms is not None and any(
        verify_light_block(light, client.validators) is not None for light in lights
    ):
        return Code.INVALID_MISBEHAVIOUR, 0
    return Code.OK, first.header.height


def validate_recover(
    state: ExchangeState, body: IbcRecoverClient, timestamp_ms: int | None
) -> Code:
    """An expired (never a frozen) client may take over the newer headers of an active client
    of the same chain with the same validators: no more trust than creating that client took."""
    clients = state.interchain.clients
    client = clients.get(body.client_id)
    substitute = clients.get(body.substitute_client_id)
    if client is None or substitute is None:
        return Code.UNKNOWN_CLIENT
    if client.frozen_height:
        return Code.CLIENT_FROZEN
    if (
        substitute is client
        or substitute.frozen_height
        or substitute.chain_id != client.chain_id
        or substitute.validators != client.validators
        or substitute.latest_height <= client.latest_height
    ):
        return Code.CLIENT_NOT_RECOVERABLE
    if timestamp_ms is not None and (
        client.status(timestamp_ms) != ClientStatus.EXPIRED
        or substitute.status(timestamp_ms) != ClientStatus.ACTIVE
    ):
        return Code.CLIENT_NOT_RECOVERABLE
    return Code.OK


def validate_transfer(
    state: ExchangeState, account: Account, body: IbcTransfer, timestamp_ms: int | None
) -> Code:
    if body.asset not in state.assets:
        return Code.UNKNOWN_ASSET
    if not 0 < body.amount <= limits.amount_max:
        return Code.INVALID_AMOUNT
    code, client = _active_client(state, body.client_id, timestamp_ms)
    if code is not Code.OK:
        return code
    assert client is not None
    if not is_client_id(body.counterparty_client_id):
        return Code.INVALID_PACKET
    if body.timeout_ms <= client.latest_time_ms or (
        timestamp_ms is not None and body.timeout_ms > timestamp_ms + limits.contract_horizon_ms_max
    ):
        return Code.INVALID_TIMEOUT
    if account.available(body.asset) < body.amount:
        return Code.INSUFFICIENT_FUNDS
    return Code.OK


def _verify_proof(
    client: LightClient, proof_bytes: bytes, key: bytes
) -> tuple[Code, StateProof | None]:
    """The proof if it decodes, is about ``key`` and leads to the root the client holds for its
    height (from the header at height + pipeline depth)."""
    try:
        proof = decode_proof(proof_bytes)
    except DecodeError:
        return Code.INVALID_PROOF, None
    if proof.key != key:
        return Code.INVALID_PROOF, None
    anchor = client.heights.get(proof.height + limits.pipeline_depth_blocks)
    if anchor is None:
        return Code.UNKNOWN_PROOF_HEIGHT, None
    root = compute_proof_root(proof.bucket, limits.state_buckets_log2)
    if root is None or root != anchor.state_root:
        return Code.INVALID_PROOF, None
    return Code.OK, proof


def validate_receive(
    state: ExchangeState, body: IbcReceive, timestamp_ms: int | None
) -> tuple[Code, Packet | None]:
    try:
        packet = decode_packet(body.packet)
    except DecodeError:
        return Code.INVALID_PACKET, None
    if packet.encode() != body.packet or packet.destination_chain_id != state.chain_id:
        return Code.INVALID_PACKET, None
    code, client = _active_client(state, packet.destination_client, timestamp_ms)
    if code is not Code.OK:
        return code, None
    assert client is not None
    if client.chain_id != packet.source_chain_id:
        return Code.INVALID_PACKET, None
    route = (packet.destination_client, packet.source_client, packet.sequence)
    if route in state.interchain.receipts:
        return Code.PACKET_ALREADY_RECEIVED, None
    if timestamp_ms is not None and timestamp_ms >= packet.timeout_ms:
        return Code.PACKET_TIMED_OUT, None
    code, proof = _verify_proof(
        client, body.proof, commitment_key(packet.source_client, packet.sequence)
    )
    if code is not Code.OK:
        return code, None
    assert proof is not None
    if proof.value != packet.compute_hash():
        return Code.INVALID_PROOF, None
    return Code.OK, packet


def _pending_packet(
    state: ExchangeState, data: bytes, timestamp_ms: int | None
) -> tuple[Code, Packet | None, LightClient | None]:
    """A packet this chain sent and has not finished, with its (active) client."""
    try:
        packet = decode_packet(data)
    except DecodeError:
        return Code.INVALID_PACKET, None, None
    if packet.encode() != data or packet.source_chain_id != state.chain_id:
        return Code.INVALID_PACKET, None, None
    if state.interchain.commitments.get((packet.source_client, packet.sequence)) != packet:
        return Code.UNKNOWN_PACKET, None, None
    code, client = _active_client(state, packet.source_client, timestamp_ms)
    if code is not Code.OK:
        return code, None, None
    return Code.OK, packet, client


def validate_acknowledge(
    state: ExchangeState, body: IbcAcknowledge, timestamp_ms: int | None
) -> tuple[Code, Packet | None, str]:
    code, packet, client = _pending_packet(state, body.packet, timestamp_ms)
    if code is not Code.OK:
        return code, None, ""
    assert packet is not None and client is not None
    try:
        error = decode_ack(body.ack)
    except DecodeError:
        return Code.INVALID_PROOF, None, ""
    key = ack_key(packet.destination_client, packet.source_client, packet.sequence)
    code, proof = _verify_proof(client, body.proof, key)
    if code is not Code.OK:
        return code, None, ""
    assert proof is not None
    if proof.value != body.ack:
        return Code.INVALID_PROOF, None, ""
    return Code.OK, packet, error


def validate_timeout(
    state: ExchangeState, body: IbcTimeout, timestamp_ms: int | None
) -> tuple[Code, Packet | None]:
    code, packet, client = _pending_packet(state, body.packet, timestamp_ms)
    if code is not Code.OK:
        return code, None
    assert packet is not None and client is not None
    key = receipt_key(packet.destination_client, packet.source_client, packet.sequence)
    code, proof = _verify_proof(client, body.proof, key)
    if code is not Code.OK:
        return code, None
    assert proof is not None
    if proof.value is not None:
        return Code.INVALID_PROOF, None  # it was received: only its ack can finish it
    at_height = client.heights.get(proof.height)
    if at_height is None or at_height.timestamp_ms < packet.timeout_ms:
        # The header of the proven height must be known and at or past the timeout: then no
        # block from there on could receive the packet (module docstring).
        return Code.TIMEOUT_NOT_REACHED, None
    return Code.OK, packet


# --- execution ------------------------------------------------------------------------------


def execute(
    state: ExchangeState, account: Account, tx: Tx, timestamp_ms: int, events: list[Event]
) -> Code:
    """Validate, then apply an interchain tx (the caller consumed its nonce)."""
    body = tx.body
    if isinstance(body, IbcReceive):
        code, packet = validate_receive(state, body, timestamp_ms)
        if code is Code.OK:
            assert packet is not None
            receive(state, packet, events)
        return code
    if isinstance(body, IbcUpdateClient):
        code, light = validate_update(state, body, timestamp_ms)
        if code is Code.OK:
            assert light is not None
            update(state, state.interchain.clients[body.client_id], light, events)
        return code
    if isinstance(body, IbcAcknowledge):
        code, packet, error = validate_acknowledge(state, body, timestamp_ms)
        if code is Code.OK:
            assert packet is not None
            acknowledge(state, packet, error, events)
        return code
    if isinstance(body, IbcTransfer):
        code = validate_transfer(state, account, body, timestamp_ms)
        if code is Code.OK:
            transfer(state, account, body, events)
        return code
    if isinstance(body, IbcTimeout):
        code, packet = validate_timeout(state, body, timestamp_ms)
        if code is Code.OK:
            assert packet is not None
            finish(state, packet, events)
            refund(state, packet, "timeout", events)
        return code
    if isinstance(body, IbcMisbehaviour):
        code, height = validate_misbehaviour(state, body, timestamp_ms)
        if code is Code.OK:
            freeze(state, state.interchain.clients[body.client_id], height, events)
        return code
    if isinstance(body, IbcRecoverClient):
        code = validate_recover(state, body, timestamp_ms)
        if code is Code.OK:
            recover(state, body, events)
        return code
    assert isinstance(body, IbcCreateClient)
    code = validate_create(state, body)
    if code is Code.OK:
        create(state, account, body, timestamp_ms, events)
    return code


def create(
    state: ExchangeState,
    account: Account,
    body: IbcCreateClient,
    timestamp_ms: int,
    events: list[Event],
) -> None:
    interchain = state.interchain
    client_id = f"client-{interchain.next_client_number}"
    interchain.next_client_number += 1
    interchain.put(NEXT_CLIENT_KEY, codec.encode(interchain.next_client_number))
    client = LightClient(
        client_id,
        body.chain_id,
        body.validators,
        body.trusting_period_ms,
        0,
        timestamp_ms,
        0,
        1,
        {},
    )
    interchain.save_client(client)
    events.append(IbcClientCreated(client_id, body.chain_id, account.address))


def update(
    state: ExchangeState, client: LightClient, light: LightBlock, events: list[Event]
) -> None:
    header = light.header
    known = client.heights.get(header.height)
    if known is not None:
        if known.digest != light.digest:  # two certified headers at one height
            freeze(state, client, header.height, events)
        return  # the same header again (several relayers): nothing changes
    interchain = state.interchain
    consensus = ConsensusState(header.timestamp_ms, header.anchor_state_root, light.digest)
    client.heights[header.height] = consensus
    interchain.put(consensus_key(client.client_id, header.height), encode_consensus(consensus))
    if len(client.heights) > limits.interchain_consensus_states_max:
        oldest = min(client.heights)
        del client.heights[oldest]
        interchain.delete(consensus_key(client.client_id, oldest))
    if header.height > client.latest_height:
        client.latest_height = header.height
    client.latest_time_ms = max(client.latest_time_ms, header.timestamp_ms)
    interchain.save_client(client)
    events.append(IbcClientUpdated(client.client_id, header.height, header.timestamp_ms))


def recover(state: ExchangeState, body: IbcRecoverClient, events: list[Event]) -> None:
    """Copy the substitute's headers above the client's latest into the client."""
    interchain = state.interchain
    client = interchain.clients[body.client_id]
    substitute = interchain.clients[body.substitute_client_id]
    for height in sorted(substitute.heights):
        if height > client.latest_height:
            consensus = substitute.heights[height]
            client.heights[height] = consensus
            interchain.put(consensus_key(client.client_id, height), encode_consensus(consensus))
    while len(client.heights) > limits.interchain_consensus_states_max:
        oldest = min(client.heights)
        del client.heights[oldest]
        interchain.delete(consensus_key(client.client_id, oldest))
    client.latest_height = substitute.latest_height
    client.latest_time_ms = max(client.latest_time_ms, substitute.latest_time_ms)
    interchain.save_client(client)
    events.append(IbcClientRecovered(client.client_id, substitute.client_id, client.latest_height))


def freeze(state: ExchangeState, client: LightClient, height: int, events: list[Event]) -> None:
    client.frozen_height = height
    state.interchain.save_client(client)
    events.append(IbcClientFrozen(client.client_id, height))


def is_voucher_of(asset: str, client_id: str) -> bool:
    """Whether ``asset`` is a voucher minted here through the client ``client_id``."""
    return asset.startswith(client_id + "/")


def transfer(
    state: ExchangeState, account: Account, body: IbcTransfer, events: list[Event]
) -> None:
    interchain = state.interchain
    client = interchain.clients[body.client_id]
    if is_voucher_of(body.asset, body.client_id):
        ledger.burn(state, account, body.asset, body.amount)  # going home: its escrow is there
    else:
        escrow = state.account(ledger.INTERCHAIN_ACCOUNT)
        ledger.move(state, account, escrow, body.asset, body.amount)
        route = (body.client_id, body.counterparty_client_id, body.asset)
        interchain.save_escrow(route, interchain.escrows.get(route, 0) + body.amount)
    packet = Packet(
        state.chain_id,
        body.client_id,
        client.chain_id,
        body.counterparty_client_id,
        client.next_sequence,
        account.address,
        body.receiver,
        body.asset,
        body.amount,
        state.assets[body.asset].decimals,
        body.timeout_ms,
    )
    client.next_sequence += 1
    interchain.save_client(client)
    interchain.commitments[(body.client_id, packet.sequence)] = packet
    interchain.put(commitment_key(body.client_id, packet.sequence), packet.compute_hash())
    events.append(
        IbcPacketSent(
            body.client_id,
            packet.sequence,
            account.address,
            body.receiver,
            body.asset,
            body.amount,
            body.timeout_ms,
        )
    )


def receive(state: ExchangeState, packet: Packet, events: list[Event]) -> None:
    """Credit the receiver (or decide an error ack), then write the receipt and the ack."""
    interchain = state.interchain
    asset, error = _credit(state, packet)
    route = (packet.destination_client, packet.source_client, packet.sequence)
    interchain.receipts[route] = packet
    interchain.put(receipt_key(*route), packet.compute_hash())
    ack = encode_ack(error)
    interchain.acks[route] = ack
    interchain.put(ack_key(*route), ack)
    events.append(
        IbcPacketReceived(
            packet.destination_client,
            packet.source_client,
            packet.sequence,
            packet.receiver,
            asset,
            packet.amount,
            error,
        )
    )


def _credit(state: ExchangeState, packet: Packet) -> tuple[str, str]:
    """Release the escrow of an asset coming home, or mint its voucher: (local asset, error
    slug, empty on success). A refused credit changes nothing (the source refunds)."""
    receiver = packet.receiver
    if ledger.is_module_account(receiver):
        return packet.asset, Code.INVALID_RECIPIENT.slug
    if not state.is_registered(receiver):
        return packet.asset, Code.RECIPIENT_NOT_REGISTERED.slug
    interchain = state.interchain
    if is_voucher_of(packet.asset, packet.source_client):
        home = packet.asset[len(packet.source_client) + 1 :]
        route = (packet.destination_client, packet.source_client, home)
        escrowed = interchain.escrows.get(route, 0)
        if home not in state.assets or escrowed < packet.amount:
            return home, Code.INSUFFICIENT_FUNDS.slug  # not sent out on this route
        escrow = state.accounts[ledger.INTERCHAIN_ACCOUNT]
        ledger.move(state, escrow, state.account(receiver), home, packet.amount)
        interchain.save_escrow(route, escrowed - packet.amount)
        return home, ""
    voucher = f"{packet.destination_client}/{packet.asset}"
    known = state.assets.get(voucher)
    if known is None:
        if (
            len(voucher.encode()) > limits.asset_symbol_bytes_max
            or len(interchain.vouchers) >= limits.interchain_vouchers_max
        ):
            return voucher, Code.UNKNOWN_ASSET.slug
        add_voucher(state, voucher, packet.decimals)
    elif voucher not in interchain.vouchers or known.decimals != packet.decimals:
        return voucher, Code.UNKNOWN_ASSET.slug
    if state.minted[voucher] - state.burned[voucher] + packet.amount > limits.amount_max:
        return voucher, Code.SUPPLY_OVERFLOW.slug
    ledger.mint(state, state.account(receiver), voucher, packet.amount)
    return voucher, ""


def add_voucher(state: ExchangeState, symbol: str, decimals: int) -> None:
    """A new asset minted only by this module: balances, transfers and withdrawals take it."""
    state.assets[symbol] = Asset(symbol, decimals, (), limits.amount_max)
    state.issuers[symbol] = frozenset()
    state.minted.setdefault(symbol, 0)
    state.burned.setdefault(symbol, 0)
    state.interchain.vouchers[symbol] = decimals
    state.interchain.put(voucher_key(symbol), codec.encode(decimals))


def acknowledge(state: ExchangeState, packet: Packet, error: str, events: list[Event]) -> None:
    finish(state, packet, events, error)
    if error:
        refund(state, packet, "error_ack", events)


def finish(
    state: ExchangeState, packet: Packet, events: list[Event], error: str | None = None
) -> None:
    """Forget a sent packet's commitment (acknowledged, or timed out)."""
    interchain = state.interchain
    del interchain.commitments[(packet.source_client, packet.sequence)]
    interchain.delete(commitment_key(packet.source_client, packet.sequence))
    if error is not None:
        events.append(
            IbcPacketAcknowledged(packet.source_client, packet.sequence, packet.sender, error)
        )


def refund(state: ExchangeState, packet: Packet, reason: str, events: list[Event]) -> None:
    """Give the sender back what the packet carried: re-mint a voucher, or release escrow."""
    interchain = state.interchain
    sender = state.account(packet.sender)
    if is_voucher_of(packet.asset, packet.source_client):
        ledger.mint(state, sender, packet.asset, packet.amount)
    else:
        route = (packet.source_client, packet.destination_client, packet.asset)
        escrowed = interchain.escrows[route]
        assert escrowed >= packet.amount, "a pending packet's escrow is missing"
        escrow = state.accounts[ledger.INTERCHAIN_ACCOUNT]
        ledger.move(state, escrow, sender, packet.asset, packet.amount)
        interchain.save_escrow(route, escrowed - packet.amount)
    events.append(
        IbcPacketRefunded(
            packet.source_client,
            packet.sequence,
            packet.sender,
            packet.asset,
            packet.amount,
            reason,
        )
    )


# --- invariants and snapshots ------------------------------------------------------------


def escrowed_by_asset(interchain: Interchain) -> dict[str, int]:
    """What the module account must hold: the escrow of every route, by asset."""
    totals: dict[str, int] = {}
    for (_client, _counterparty, asset), amount in interchain.escrows.items():
        totals[asset] = totals.get(asset, 0) + amount
    return totals


def encode_interchain(interchain: Interchain) -> codec.Value:
    """The module's whole state for a snapshot (sorted, so one state has one encoding)."""
    clients = tuple(
        (
            client.client_id,
            client.chain_id,
            client.validators,
            client.trusting_period_ms,
            client.latest_height,
            client.latest_time_ms,
            client.frozen_height,
            client.next_sequence,
            tuple(
                (height, c.timestamp_ms, c.state_root, c.digest)
                for height, c in sorted(client.heights.items())
            ),
        )
        for _id, client in sorted(interchain.clients.items())
    )
    return (
        interchain.next_client_number,
        clients,
        tuple(interchain.vouchers.items()),  # creation order: supplies follow it
        tuple(p.to_value() for _key, p in sorted(interchain.commitments.items())),
        tuple(
            (p.to_value(), interchain.acks[route])
            for route, p in sorted(interchain.receipts.items())
        ),
        tuple((*route, amount) for route, amount in sorted(interchain.escrows.items())),
    )


def decode_interchain(value: codec.Value, state: ExchangeState) -> None:
    """Restore the module into ``state`` (vouchers first: balances may hold them);
    `DecodeError` says what is wrong."""
    items_max = limits.snapshot_items_max
    number, clients, vouchers, commitments, receipts, escrows = codec.expect_tuple(
        value, 6, "snapshot.interchain"
    )
    interchain = state.interchain
    interchain.next_client_number = codec.expect_int(
        number, "interchain.next_client", 0, limits.interchain_clients_max
    )
    if interchain.next_client_number:  # the entry exists once a client was created
        interchain.put(NEXT_CLIENT_KEY, codec.encode(interchain.next_client_number))
    for entry in codec.expect_list(vouchers, limits.interchain_vouchers_max, "vouchers"):
        symbol, decimals = codec.expect_tuple(entry, 2, "voucher")
        name = codec.expect_str(symbol, "voucher.symbol", limits.asset_symbol_bytes_max)
        if name in state.assets or "/" not in name:
            raise DecodeError(f"voucher {name!r}: not a new voucher name")
        add_voucher(state, name, codec.expect_int(decimals, "voucher.decimals", 0, 18))
    for entry in codec.expect_list(clients, limits.interchain_clients_max, "clients"):
        interchain.save_client(_client_from_value(entry, interchain))
    for entry in codec.expect_list(commitments, items_max, "commitments"):
        packet = packet_from_value(entry)
        if packet.source_client not in interchain.clients:
            raise DecodeError("commitment: unknown client")
        interchain.commitments[(packet.source_client, packet.sequence)] = packet
        interchain.put(commitment_key(packet.source_client, packet.sequence), packet.compute_hash())
    for entry in codec.expect_list(receipts, items_max, "receipts"):
        packet_value, ack_value = codec.expect_tuple(entry, 2, "receipt")
        packet = packet_from_value(packet_value)
        ack = codec.expect_bytes(ack_value, "receipt.ack", max_size=256)
        decode_ack(ack)
        route = (packet.destination_client, packet.source_client, packet.sequence)
        interchain.receipts[route] = packet
        interchain.acks[route] = ack
        interchain.put(receipt_key(*route), packet.compute_hash())
        interchain.put(ack_key(*route), ack)
    for entry in codec.expect_list(escrows, items_max, "escrows"):
        client_id, counterparty, asset, amount = codec.expect_tuple(entry, 4, "escrow")
        escrow_route = (
            codec.expect_str(client_id, "escrow.client", limits.client_id_bytes_max),
            codec.expect_str(counterparty, "escrow.counterparty", limits.client_id_bytes_max),
            codec.expect_str(asset, "escrow.asset", limits.asset_symbol_bytes_max),
        )
        interchain.save_escrow(escrow_route, codec.expect_int(amount, "escrow.amount", 1, 2**62))


def _client_from_value(value: codec.Value, interchain: Interchain) -> LightClient:
    fields = codec.expect_tuple(value, 9, "client")
    client = LightClient(
        codec.expect_str(fields[0], "client.id", limits.client_id_bytes_max),
        codec.expect_str(fields[1], "client.chain_id", limits.chain_id_bytes_max),
        tuple(
            codec.expect_bytes(key, "client.validator", size=crypto.PUBLIC_KEY_BYTES)
            for key in codec.expect_list(
                fields[2], limits.interchain_validators_max, "client.validators"
            )
        ),
        codec.expect_int(fields[3], "client.trusting_period_ms", 1, limits.trusting_period_ms_max),
        codec.expect_int(fields[4], "client.latest_height", 0, 2**62),
        codec.expect_int(fields[5], "client.latest_time_ms", 0, 2**62),
        codec.expect_int(fields[6], "client.frozen_height", 0, 2**62),
        codec.expect_int(fields[7], "client.next_sequence", 1, 2**62),
        {},
    )
    if not is_client_id(client.client_id) or not client.validators:
        raise DecodeError("client: bad id or no validators")
    for entry in codec.expect_list(
        fields[8], limits.interchain_consensus_states_max, "client.heights"
    ):
        height, time_ms, root, digest = codec.expect_tuple(entry, 4, "client.height")
        consensus = ConsensusState(
            codec.expect_int(time_ms, "height.timestamp_ms", 0, 2**62),
            codec.expect_bytes(root, "height.state_root", max_size=64),
            codec.expect_bytes(digest, "height.digest", size=crypto.HASH_BYTES),
        )
        number = codec.expect_int(height, "height", 1, 2**62)
        client.heights[number] = consensus
        interchain.put(consensus_key(client.client_id, number), encode_consensus(consensus))
    return client
