"""REST API v1 (FastAPI). OpenAPI at ``/openapi.json``, interactive docs at ``/docs`` (served offline).

Every error is ``application/problem+json`` with a stable ``code``; bad input
is always a 4xx that says what was wrong, never a 500. Market symbols appear
in paths with a dash (``BTC-USD``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
from collections import OrderedDict
from collections.abc import Mapping, MutableMapping
from dataclasses import fields
from enum import IntEnum
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from bftx import codec, crypto, limits
from bftx.api.access import AccessControl, authenticator_for, may_see_account
from bftx.api.contracts import register_contract_routes
from bftx.api.docs import register_docs, register_metrics_pointer
from bftx.api.guard import BodyLimit, problem_document
from bftx.api.intake import OVERLOADED, OVERLOADED_MESSAGE, IntakeControl, intake_for
from bftx.api.interchain import register_interchain_routes
from bftx.api.units import format_amount, format_price, format_size
from bftx.api.websocket import register_websocket
from bftx.errors import CODE_DESCRIPTIONS, Code, DecodeError
from bftx.exchange.events import (
    DealClosed,
    DealFunded,
    DealProposed,
    DealRefunded,
    DealSettled,
    Deposited,
    Event,
    HtlcClaimed,
    HtlcLocked,
    HtlcRefunded,
    IbcClientCreated,
    IbcClientFrozen,
    IbcClientRecovered,
    IbcClientUpdated,
    IbcPacketAcknowledged,
    IbcPacketReceived,
    IbcPacketRefunded,
    IbcPacketSent,
    OrderClosed,
    OrderPlaced,
    Registered,
    Trade,
    Transferred,
    Withdrawn,
    decode_block_result,
)
from bftx.exchange.genesis import Asset, Market
from bftx.exchange.machine import Exchange, OrderView
from bftx.node.runtime import Node
from bftx.node.signing import SIGNING_WINDOW_BLOCKS
from bftx.store import IndexCatchingUp, TradeRow

PROBLEM = "application/problem+json"
_HEX_HASH = r"^(0x)?[0-9a-fA-F]{64}$"
_HEX_ADDRESS = r"^(0x)?[0-9a-fA-F]{40}$"
_SYMBOL = r"^[A-Za-z0-9]{1,16}-[A-Za-z0-9]{1,16}$"

# A tx in JSON: 0x + hex, or padded base64, of 1 to tx_bytes_max bytes. The schema
# publishes this exact pattern and `_decode_tx_text` enforces it, so what the
# schema calls valid is what the server accepts (schemathesis checks both ways).
_B64 = "[A-Za-z0-9+/]"
_TX_TEXT = (
    rf"^(?:0x(?:[0-9a-fA-F]{{2}}){{1,{limits.tx_bytes_max}}}"
    rf"|(?:{_B64}{{4}}){{1,{limits.tx_bytes_max // 3}}}"  # whole groups of 3 bytes
    rf"|(?:{_B64}{{4}}){{0,{(limits.tx_bytes_max - 1) // 3}}}{_B64}{{2}}=="  # 3k + 1 bytes
    rf"|(?:{_B64}{{4}}){{0,{(limits.tx_bytes_max - 2) // 3}}}{_B64}{{3}}=)$"  # 3k + 2 bytes
)
_TX_TEXT_CHARS_MAX = 2 + 2 * limits.tx_bytes_max
_TX_TEXT_PATTERN = re.compile(_TX_TEXT)
_HEX_DIGITS = re.compile("[0-9a-fA-F]*")

REFUSED_TXS_REMEMBERED_MAX = 16_384  # per node: how many refusals GET /v1/txs/{hash} can explain

log = logging.getLogger(__name__)


class ApiProblem(Exception):
    def __init__(
        self, status: int, code: str, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.headers = headers


class Problem(BaseModel):
    type: str = Field(description="a URI naming the problem kind")
    title: str
    status: int
    code: str = Field(description="stable machine-readable code, e.g. insufficient_funds")
    detail: str


TxText = Annotated[
    str,
    Field(
        description=f"a signed, canonically encoded tx of 1 to {limits.tx_bytes_max} bytes: "
        "padded base64, or hex with a 0x prefix",
        min_length=1,
        max_length=_TX_TEXT_CHARS_MAX,
        # published, and enforced by _decode_tx_text with a clearer message than the regex
        json_schema_extra={"pattern": _TX_TEXT},
    ),
]


class SubmitRequest(BaseModel):
    tx: TxText


class BatchRequest(BaseModel):
    txs: list[TxText] = Field(
        description="signed txs, base64 or hex", max_length=limits.txs_per_block_max
    )


class Admission(BaseModel):
    tx_hash: str | None = Field(
        description="hex SHA-256 of the tx bytes (null when they could not be decoded)"
    )
    accepted: bool
    code: str = Field(description="ok, or the rejection code")
    message: str


class BatchAdmission(BaseModel):
    results: list[Admission]
    accepted: int


class TxStatus(BaseModel):
    tx_hash: str
    status: Literal["pending", "committed", "rejected", "unknown"] = Field(
        description="rejected: this node refused it at submission (code says why); "
        "committed: in a block, where it may still have failed (code is its result)"
    )
    height: int | None = None
    position: int | None = None
    code: str | None = Field(default=None, description="the execution result once committed")
    message: str | None = None
    events: list[dict[str, Any]] = Field(
        default_factory=list,
        description="what the tx did: order_placed, trade, order_closed, deposited, ... (integers in smallest units)",
    )


class Balance(BaseModel):
    asset: str
    available: str
    locked: str
    available_units: str = Field(description="integer, in the asset's smallest unit")
    locked_units: str


class AccountView(BaseModel):
    address: str
    registered: bool
    nonce: int = Field(description="the nonce the account's next tx must carry")
    balances: list[Balance]


class OrderModel(BaseModel):
    order_id: str = Field(
        description="owner address and the nonce of the placing tx: <address>:<nonce>"
    )
    market: str
    owner: str
    nonce: int
    side: Literal["buy", "sell"]
    type: str
    price: str
    price_ticks: int
    amount: str
    remaining: str
    quantity_lots: int
    remaining_lots: int
    expires_at_ms: int


class Level(BaseModel):
    price: str
    amount: str
    price_ticks: int
    quantity_lots: int


class Book(BaseModel):
    market: str
    sequence: int = Field(description="the block height this book is as of")
    bids: list[Level]
    asks: list[Level]


class TradeModel(BaseModel):
    trade_id: int
    market: str
    price: str
    amount: str
    taker_side: Literal["buy", "sell"]
    maker: str | None = Field(
        default=None, description="null in a permissioned network's public trades"
    )
    taker: str | None = None
    maker_order_id: str | None = None
    taker_order_id: str | None = None
    timestamp_ms: int
    height: int | None = None


class MarketModel(BaseModel):
    symbol: str
    base: str
    quote: str
    tick: str = Field(description="price increment, quote per whole base")
    lot: str = Field(description="size increment, in base")
    min_size: str
    maker_fee_bps: int
    taker_fee_bps: int


class Share(BaseModel):
    validator: int
    name: str
    signature: str


class BlockModel(BaseModel):
    height: int
    hash: str
    view: int
    proposer: int
    timestamp_ms: int
    txs: list[str] = Field(description="tx hashes in the order proposed")
    certificate_view: int
    signatures: list[Share] = Field(
        description="the commit certificate: 2f+1 validators' COMMIT signatures"
    )
    state_root: str


class ValidatorSigning(BaseModel):
    validator: str
    index: int
    last_signed_height: int | None = Field(
        description="The last height this validator was seen signing a COMMIT for (null: not seen "
        "since this node started, nor in the certificates of its last blocks)"
    )


class StatusModel(BaseModel):
    node: str
    mode: str
    chain_id: str
    height: int
    state_root: str
    view: int | None
    primary: int | None
    validator_index: int | None
    validators: list[str]
    peers_connected: list[str]
    mempool_txs: int
    halted: str | None
    signing: list[ValidatorSigning] = Field(description="Per validator, the last height it signed")
    validators_not_signing: list[str] = Field(
        description=f"Validators that signed none of the last {SIGNING_WINDOW_BLOCKS} heights "
        "(out of consensus)"
    )
    fault_margin: int = Field(
        description="How many more validators may stop signing before the chain stops; 0 means "
        "one fault away from stopping (the node then logs a WARNING). Counted over heights, so "
        "it does not move while the chain stands still: see quorum_reachable"
    )
    validators_reachable: list[str] = Field(
        description="Validators this node has a live link to, itself included when it is one"
    )
    quorum: int = Field(description="Validators a block needs (2f + 1)")
    quorum_reachable: bool = Field(
        description="Whether validators_reachable holds a quorum. False: from here the network "
        "cannot commit (txs are admitted and wait); GET /v1/ready is then 503"
    )


_PROBLEM_SCHEMA = Problem.model_json_schema()


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _PROBLEM_SCHEMA}}}


_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": BatchRequest.model_json_schema()},
            "application/octet-stream": {
                "schema": {
                    "type": "string",
                    "format": "binary",
                    "description": "the canonical encoding (bftx.codec) of a list of tx bytes",
                }
            },
        },
    }
}


def create_app(node: Node) -> FastAPI:
    app = FastAPI(
        title="bftx",
        version="1",
        description="A Byzantine-fault-tolerant exchange. Every value shown is committed (final) state.",
        responses={
            400: _problem_response("Bad input: the detail says what was wrong"),
            404: _problem_response("No such resource (market, order, block, path)"),
            401: _problem_response(
                "Permissioned reads: the request is unsigned, badly signed, stale or replayed"
            ),
            403: _problem_response("Permissioned reads: not yours to see (another's account)"),
            429: _problem_response(
                "Too many requests from this identity, or the node sheds load "
                "(overloaded: every tx of the request refused before any check); see Retry-After"
            ),
            413: _problem_response(
                f"The request body is over {limits.api_request_bytes_max} bytes; refused unread"
            ),
        },
        docs_url=None,  # register_docs serves /docs without a CDN
        redoc_url=None,
    )
    register_docs(app)
    register_metrics_pointer(
        app, lambda: f"http://{node.config.metrics_host}:{node.config.metrics_port}/metrics"
    )
    # Starlette runs the middleware added last first: BodyLimit bounds what AccessControl reads.
    app.add_middleware(AccessControl, authenticator=lambda: authenticator_for(node))
    app.add_middleware(BodyLimit)

    refused = Refusals()

    def exchange() -> Exchange:  # read it each time: state transfer may replace it
        return node.application.exchange

    @app.exception_handler(ApiProblem)
    async def on_problem(_request: Request, error: ApiProblem) -> JSONResponse:
        return problem(error.status, error.code, error.detail, error.headers)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return problem(400, "invalid_request", f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        # 400: a body FastAPI could not parse at all (invalid UTF-8, JSON nested past the
        # parser's recursion limit), answered like every other malformed request
        codes = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}
        return problem(
            error.status_code,
            codes.get(error.status_code, "http_error"),
            str(error.detail),
            error.headers,  # 405 carries the Allow header
        )

    @app.exception_handler(ClientDisconnect)
    async def on_disconnect(_request: Request, _error: ClientDisconnect) -> JSONResponse:
        # the client left, or BodyLimit refused its body: nobody reads this answer
        return problem(400, "client_disconnected", "the request body ended early")

    @app.exception_handler(Exception)
    async def on_bug(request: Request, error: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return problem(500, "internal_error", f"the node failed to answer: {type(error).__name__}")

    @app.get(
        "/v1/health",
        summary="Liveness: 200 while the node runs and is not halted",
        responses={503: _problem_response("The node halted; the detail says why")},
    )
    async def health() -> dict[str, str]:
        if node.halted:
            raise ApiProblem(503, "halted", node.halted)
        return {"status": "ok"}

    @app.get(
        "/v1/ready",
        summary="Readiness: 200 while the node is not halted and reaches a quorum of validators",
        responses={
            503: _problem_response(
                "The node halted (`halted`), or it reaches fewer validators than a block needs "
                "(`no_quorum`): what it admits cannot commit until more are reachable"
            )
        },
    )
    async def ready() -> dict[str, Any]:
        if node.halted:
            raise ApiProblem(503, "halted", node.halted)
        reach = _quorum_reach(node)
        reachable, quorum = len(reach["validators_reachable"]), reach["quorum"]
        if not reach["quorum_reachable"]:
            raise ApiProblem(
                503,
                "no_quorum",
                f"this node reaches {reachable} of {len(node.genesis.validators)} validators "
                f"(itself included) and a block needs {quorum}: txs are admitted but cannot "
                "commit until more validators are reachable",
            )
        return {"status": "ready", "validators_reachable": reachable, "quorum": quorum}

    @app.get(
        "/v1/status", response_model=StatusModel, summary="Height, view, primary, peers, validators"
    )
    async def status() -> dict[str, Any]:
        return {**node.status(), **_quorum_reach(node)}

    @app.post("/v1/txs", response_model=Admission, summary="Submit one signed tx")
    async def submit(request: SubmitRequest) -> Admission:
        intake = intake_for(node)
        admission = _admit(node, intake, _decode_tx_text(request.tx), refused)
        if admission.code in _LOAD_CODES:
            raise _overloaded(admission.message, intake)
        await _hand_to_peers(node, admission.accepted)
        return admission

    @app.post(
        "/v1/txs/batch",
        response_model=BatchAdmission,
        summary="Submit many signed txs (JSON, or application/octet-stream: the canonical encoding of a list of tx bytes)",
        responses={415: _problem_response("Neither JSON nor application/octet-stream")},
        openapi_extra=_BATCH_BODY,
    )
    async def submit_batch(request: Request) -> BatchAdmission:
        txs = await _read_batch(request)
        intake = intake_for(node)
        _refuse_if_halted(node)
        if txs and intake.refuse_batch(txs):
            raise _overloaded(OVERLOADED_MESSAGE, intake)
        results: list[Admission] = []
        for first in range(0, len(txs), limits.intake_chunk_txs):
            if first:
                await asyncio.sleep(0)  # let consensus messages waiting on the loop in
            chunk = txs[first : first + limits.intake_chunk_txs]
            results += [_admit(node, intake, data, refused) for data in chunk]
        if results and all(result.code in _LOAD_CODES for result in results):
            raise _overloaded(results[0].message, intake)
        accepted = sum(1 for r in results if r.accepted)
        await _hand_to_peers(node, accepted > 0)
        return BatchAdmission(results=results, accepted=accepted)

    @app.get("/v1/txs/batch", include_in_schema=False)
    async def batch_is_post_only() -> None:  # else GET would match /v1/txs/{tx_hash}
        raise StarletteHTTPException(405, "Method Not Allowed", {"Allow": "POST"})

    @app.get(
        "/v1/txs/{tx_hash}",
        response_model=TxStatus,
        summary="Pending, committed (with its result), rejected at submission (with its code) or unknown",
    )
    async def tx_status(
        http: Request, tx_hash: Annotated[str, Path(pattern=_HEX_HASH)]
    ) -> TxStatus:
        digest = bytes.fromhex(tx_hash.removeprefix("0x"))
        row = node.store.tx(digest) if node.store else None
        if row is not None:
            code = Code(row.code)
            return TxStatus(
                tx_hash=digest.hex(),
                status="committed",
                height=row.height,
                position=row.position,
                code=code.slug,
                message=CODE_DESCRIPTIONS[code],
                events=_receipt_events(node, row.height, row.position, http.scope),
            )
        if node.mempool is not None and digest in node.mempool:
            return TxStatus(tx_hash=digest.hex(), status="pending")
        refusal = refused.get(digest)
        if refusal is not None:
            return TxStatus(
                tx_hash=digest.hex(),
                status="rejected",
                code=refusal.slug,
                message=CODE_DESCRIPTIONS[refusal],
            )
        return TxStatus(tx_hash=digest.hex(), status="unknown")

    @app.get(
        "/v1/markets",
        response_model=list[MarketModel],
        summary="Markets and their increments and fees",
    )
    async def markets() -> list[MarketModel]:
        state = exchange().state
        result = []
        for market in state.markets.values():
            base, quote = state.assets[market.base], state.assets[market.quote]
            result.append(
                MarketModel(
                    symbol=market.symbol,
                    base=market.base,
                    quote=market.quote,
                    tick=format_price(1, market, base, quote),
                    lot=format_size(1, market, base),
                    min_size=format_size(market.min_lots, market, base),
                    maker_fee_bps=market.maker_fee_bps,
                    taker_fee_bps=market.taker_fee_bps,
                )
            )
        return result

    @app.get(
        "/v1/markets/{symbol}/book", response_model=Book, summary="Aggregated order book levels"
    )
    async def book(
        symbol: Annotated[
            str, Path(pattern=_SYMBOL, description="e.g. BTC-USD", examples=["BTC-USD"])
        ],
        depth: Annotated[int, Query(ge=1, le=limits.book_depth_levels_max)] = 50,
    ) -> Book:
        current = exchange()
        market, base, quote = _market(current, symbol)
        levels = current.depth(market.symbol, depth)
        assert levels is not None

        def convert(entries: tuple[tuple[int, int], ...]) -> list[Level]:
            return [
                Level(
                    price=format_price(p, market, base, quote),
                    amount=format_size(q, market, base),
                    price_ticks=p,
                    quantity_lots=q,
                )
                for p, q in entries
            ]

        return Book(
            market=market.symbol,
            sequence=levels.height,
            bids=convert(levels.bids),
            asks=convert(levels.asks),
        )

    @app.get(
        "/v1/markets/{symbol}/trades",
        response_model=list[TradeModel],
        summary="Recent trades, newest first",
    )
    async def trades(
        symbol: Annotated[
            str, Path(pattern=_SYMBOL, description="e.g. BTC-USD", examples=["BTC-USD"])
        ],
        limit: Annotated[int, Query(ge=1, le=limits.recent_trades_max)] = 100,
    ) -> list[TradeModel]:
        current = exchange()
        market, base, quote = _market(current, symbol)
        rows = node.store.trades(market.symbol, limit) if node.store else []
        anonymous = node.genesis.access.permissioned  # public data names no participant
        return [_trade_model(row, market, base, quote, anonymous) for row in rows]

    @app.get(
        "/v1/accounts/{address}",
        response_model=AccountView,
        summary="Balances (available and locked) and nonce",
    )
    async def account(address: Annotated[str, Path(pattern=_HEX_ADDRESS)]) -> AccountView:
        current = exchange()
        owner = bytes.fromhex(address.removeprefix("0x"))
        balances = []
        for symbol, balance in current.balances(owner).items():
            decimals = current.state.assets[symbol].decimals
            balances.append(
                Balance(
                    asset=symbol,
                    available=format_amount(balance.available, decimals),
                    locked=format_amount(balance.locked, decimals),
                    available_units=str(balance.available),
                    locked_units=str(balance.locked),
                )
            )
        return AccountView(
            address=owner.hex(),
            registered=current.is_registered(owner),
            nonce=current.nonce(owner),
            balances=balances,
        )

    @app.get(
        "/v1/accounts/{address}/trades",
        response_model=list[TradeModel],
        summary="An account's trades in a market, newest first",
        responses={
            503: _problem_response(
                "catching_up: the trades-by-account index is being built; retry after Retry-After"
            )
        },
    )
    async def account_trades(
        address: Annotated[str, Path(pattern=_HEX_ADDRESS)],
        market: Annotated[
            str, Query(pattern=_SYMBOL, description="e.g. BTC-USD", examples=["BTC-USD"])
        ],
        limit: Annotated[int, Query(ge=1, le=limits.recent_trades_max)] = 100,
    ) -> list[TradeModel]:
        found, base, quote = _market(exchange(), market)
        owner = bytes.fromhex(address.removeprefix("0x"))
        try:
            rows = node.store.trades(found.symbol, limit, account=owner) if node.store else []
        except IndexCatchingUp as error:
            raise ApiProblem(503, "catching_up", str(error), {"Retry-After": "5"}) from error
        return [_trade_model(row, found, base, quote) for row in rows]

    @app.get(
        "/v1/accounts/{address}/orders",
        response_model=list[OrderModel],
        summary="Open orders of an account",
    )
    async def open_orders(address: Annotated[str, Path(pattern=_HEX_ADDRESS)]) -> list[OrderModel]:
        current = exchange()
        owner = bytes.fromhex(address.removeprefix("0x"))
        return [_order_model(current, order) for order in current.open_orders(owner)]

    @app.get(
        "/v1/accounts/{address}/orders/{nonce}", response_model=OrderModel, summary="One open order"
    )
    async def order(
        address: Annotated[str, Path(pattern=_HEX_ADDRESS)],
        nonce: Annotated[int, Path(ge=0, le=limits.nonce_max)],
    ) -> OrderModel:
        current = exchange()
        found = current.order(bytes.fromhex(address.removeprefix("0x")), nonce)
        if found is None:
            raise ApiProblem(
                404,
                "unknown_order",
                f"no open order {address}:{nonce} (it may be filled or cancelled)",
            )
        return _order_model(current, found)

    @app.get(
        "/v1/blocks/latest",
        response_model=BlockModel,
        summary="The latest committed block with its certificate",
    )
    async def latest_block() -> BlockModel:
        if node.height == 0:
            raise ApiProblem(404, "unknown_block", "no block is committed yet")
        return _block_model(node, node.height)

    @app.get(
        "/v1/blocks/{height}",
        response_model=BlockModel,
        summary="A committed block with its commit certificate",
    )
    async def block(height: Annotated[int, Path(ge=1, le=2**62)]) -> BlockModel:
        return _block_model(node, height)

    register_contract_routes(app, node, exchange, ApiProblem, _problem_response)
    register_interchain_routes(app, node, exchange, ApiProblem)
    register_websocket(app, node)
    return app


def problem(
    status: int, code: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        problem_document(status, code, detail),
        status_code=status,
        media_type=PROBLEM,
        headers=headers,
    )


def event_to_json(event: Event) -> dict[str, Any]:
    """An exchange event as JSON: snake_case kind, bytes in hex, enums by name, integers as they are."""
    document: dict[str, Any] = {"kind": _EVENT_KINDS[type(event)]}
    for name, value in ((f.name, getattr(event, f.name)) for f in fields(event)):
        if isinstance(value, bytes):
            document[name] = value.hex()
        elif isinstance(value, IntEnum):
            document[name] = value.name.lower()
        else:
            document[name] = value
    return document


_EVENT_KINDS = {
    Registered: "registered",
    Deposited: "deposited",
    Withdrawn: "withdrawn",
    Transferred: "transferred",
    OrderPlaced: "order_placed",
    Trade: "trade",
    OrderClosed: "order_closed",
    HtlcLocked: "htlc_locked",
    HtlcClaimed: "htlc_claimed",
    HtlcRefunded: "htlc_refunded",
    DealProposed: "deal_proposed",
    DealFunded: "deal_funded",
    DealSettled: "deal_settled",
    DealRefunded: "deal_refunded",
    DealClosed: "deal_closed",
    IbcClientCreated: "ibc_client_created",
    IbcClientUpdated: "ibc_client_updated",
    IbcClientFrozen: "ibc_client_frozen",
    IbcClientRecovered: "ibc_client_recovered",
    IbcPacketSent: "ibc_packet_sent",
    IbcPacketReceived: "ibc_packet_received",
    IbcPacketAcknowledged: "ibc_packet_acknowledged",
    IbcPacketRefunded: "ibc_packet_refunded",
}


def _receipt_events(
    node: Node, height: int, position: int, scope: MutableMapping[str, Any]
) -> list[dict[str, Any]]:
    """What a committed tx did; in a permissioned network only its sender and auditors see it."""
    stored = node.store.block(height) if node.store else None
    if stored is None:
        return []
    receipts = decode_block_result(stored.result).receipts
    if position >= len(receipts):
        return []
    receipt = receipts[position]
    if not may_see_account(scope, node.genesis.access, receipt.sender):
        return []
    return [event_to_json(event) for event in receipt.events]


class Refusals:
    """The txs this node refused at submission, newest kept, so their status can say why."""

    def __init__(self, size_max: int = REFUSED_TXS_REMEMBERED_MAX) -> None:
        self._codes: OrderedDict[bytes, Code] = OrderedDict()
        self._size_max = size_max

    def remember(self, tx_hash: bytes, code: Code) -> None:
        self._codes[tx_hash] = code
        self._codes.move_to_end(tx_hash)
        while len(self._codes) > self._size_max:
            self._codes.popitem(last=False)

    def get(self, tx_hash: bytes) -> Code | None:
        return self._codes.get(tx_hash)


_LOAD_CODES = (OVERLOADED, Code.MEMPOOL_FULL.slug)  # refused for load, not for what the tx is


async def _hand_to_peers(node: Node, any_accepted: bool) -> None:
    """An acknowledged tx has left this node: gossip it now and let the peer writers run."""
    if any_accepted:
        node.send_admitted_txs()
        await asyncio.sleep(0)


def _overloaded(message: str, intake: IntakeControl) -> ApiProblem:
    return ApiProblem(429, OVERLOADED, message, {"Retry-After": str(intake.retry_after_s())})


def _refuse_if_halted(node: Node) -> None:
    if node.halted:
        raise ApiProblem(503, "halted", f"this node halted and accepts no txs: {node.halted}")


def _admit(node: Node, intake: IntakeControl, data: bytes, refused: Refusals) -> Admission:
    _refuse_if_halted(node)
    admitted = intake.admit(data)
    if admitted is None:
        return Admission(tx_hash=None, accepted=False, code=OVERLOADED, message=OVERLOADED_MESSAGE)
    if admitted.code is not Code.OK and admitted.tx_hash is not None:
        refused.remember(admitted.tx_hash, admitted.code)
    return Admission(
        tx_hash=admitted.tx_hash.hex() if admitted.tx_hash else None,
        accepted=admitted.code is Code.OK,
        code=admitted.code.slug,
        message=_refusal_message(node, admitted.code, admitted.tx_hash),
    )


def _refusal_message(node: Node, code: Code, tx_hash: bytes | None) -> str:
    """The code's description; for a resubmitted tx, that its first copy already committed."""
    if code in (Code.NONCE_USED, Code.DUPLICATE_TX) and tx_hash is not None and node.store:
        row = node.store.tx(tx_hash)
        if row is not None:
            return (
                f"this very tx is already committed at height {row.height} (its first copy "
                f"counts; this copy is not admitted); GET /v1/txs/{tx_hash.hex()} has its result"
            )
    return CODE_DESCRIPTIONS[code]


def _decode_tx_text(text: str) -> bytes:
    """A tx from its JSON text; exactly what the ``_TX_TEXT`` pattern admits."""
    if text.startswith("0x"):
        digits = text[2:]
        if not _HEX_DIGITS.fullmatch(digits) or len(digits) % 2:
            raise ApiProblem(
                400, "invalid_encoding", "a hex tx is 0x followed by an even number of hex digits"
            )
        data = bytes.fromhex(digits)
    else:
        try:
            data = base64.b64decode(text, validate=True)
        except (ValueError, binascii.Error) as error:
            raise ApiProblem(
                400,
                "invalid_encoding",
                f"tx must be padded base64, or hex with a 0x prefix ({error})",
            ) from error
    if not data or len(data) > limits.tx_bytes_max:
        raise ApiProblem(
            400, "malformed", f"a tx is 1 to {limits.tx_bytes_max} bytes, this one {len(data)}"
        )
    if not _TX_TEXT_PATTERN.fullmatch(text):  # what b64decode tolerates beyond the pattern
        raise ApiProblem(
            400, "invalid_encoding", "tx must be padded base64 (groups of 4 characters)"
        )
    return data


async def _read_batch(request: Request) -> list[bytes]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if kind == "application/octet-stream":
        try:
            value = codec.decode(body, limits.block_bytes_max, max_items=limits.txs_per_block_max)
            items = codec.expect_list(value, limits.txs_per_block_max, "batch")
            return [
                codec.expect_bytes(item, "batch tx", max_size=limits.tx_bytes_max) for item in items
            ]
        except DecodeError as error:
            raise ApiProblem(400, "malformed", f"binary batch: {error}") from error
    if kind not in ("application/json", ""):
        raise ApiProblem(
            415, "unsupported_media_type", "send application/json or application/octet-stream"
        )
    try:
        batch = BatchRequest.model_validate_json(body)
    except ValueError as error:
        raise ApiProblem(
            400, "invalid_request", f'expected {{"txs": [...]}}: {str(error)[:200]}'
        ) from error
    return [_decode_tx_text(text) for text in batch.txs]


def _market(exchange: Exchange, symbol: str) -> tuple[Market, Asset, Asset]:
    market = exchange.state.markets.get(symbol.replace("-", "/").upper())
    if market is None:
        raise ApiProblem(404, "unknown_market", f"no market {symbol}; see GET /v1/markets")
    return market, exchange.state.assets[market.base], exchange.state.assets[market.quote]


def _trade_model(
    row: TradeRow, market: Market, base: Asset, quote: Asset, anonymous: bool = False
) -> TradeModel:
    if anonymous:
        return TradeModel(
            trade_id=row.trade_id,
            market=row.market,
            price=format_price(row.price_ticks, market, base, quote),
            amount=format_size(row.quantity_lots, market, base),
            taker_side="buy" if row.taker_side == 0 else "sell",
            timestamp_ms=row.timestamp_ms,
            height=row.height,
        )
    return TradeModel(
        trade_id=row.trade_id,
        market=row.market,
        price=format_price(row.price_ticks, market, base, quote),
        amount=format_size(row.quantity_lots, market, base),
        taker_side="buy" if row.taker_side == 0 else "sell",
        maker=row.maker.hex(),
        taker=row.taker.hex(),
        maker_order_id=f"{row.maker.hex()}:{row.maker_nonce}",
        taker_order_id=f"{row.taker.hex()}:{row.taker_nonce}",
        timestamp_ms=row.timestamp_ms,
        height=row.height,
    )


def _order_model(exchange: Exchange, order: OrderView) -> OrderModel:
    market = exchange.state.markets[order.market]
    base, quote = exchange.state.assets[market.base], exchange.state.assets[market.quote]
    return OrderModel(
        order_id=f"{order.owner.hex()}:{order.nonce}",
        market=order.market,
        owner=order.owner.hex(),
        nonce=order.nonce,
        side="buy" if order.side == 0 else "sell",
        type=order.order_type.name.lower(),
        price=format_price(order.price_ticks, market, base, quote),
        price_ticks=order.price_ticks,
        amount=format_size(order.quantity_lots, market, base),
        remaining=format_size(order.remaining_lots, market, base),
        quantity_lots=order.quantity_lots,
        remaining_lots=order.remaining_lots,
        expires_at_ms=order.expires_at_ms,
    )


def _quorum_reach(node: Node) -> dict[str, Any]:
    """The validators this node has a live link to (itself included), against the quorum.

    A wall-clock view, unlike the signing monitor's: when the chain stops, no height
    passes to age the validators that stopped signing, but their links are down."""
    connected = node.network.connected_peers() if node.network else frozenset()
    reachable = [
        validator.name
        for index, validator in enumerate(node.genesis.validators)
        if index == node.validator_index or validator.public_key in connected
    ]
    quorum = node.validators.quorum
    return {
        "validators_reachable": reachable,
        "quorum": quorum,
        "quorum_reachable": len(reachable) >= quorum,
    }


def _block_model(node: Node, height: int) -> BlockModel:
    found = node.stored_block(height) if 0 < height <= node.height else None
    if found is None:
        raise ApiProblem(
            404, "unknown_block", f"no committed block {height} here (latest is {node.height})"
        )
    block, certificate, _result = found
    stored = node.store.block(height) if node.store else None
    names = [v.name for v in node.genesis.validators]
    return BlockModel(
        height=block.height,
        hash=block.digest.hex(),
        view=block.header.view,
        proposer=block.header.proposer,
        timestamp_ms=block.header.timestamp_ms,
        txs=[crypto.sha256(tx).hex() for tx in block.txs],
        certificate_view=certificate.view,
        signatures=[
            Share(validator=s.signer, name=names[s.signer], signature=s.signature.hex())
            for s in certificate.shares
        ],
        state_root=stored.state_root.hex() if stored else "",
    )
