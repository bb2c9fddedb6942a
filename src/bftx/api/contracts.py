"""REST routes of the contracts module and of state proofs (docs/settlement.md).

``GET /v1/assets``, ``GET /v1/htlcs/{id}``, ``GET /v1/deals/{id}``,
``GET /v1/light-blocks/{height}`` (a header and its commit certificate) and
``GET /v1/proofs?key=...&height=...`` (a membership or absence proof with the
light block that certifies its state root). Contract txs are submitted through
the generic ``POST /v1/txs``. Amounts are decimal strings in the asset's units
(``*_units`` give the integers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from pydantic import BaseModel, Field

from bftx import codec, crypto, limits
from bftx.api.access import may_see_account
from bftx.api.units import format_amount
from bftx.errors import DecodeError
from bftx.exchange.contracts import Contracts, Deal, Htlc
from bftx.exchange.events import (
    DealClosed,
    DealFunded,
    DealProposed,
    DealRefunded,
    DealSettled,
    Event,
    HtlcClaimed,
    HtlcLocked,
    HtlcRefunded,
)
from bftx.exchange.genesis import Asset
from bftx.exchange.machine import Exchange
from bftx.exchange.proofs import StateProof, encode_proof, parse_key
from bftx.exchange.state import COUNTERS_KEY
from bftx.node.runtime import Node

_HEX_ID = r"^(0x)?[0-9a-fA-F]{64}$"
# what `bftx.exchange.proofs.parse_key` accepts (narrower for supply symbols and order nonces,
# so every schema-valid key is accepted)
_KEY_PATTERN = (
    r"^(account:(0x)?[0-9a-fA-F]{40}"
    r"|(htlc|deal|contract):(0x)?[0-9a-fA-F]{64}"
    r"|order:(0x)?[0-9a-fA-F]{40}:[0-9]{1,18}"
    r"|supply:[A-Za-z0-9]{1,16}"
    r"|supply:client-(0|[1-9][0-9]{0,8})/[A-Za-z0-9]{1,16}"
    r"|counters"
    r"|ibc-client:client-(0|[1-9][0-9]{0,8})"
    r"|ibc-(commitment|consensus):client-(0|[1-9][0-9]{0,8}):[0-9]{1,18}"
    r"|ibc-(receipt|ack):client-(0|[1-9][0-9]{0,8}):client-(0|[1-9][0-9]{0,8}):[0-9]{1,18}"
    r"|raw:(0x)?([0-9a-fA-F]{2}){1,64})$"
)

KEY_CHARS_MAX = 200  # a proof's text key
ProblemFactory = Callable[[int, str, str], Exception]


class AssetModel(BaseModel):
    symbol: str
    decimals: int


class HtlcModel(BaseModel):
    id: str
    sender: str
    receiver: str
    asset: str
    amount: str
    amount_units: str
    hashlock: str = Field(description="hex SHA-256 of the 32-byte secret")
    expiry_ms: int = Field(description="block timestamp from which it can be refunded")
    status: str = Field(description="open, claimed or refunded")
    preimage: str | None = Field(description="hex secret, once claimed")


class DealModel(BaseModel):
    id: str
    party_a: str = Field(description="proposed the deal; delivers deliver_amount")
    party_b: str = Field(description="pays pay_amount")
    deliver_asset: str
    deliver_amount: str
    deliver_amount_units: str
    pay_asset: str
    pay_amount: str
    pay_amount_units: str
    deadline_ms: int
    funded_a: bool
    funded_b: bool
    status: str = Field(description="open, settled, cancelled or expired")


class LightBlockModel(BaseModel):
    height: int
    header: str = Field(description="hex canonical bytes of the block header")
    certificate: str = Field(description="hex canonical bytes of its commit certificate")
    state_height: int = Field(description="the header commits to the state after this block")
    state_root: str = Field(description="the state root the header commits to (hex)")
    timestamp_ms: int


class ProofModel(BaseModel):
    key: str
    key_hex: str
    height: int = Field(description="the proven state is the one after this block")
    present: bool = Field(description="false: a proof that the key is absent")
    value: str | None = Field(description="hex canonical bytes of the entry")
    proof: str = Field(description="hex canonical bytes of the proof (docs/settlement.md)")
    header: str
    certificate: str
    certified_height: int


def register_contract_routes(
    app: FastAPI,
    node: Node,
    exchange: Callable[[], Exchange],
    problem: ProblemFactory,
    problem_response: Callable[[str], dict[str, Any]],
) -> None:
    """``problem_response(description)``: the OpenAPI entry of a problem+json answer."""
    null_block: dict[int | str, dict[str, Any]] = {
        409: problem_response("null_block: a null block commits to no state")
    }

    @app.get("/v1/assets", response_model=list[AssetModel], summary="Assets and their decimals")
    async def assets() -> list[AssetModel]:
        return [
            AssetModel(symbol=a.symbol, decimals=a.decimals)
            for a in exchange().state.assets.values()
        ]

    @app.get("/v1/htlcs/{contract_id}", response_model=HtlcModel, summary="One HTLC")
    async def htlc(http: Request, contract_id: Annotated[str, Path(pattern=_HEX_ID)]) -> HtlcModel:
        current = exchange()
        found = current.htlc(bytes.fromhex(contract_id.removeprefix("0x")))
        if found is None:
            raise problem(404, "unknown_contract", f"no HTLC {contract_id}")
        _check_readable(http, node, (found.sender, found.receiver), problem)
        return htlc_model(current, found)

    @app.get("/v1/deals/{contract_id}", response_model=DealModel, summary="One deal")
    async def deal(http: Request, contract_id: Annotated[str, Path(pattern=_HEX_ID)]) -> DealModel:
        current = exchange()
        found = current.deal(bytes.fromhex(contract_id.removeprefix("0x")))
        if found is None:
            raise problem(404, "unknown_contract", f"no deal {contract_id}")
        _check_readable(http, node, (found.party_a, found.party_b), problem)
        return deal_model(current, found)

    @app.get(
        "/v1/light-blocks/{height}",
        response_model=LightBlockModel,
        summary="A block header with its commit certificate",
        responses=null_block,
    )
    async def get_light_block(height: Annotated[int, Path(ge=1, le=2**62)]) -> LightBlockModel:
        return light_block(node, height, problem)

    @app.get(
        "/v1/proofs",
        response_model=ProofModel,
        summary="A membership or absence proof of a state entry, with its light block",
        responses=null_block,
    )
    async def proof(
        http: Request,
        key: Annotated[
            str,
            Query(
                max_length=KEY_CHARS_MAX,
                pattern=_KEY_PATTERN,
                description="account:<address>, htlc:<id>, deal:<id>, order:<owner>:<nonce>, "
                "supply:<SYMBOL>, counters, raw:<hex>, ibc-client:<client>, "
                "ibc-consensus:<client>:<height>, ibc-commitment:<client>:<sequence>, "
                "ibc-receipt:<client>:<source client>:<sequence>, "
                "ibc-ack:<client>:<source client>:<sequence>",
            ),
        ],
        height: Annotated[
            int | None,
            Query(ge=0, le=2**62, description="state after this block; default: newest certified"),
        ] = None,
    ) -> ProofModel:
        policy = node.genesis.access

        def may_see(owner: bytes) -> bool:
            return may_see_account(http.scope, policy, owner)

        return build_proof(node, exchange(), key, height, problem, may_see)


def _check_readable(
    http: Request, node: Node, owners: tuple[bytes, ...], problem: ProblemFactory
) -> None:
    """In a permissioned network a contract is visible to its parties and auditors only."""
    policy = node.genesis.access
    if not any(may_see_account(http.scope, policy, owner) for owner in owners):
        raise problem(403, "forbidden", "a contract is visible to its parties and auditors only")


def readers_of_key(exchange: Exchange, key: bytes) -> tuple[bytes, ...] | None:
    """Whose private data the state entry ``key`` is, in a permissioned network: an account's
    or an order's owner, a contract's parties; None for public entries (supplies, counters,
    contracts that do not exist); () for keys of no known shape (auditors only)."""
    tag = key[:1]
    if tag == b"a" and len(key) == 1 + crypto.ADDRESS_BYTES:
        return (key[1:],)
    if tag == b"o" and len(key) == 1 + crypto.ADDRESS_BYTES + 8:
        return (key[1 : 1 + crypto.ADDRESS_BYTES],)
    if tag == b"c" and len(key) == 1 + crypto.HASH_BYTES:
        htlc, deal = exchange.htlc(key[1:]), exchange.deal(key[1:])
        if htlc is not None:
            return (htlc.sender, htlc.receiver)
        if deal is not None:
            return (deal.party_a, deal.party_b)
        return None  # never created (contracts are never removed): its absence is no secret
    if tag in (b"s", b"i") or key == COUNTERS_KEY:
        return None  # supplies, counters and the interchain module's entries are public
    return ()


def build_proof(
    node: Node,
    exchange: Exchange,
    key: str,
    height: int | None,
    problem: ProblemFactory,
    may_see: Callable[[bytes], bool],
) -> ProofModel:
    """The proof bundle of ``key`` in the state after ``height`` (default: the newest certified
    one), with the light block that certifies that state. ``may_see(owner)``: whether the
    caller may read that account's private data (permissioned reads)."""
    if len(key) > KEY_CHARS_MAX:  # REST's query bound; gRPC takes any string
        raise problem(400, "invalid_request", f"key is at most {KEY_CHARS_MAX} characters")
    try:
        state_key = parse_key(key)
    except DecodeError as error:
        raise problem(400, "invalid_request", str(error)) from error
    readers = readers_of_key(exchange, state_key)
    visible = readers is None or any(may_see(owner) for owner in readers)
    if node.genesis.access.permissioned and not visible:
        raise problem(403, "forbidden", "this entry is visible to its owners and auditors only")
    depth = limits.pipeline_depth_blocks
    if height is None:
        height = node.height - depth
        if height < 0:
            raise problem(404, "not_certified", "no state is certified by a header yet")
    if height + depth > node.height:
        raise problem(
            404,
            "not_certified",
            f"the state after {height} is certified by block {height + depth}, "
            f"not committed yet (latest {node.height})",
        )
    found = exchange.prove(state_key, height)
    if found is None:
        kept = exchange.provable_heights()
        held = f"{min(kept)} to {max(kept)}" if kept else "none yet"
        raise problem(
            404,
            "height_not_kept",
            f"no proofs at height {height}: this node keeps the last "
            f"{limits.proof_heights_max} heights only (now {held})",
        )
    light = light_block(node, height + depth, problem)
    return ProofModel(
        key=key,
        key_hex=state_key.hex(),
        height=height,
        present=found.value is not None,
        value=None if found.value is None else found.value.hex(),
        proof=encode_proof(StateProof(height, found)).hex(),
        header=light.header,
        certificate=light.certificate,
        certified_height=light.height,
    )


def light_block(node: Node, height: int, problem: ProblemFactory) -> LightBlockModel:
    """The header of committed block ``height`` and its certificate; 404 ``unknown_block`` for
    any other height whatever its size (gRPC's uint64 goes past what the store can look up),
    409 ``null_block`` for a null block."""
    found = node.stored_block(height) if 0 < height <= node.height else None
    if found is None:
        raise problem(
            404, "unknown_block", f"no committed block {height} here (latest is {node.height})"
        )
    block, certificate, _result = found
    header = block.header
    if header.is_null:
        raise problem(409, "null_block", f"block {height} is a null block: it commits to no state")
    return LightBlockModel(
        height=header.height,
        header=codec.encode(header.to_value()).hex(),
        certificate=codec.encode(certificate.to_value()).hex(),
        state_height=max(0, header.height - limits.pipeline_depth_blocks),
        state_root=header.anchor_state_root.hex(),
        timestamp_ms=header.timestamp_ms,
    )


def htlc_model(exchange: Exchange, htlc: Htlc) -> HtlcModel:
    decimals = exchange.state.assets[htlc.asset].decimals
    return HtlcModel(
        id=htlc.contract_id.hex(),
        sender=htlc.sender.hex(),
        receiver=htlc.receiver.hex(),
        asset=htlc.asset,
        amount=format_amount(htlc.amount, decimals),
        amount_units=str(htlc.amount),
        hashlock=htlc.hashlock.hex(),
        expiry_ms=htlc.expiry_ms,
        status=htlc.status.name.lower(),
        preimage=htlc.preimage.hex() if htlc.preimage else None,
    )


def deal_model(exchange: Exchange, deal: Deal) -> DealModel:
    assets = exchange.state.assets
    return DealModel(
        id=deal.contract_id.hex(),
        party_a=deal.party_a.hex(),
        party_b=deal.party_b.hex(),
        deliver_asset=deal.deliver_asset,
        deliver_amount=format_amount(deal.deliver_amount, assets[deal.deliver_asset].decimals),
        deliver_amount_units=str(deal.deliver_amount),
        pay_asset=deal.pay_asset,
        pay_amount=format_amount(deal.pay_amount, assets[deal.pay_asset].decimals),
        pay_amount_units=str(deal.pay_amount),
        deadline_ms=deal.deadline_ms,
        funded_a=deal.funded_a,
        funded_b=deal.funded_b,
        status=deal.status.name.lower(),
    )


# --- WebSocket account events ----------------------------------------------------------

_CONTRACT_EVENTS: dict[type, str] = {
    HtlcLocked: "htlc_locked",
    HtlcClaimed: "htlc_claimed",
    HtlcRefunded: "htlc_refunded",
    DealProposed: "deal_proposed",
    DealFunded: "deal_funded",
    DealSettled: "deal_settled",
    DealRefunded: "deal_refunded",
    DealClosed: "deal_closed",
}
_AMOUNT_ASSETS = {"amount": "asset", "deliver_amount": "deliver_asset", "pay_amount": "pay_asset"}


def contract_account_events(
    event: Event, contracts: Contracts, assets: Mapping[str, Asset]
) -> list[tuple[bytes, dict[str, Any]]]:
    """A contract event for the account channel of each account it concerns (both parties;
    also the claimer of an HTLC), with amounts as decimal strings; [] for other events."""
    if not isinstance(
        event,
        HtlcLocked
        | HtlcClaimed
        | HtlcRefunded
        | DealProposed
        | DealFunded
        | DealSettled
        | DealRefunded
        | DealClosed,
    ):
        return []
    kind = _CONTRACT_EVENTS[type(event)]
    payload: dict[str, Any] = {"event": kind}
    for field in fields(event):
        value = getattr(event, field.name)
        asset_field = _AMOUNT_ASSETS.get(field.name)
        if asset_field is not None:
            decimals = assets[getattr(event, asset_field)].decimals
            payload[field.name] = format_amount(value, decimals)
        elif isinstance(value, bytes):
            payload["id" if field.name == "contract_id" else field.name] = value.hex()
        else:
            payload[field.name] = value
    contract_id: bytes = event.contract_id
    htlc = contracts.htlcs.get(contract_id)
    deal = contracts.deals.get(contract_id)
    owners = {htlc.sender, htlc.receiver} if htlc else set()
    if deal is not None:
        owners = {deal.party_a, deal.party_b}
    if isinstance(event, HtlcClaimed):
        owners.add(event.claimer)
    return [(owner, payload) for owner in sorted(owners)]
