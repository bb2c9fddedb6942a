"""REST routes of the interchain module (docs/interchain.md), and its WebSocket account events.

``GET /v1/ibc/clients``, ``GET /v1/ibc/clients/{id}`` (a light client: the
chain it tracks, its status, its latest header, the heights it holds) and
``GET /v1/ibc/packets?client_id=&kind=`` (packets this chain sent and has not
finished, or packets it received, with their proof keys and acks).
Interchain txs are submitted through the generic ``POST /v1/txs``. Client,
packet and ack entries are public, also with permissioned reads: relayers of
other chains need them and their proofs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query
from pydantic import BaseModel, Field

from bftx import limits
from bftx.api.units import format_amount
from bftx.exchange.events import Event, IbcPacketReceived, IbcPacketRefunded, IbcPacketSent
from bftx.exchange.genesis import Asset
from bftx.exchange.interchain import LightClient, Packet, ack_to_document, packet_to_document
from bftx.exchange.keys import ack_key_text, commitment_key_text, is_client_id, receipt_key_text
from bftx.exchange.machine import Exchange
from bftx.node.runtime import Node

ProblemFactory = Callable[[int, str, str], Exception]
_CLIENT_ID = r"^client-(0|[1-9][0-9]{0,8})$"


class IbcClientModel(BaseModel):
    id: str
    chain_id: str = Field(description="the chain this client tracks")
    status: Literal["active", "expired", "frozen"] = Field(
        description="at the latest block's time; expired: no header within the trusting period"
    )
    latest_height: int = Field(description="the highest header height it holds (0: none yet)")
    latest_time_ms: int = Field(description="the newest header's time (its creation before any)")
    trusting_period_ms: int
    frozen_height: int = Field(description="where misbehaviour was proven; 0 if not frozen")
    next_sequence: int = Field(description="the sequence of the next packet sent through it")
    validators: list[str] = Field(description="the tracked chain's validator keys (hex)")
    heights: list[int] = Field(
        description="header heights it holds; a proof at height h needs h + 4 here"
    )


class IbcPacketModel(BaseModel):
    packet: dict[str, Any] = Field(description="the packet document (docs/interchain.md)")
    sequence: int
    timeout_ms: int
    amount: str = Field(description="the packet's amount in its asset's units")
    commitment_key: str = Field(description="proof key of its commitment on the source chain")
    receipt_key: str = Field(description="proof key of its receipt on the destination chain")
    ack_key: str = Field(description="proof key of its ack on the destination chain")
    ack: dict[str, Any] | None = Field(
        default=None, description="kind=ack: the ack document (success, error, hex)"
    )


def client_model(client: LightClient, timestamp_ms: int) -> IbcClientModel:
    status = client.status(timestamp_ms)
    return IbcClientModel(
        id=client.client_id,
        chain_id=client.chain_id,
        status=status,  # type: ignore[arg-type]
        latest_height=client.latest_height,
        latest_time_ms=client.latest_time_ms,
        trusting_period_ms=client.trusting_period_ms,
        frozen_height=client.frozen_height,
        next_sequence=client.next_sequence,
        validators=[key.hex() for key in client.validators],
        heights=sorted(client.heights),
    )


def packet_model(packet: Packet, ack: bytes | None = None) -> IbcPacketModel:
    route = (packet.destination_client, packet.source_client, packet.sequence)
    return IbcPacketModel(
        packet=packet_to_document(packet),
        sequence=packet.sequence,
        timeout_ms=packet.timeout_ms,
        amount=format_amount(packet.amount, packet.decimals),
        commitment_key=commitment_key_text(packet.source_client, packet.sequence),
        receipt_key=receipt_key_text(*route),
        ack_key=ack_key_text(*route),
        ack=None if ack is None else ack_to_document(ack),
    )


def latest_time_ms(node: Node) -> int:
    """The latest committed block's time: what a client's status is judged at."""
    found = node.stored_block(node.height) if node.height > 0 else None
    return found[0].header.timestamp_ms if found is not None else 0


def list_packets(
    exchange: Exchange,
    client_id: str | None,
    kind: str,
    limit: int,
    source_client: str | None = None,
    min_sequence: int = 0,
) -> list[IbcPacketModel]:
    """Packets in (client, sequence) order: sent and unfinished (``commitment``), or received
    (``receipt``, ``ack``: by receiving client, source client, sequence)."""
    interchain = exchange.state.interchain
    found: list[IbcPacketModel] = []
    if kind == "commitment":
        for (sending_client, sequence), packet in sorted(interchain.commitments.items()):
            if (client_id is None or sending_client == client_id) and sequence >= min_sequence:
                found.append(packet_model(packet))
                if len(found) >= limit:
                    break
        return found
    for route, packet in sorted(interchain.receipts.items()):
        if (
            (client_id is None or route[0] == client_id)
            and (source_client is None or route[1] == source_client)
            and route[2] >= min_sequence
        ):
            found.append(packet_model(packet, interchain.acks[route] if kind == "ack" else None))
            if len(found) >= limit:
                break
    return found


def register_interchain_routes(
    app: FastAPI,
    node: Node,
    exchange: Callable[[], Exchange],
    problem: ProblemFactory,
) -> None:
    @app.get(
        "/v1/ibc/clients",
        response_model=list[IbcClientModel],
        summary="The light clients of other chains this chain holds",
    )
    async def clients() -> list[IbcClientModel]:
        now = latest_time_ms(node)
        return [
            client_model(client, now)
            for _id, client in sorted(exchange().state.interchain.clients.items())
        ]

    @app.get("/v1/ibc/clients/{client_id}", response_model=IbcClientModel, summary="One client")
    async def client(client_id: Annotated[str, Path(pattern=_CLIENT_ID)]) -> IbcClientModel:
        found = exchange().state.interchain.clients.get(client_id)
        if found is None:
            raise problem(404, "unknown_client", f"no light client {client_id} on this chain")
        return client_model(found, latest_time_ms(node))

    @app.get(
        "/v1/ibc/packets",
        response_model=list[IbcPacketModel],
        summary="Packets sent and not finished (kind=commitment), or received (receipt, ack)",
    )
    async def packets(
        client_id: Annotated[
            str | None,
            Query(
                pattern=_CLIENT_ID,
                description="commitment: the sending client; receipt/ack: the receiving client",
            ),
        ] = None,
        kind: Annotated[
            Literal["commitment", "receipt", "ack"],
            Query(
                description="commitment: sent here, awaiting ack or timeout; receipt, ack: "
                "received here (ack: with the ack document)"
            ),
        ] = "commitment",
        source_client: Annotated[
            str | None,
            Query(pattern=_CLIENT_ID, description="receipt/ack: only packets from this client"),
        ] = None,
        min_sequence: Annotated[
            int, Query(ge=0, le=2**62, description="only packets with sequence >= this")
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=limits.packets_query_max)] = limits.packets_query_max,
    ) -> list[IbcPacketModel]:
        for name, value in (("client_id", client_id), ("source_client", source_client)):
            if value is not None and not is_client_id(value):
                raise problem(400, "invalid_request", f"{name} must read client-<n>")
        return list_packets(exchange(), client_id, kind, limit, source_client, min_sequence)


# --- WebSocket account events ----------------------------------------------------------


def interchain_account_events(
    event: Event, assets: Mapping[str, Asset]
) -> list[tuple[bytes, dict[str, Any]]]:
    """Funds leaving (``ibc_sent``), arriving (``ibc_received``) and coming back
    (``ibc_refunded``) for the account channel of the account concerned; [] otherwise."""
    if isinstance(event, IbcPacketSent):
        return [
            (
                event.sender,
                {
                    "event": "ibc_sent",
                    "client_id": event.client_id,
                    "sequence": event.sequence,
                    "receiver": event.receiver.hex(),
                    "asset": event.asset,
                    "amount": _amount(event.amount, event.asset, assets),
                    "timeout_ms": event.timeout_ms,
                },
            )
        ]
    if isinstance(event, IbcPacketReceived) and not event.error:
        return [
            (
                event.receiver,
                {
                    "event": "ibc_received",
                    "client_id": event.client_id,
                    "source_client_id": event.source_client_id,
                    "sequence": event.sequence,
                    "asset": event.asset,
                    "amount": _amount(event.amount, event.asset, assets),
                },
            )
        ]
    if isinstance(event, IbcPacketRefunded):
        return [
            (
                event.sender,
                {
                    "event": "ibc_refunded",
                    "client_id": event.client_id,
                    "sequence": event.sequence,
                    "asset": event.asset,
                    "amount": _amount(event.amount, event.asset, assets),
                    "reason": event.reason,
                },
            )
        ]
    return []


def _amount(units: int, asset: str, assets: Mapping[str, Asset]) -> str:
    known = assets.get(asset)
    return format_amount(units, known.decimals) if known is not None else str(units)
