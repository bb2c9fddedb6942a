"""The gRPC service ``bftx.v1.Bftx`` (grpc.aio) over a node's query and submission surface.

Owns the translation between protobuf messages and the node's surface, the
bulk submission stream, and the server streams (blocks, trades, book diffs),
which read the node's one `Feed` like the WebSocket does. Each stream has a
bounded queue; a client too slow to drain it gets RESOURCE_EXHAUSTED.
Errors carry the stable REST code: ``"<code>: <message>"``.

Must never: show uncommitted state, or do per-tx awaits on the bulk path
(a client sends batches; each batch is admitted in one go).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any, NoReturn

import grpc

from bftx import crypto, limits
from bftx.api.access import AccessError, Identity, authenticator_for
from bftx.api.contracts import build_proof, deal_model, htlc_model, light_block
from bftx.api.feed import (
    BOOK_LEVELS,
    Feed,
    Payload,
    Topic,
    Update,
    balances_payload,
    feed_for,
    find_market,
    market_label,
)
from bftx.api.grpc import bftx_pb2 as pb
from bftx.api.intake import OVERLOADED, OVERLOADED_MESSAGE, intake_for
from bftx.api.interchain import (
    IbcClientModel,
    IbcPacketModel,
    client_model,
    latest_time_ms,
    list_packets,
)
from bftx.api.units import format_price, format_size
from bftx.errors import CODE_DESCRIPTIONS, Code, ConfigError
from bftx.exchange.events import decode_block_result
from bftx.exchange.keys import is_client_id
from bftx.node.runtime import Node

SERVICE_NAME = "bftx.v1.Bftx"
STREAM_QUEUE_MESSAGES_MAX = 1_024  # per server stream; a client this far behind is ended
REJECTIONS_REPORTED_MAX = 1_000  # rejections listed one by one in a bulk submission summary


log = logging.getLogger(__name__)


class _StreamEnded(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code, self.details = code, details


class _Stream:
    """One server stream's subscription: a bounded queue the feed fills and the handler drains."""

    def __init__(self, feed: Feed, topic: Topic) -> None:
        self._feed = feed
        self._topic = topic
        self._queue: asyncio.Queue[Update | None] = asyncio.Queue(STREAM_QUEUE_MESSAGES_MAX)
        self._ended: _StreamEnded | None = None

    def start(self) -> Update | None:
        return self._feed.subscribe(self._topic, self)

    def deliver(self, update: Update) -> None:
        if self._ended is not None:
            return
        try:
            self._queue.put_nowait(update)
        except asyncio.QueueFull:
            self._finish(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"slow_consumer: {STREAM_QUEUE_MESSAGES_MAX} messages unsent; resubscribe",
            )

    def end(self, reason: str) -> None:
        self._finish(grpc.StatusCode.UNAVAILABLE, f"stream_ended: {reason}")

    def _finish(self, code: grpc.StatusCode, details: str) -> None:
        self._ended = _StreamEnded(code, details)
        self._feed.remove(self)
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def updates(self) -> AsyncIterator[Update]:
        try:
            while (update := await self._queue.get()) is not None:
                yield update
            assert self._ended is not None
            raise self._ended
        finally:
            self._feed.remove(self)


class BftxService:
    """The servicer; `bftx_pb2_grpc.add_BftxServicer_to_server` finds its methods by name."""

    def __init__(self, node: Node) -> None:
        self._node = node

    @property
    def node(self) -> Node:
        return self._node

    # --- unary queries -----------------------------------------------------------------

    async def GetStatus(self, request: pb.GetStatusRequest, context: Any) -> pb.Status:
        status: dict[str, Any] = dict(self._node.status())
        status["halted"] = status["halted"] or ""
        fields = pb.Status.DESCRIPTOR.fields_by_name
        return pb.Status(**{k: v for k, v in status.items() if v is not None and k in fields})

    async def GetTx(self, request: pb.GetTxRequest, context: Any) -> pb.TxStatus:
        digest = request.tx_hash
        if len(digest) != 32:
            await _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, "invalid_request", "tx_hash is 32 bytes"
            )
        node = self._node
        row = node.store.tx(digest) if node.store else None
        if row is not None:
            code = Code(row.code)
            return pb.TxStatus(
                tx_hash=digest,
                state=pb.TxStatus.COMMITTED,
                height=row.height,
                position=row.position,
                code=code.slug,
                message=CODE_DESCRIPTIONS[code],
            )
        pending = node.mempool is not None and digest in node.mempool
        return pb.TxStatus(
            tx_hash=digest, state=pb.TxStatus.PENDING if pending else pb.TxStatus.UNKNOWN
        )

    async def GetBook(self, request: pb.GetBookRequest, context: Any) -> pb.Book:
        exchange = self._node.application.exchange
        symbol = await self._market(request.market, context)
        if request.depth > limits.book_depth_levels_max:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "invalid_request",
                f"depth is at most {limits.book_depth_levels_max}",
            )
        depth = exchange.depth(symbol, request.depth or BOOK_LEVELS)
        assert depth is not None
        market = exchange.state.markets[symbol]
        base, quote = exchange.state.assets[market.base], exchange.state.assets[market.quote]

        def levels(entries: tuple[tuple[int, int], ...]) -> list[pb.Level]:
            return [
                pb.Level(
                    price=format_price(p, market, base, quote), amount=format_size(q, market, base)
                )
                for p, q in entries
            ]

        return pb.Book(
            market=market_label(symbol),
            sequence=depth.height,
            bids=levels(depth.bids),
            asks=levels(depth.asks),
        )

    async def GetAccount(self, request: pb.GetAccountRequest, context: Any) -> pb.Account:
        if len(request.address) != 20:
            await _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, "invalid_request", "address is 20 bytes"
            )
        exchange = self._node.application.exchange
        owner = request.address
        if not _may_see_account(self._node, owner):
            await _abort(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                "forbidden",
                "an account is visible to its owner and to auditors only",
            )
        return pb.Account(
            address=owner,
            registered=exchange.is_registered(owner),
            nonce=exchange.nonce(owner),
            balances=[pb.Balance(**entry) for entry in balances_payload(exchange, owner)],
            height=exchange.height,
        )

    async def GetBlock(self, request: pb.GetBlockRequest, context: Any) -> pb.Block:
        node = self._node
        height = request.height or node.height
        found = node.stored_block(height) if 0 < height <= node.height else None
        if found is None:
            await _abort(
                context,
                grpc.StatusCode.NOT_FOUND,
                "unknown_block",
                f"no committed block {height} here (latest is {node.height})",
            )
        assert found is not None
        block, certificate, encoded_result = found
        result = decode_block_result(encoded_result)
        names = [v.name for v in node.genesis.validators]
        return pb.Block(
            height=block.height,
            hash=block.digest,
            timestamp_ms=result.timestamp_ms,
            tx_count=len(block.txs),
            accepted_count=sum(1 for receipt in result.receipts if receipt.code is Code.OK),
            state_root=result.state_root,
            certificate_view=certificate.view,
            signers=[names[share.signer] for share in certificate.shares],
            tx_hashes=[receipt.tx_hash for receipt in result.receipts],
        )

    # --- contracts and proofs -----------------------------------------------------------

    async def GetHtlc(self, request: pb.GetContractRequest, context: Any) -> pb.Htlc:
        await _check_contract_id(request.id, context)
        exchange = self._node.application.exchange
        htlc = exchange.htlc(request.id)
        if htlc is None:
            await _abort(context, grpc.StatusCode.NOT_FOUND, "unknown_contract", "no such HTLC")
        assert htlc is not None
        await self._check_parties(context, (htlc.sender, htlc.receiver))
        view = htlc_model(exchange, htlc)
        return pb.Htlc(
            id=htlc.contract_id,
            sender=htlc.sender,
            receiver=htlc.receiver,
            asset=htlc.asset,
            amount=view.amount,
            hashlock=htlc.hashlock,
            expiry_ms=htlc.expiry_ms,
            status=view.status,
            preimage=htlc.preimage,
        )

    async def GetDeal(self, request: pb.GetContractRequest, context: Any) -> pb.Deal:
        await _check_contract_id(request.id, context)
        exchange = self._node.application.exchange
        deal = exchange.deal(request.id)
        if deal is None:
            await _abort(context, grpc.StatusCode.NOT_FOUND, "unknown_contract", "no such deal")
        assert deal is not None
        await self._check_parties(context, (deal.party_a, deal.party_b))
        view = deal_model(exchange, deal)
        return pb.Deal(
            id=deal.contract_id,
            party_a=deal.party_a,
            party_b=deal.party_b,
            deliver_asset=deal.deliver_asset,
            deliver_amount=view.deliver_amount,
            pay_asset=deal.pay_asset,
            pay_amount=view.pay_amount,
            deadline_ms=deal.deadline_ms,
            funded_a=deal.funded_a,
            funded_b=deal.funded_b,
            status=view.status,
        )

    async def _check_parties(self, context: Any, parties: tuple[bytes, ...]) -> None:
        if not any(_may_see_account(self._node, party) for party in parties):
            await _abort(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                "forbidden",
                "a contract is visible to its parties and auditors only",
            )

    async def GetLightBlock(self, request: pb.GetLightBlockRequest, context: Any) -> pb.LightBlock:
        try:
            found = light_block(self._node, request.height, _Refusal)
        except _Refusal as refusal:
            await refusal.abort(context)
            raise
        return pb.LightBlock(
            height=found.height,
            header=bytes.fromhex(found.header),
            certificate=bytes.fromhex(found.certificate),
            state_height=found.state_height,
            state_root=bytes.fromhex(found.state_root),
        )

    async def GetProof(self, request: pb.GetProofRequest, context: Any) -> pb.Proof:
        height = request.height if request.HasField("height") else None
        exchange = self._node.application.exchange
        try:
            found = build_proof(
                self._node,
                exchange,
                request.key,
                height,
                _Refusal,
                lambda owner: _may_see_account(self._node, owner),
            )
        except _Refusal as refusal:
            await refusal.abort(context)
            raise
        return pb.Proof(
            key=found.key,
            height=found.height,
            present=found.present,
            value=bytes.fromhex(found.value or ""),
            proof=bytes.fromhex(found.proof),
            header=bytes.fromhex(found.header),
            certificate=bytes.fromhex(found.certificate),
            certified_height=found.certified_height,
        )

    # --- interchain ---------------------------------------------------------------------

    async def ListIbcClients(
        self, request: pb.ListIbcClientsRequest, context: Any
    ) -> pb.IbcClientList:
        now = latest_time_ms(self._node)
        clients = self._node.application.exchange.state.interchain.clients
        return pb.IbcClientList(
            clients=[_ibc_client(client_model(c, now)) for _id, c in sorted(clients.items())]
        )

    async def GetIbcClient(self, request: pb.GetIbcClientRequest, context: Any) -> pb.IbcClient:
        await _check_client_id("client_id", request.client_id, context)
        clients = self._node.application.exchange.state.interchain.clients
        found = clients.get(request.client_id)
        if found is None:
            await _abort(
                context,
                grpc.StatusCode.NOT_FOUND,
                "unknown_client",
                f"no light client {request.client_id[:32]!r} on this chain",
            )
        assert found is not None
        return _ibc_client(client_model(found, latest_time_ms(self._node)))

    async def ListIbcPackets(
        self, request: pb.ListIbcPacketsRequest, context: Any
    ) -> pb.IbcPacketList:
        kind = request.kind or "commitment"
        if kind not in ("commitment", "receipt", "ack"):
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "invalid_request",
                "kind is commitment, receipt or ack",
            )
        for name in ("client_id", "source_client"):
            if request.HasField(name):
                await _check_client_id(name, getattr(request, name), context)
        limit = min(request.limit or limits.packets_query_max, limits.packets_query_max)
        found = list_packets(
            self._node.application.exchange,
            request.client_id if request.HasField("client_id") else None,
            kind,
            limit,
            request.source_client if request.HasField("source_client") else None,
            request.min_sequence,
        )
        return pb.IbcPacketList(packets=[_ibc_packet(entry) for entry in found])

    # --- bulk submission ---------------------------------------------------------------

    async def SubmitTxs(
        self, requests: AsyncIterator[pb.TxBatch], context: Any
    ) -> pb.SubmitSummary:
        received = accepted = 0
        codes: Counter[str] = Counter()
        rejections: list[pb.Rejection] = []
        intake = intake_for(self._node)
        async for batch in requests:
            if len(batch.txs) > limits.txs_per_block_max:
                await _abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "invalid_request",
                    f"a batch holds at most {limits.txs_per_block_max} txs",
                )
            for position, data in enumerate(batch.txs):
                if position and position % limits.intake_chunk_txs == 0:
                    await asyncio.sleep(0)  # let consensus messages waiting on the loop in
                admitted = intake.admit(data)
                code = OVERLOADED if admitted is None else admitted.code.slug
                codes[code] += 1
                if admitted is not None and admitted.code is Code.OK:
                    accepted += 1
                elif len(rejections) < REJECTIONS_REPORTED_MAX:
                    tx_hash = admitted.tx_hash if admitted is not None else None
                    rejections.append(
                        pb.Rejection(index=received, tx_hash=tx_hash or b"", code=code)
                    )
                received += 1
            if accepted:
                self._node.send_admitted_txs()  # acknowledged txs leave this node first
                await asyncio.sleep(0)
        refused_for_load = codes[OVERLOADED] + codes[Code.MEMPOOL_FULL.slug]
        if received and refused_for_load == received:
            await _abort(
                context, grpc.StatusCode.RESOURCE_EXHAUSTED, OVERLOADED, OVERLOADED_MESSAGE
            )
        return pb.SubmitSummary(
            received=received,
            accepted=accepted,
            codes=dict(codes),
            rejections=rejections,
            rejections_truncated=received - accepted > len(rejections),
        )

    # --- server streams ----------------------------------------------------------------

    async def StreamBlocks(
        self, request: pb.StreamBlocksRequest, context: Any
    ) -> AsyncIterator[pb.Block]:
        async for message in self._stream(("blocks", ""), _block_message, context):
            yield message

    async def StreamTrades(
        self, request: pb.StreamTradesRequest, context: Any
    ) -> AsyncIterator[pb.TradeBatch]:
        symbol = await self._market(request.market, context)
        async for message in self._stream(("trades", symbol), _trades_message, context):
            yield message

    async def StreamBook(
        self, request: pb.StreamBookRequest, context: Any
    ) -> AsyncIterator[pb.BookUpdate]:
        symbol = await self._market(request.market, context)
        async for message in self._stream(("book", symbol), _book_message, context):
            yield message

    async def _stream(self, topic: Topic, encode: Any, context: Any) -> AsyncIterator[Any]:
        stream = _Stream(feed_for(self._node), topic)
        first = stream.start()
        if first is not None:
            yield encode(first.payload)
        try:
            async for update in stream.updates():
                yield update.encoded("protobuf", encode)
        except _StreamEnded as ended:
            await context.abort(ended.code, ended.details)

    async def _market(self, text: str, context: Any) -> str:
        symbol = find_market(self._node.application.exchange, text)
        if symbol is None:
            await _abort(
                context, grpc.StatusCode.NOT_FOUND, "unknown_market", f"no market {text[:32]!r}"
            )
        assert symbol is not None
        return symbol


_REFUSAL_STATUS = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
}


class _Refusal(Exception):
    """A refusal from the shared REST/gRPC helpers (HTTP-style status), turned into a gRPC one."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    async def abort(self, context: Any) -> NoReturn:
        status = _REFUSAL_STATUS.get(self.status, grpc.StatusCode.INVALID_ARGUMENT)
        await _abort(context, status, self.code, self.message)


async def _abort(context: Any, status: grpc.StatusCode, code: str, message: str) -> NoReturn:
    await context.abort(status, f"{code}: {message}")
    raise AssertionError("unreachable: abort raises")


async def _check_contract_id(contract_id: bytes, context: Any) -> None:
    """INVALID_ARGUMENT for an id that cannot name a contract (REST: its path pattern)."""
    if len(contract_id) != crypto.HASH_BYTES:
        await _abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
            f"id is {crypto.HASH_BYTES} bytes, not {len(contract_id)}",
        )


async def _check_client_id(name: str, text: str, context: Any) -> None:
    """INVALID_ARGUMENT for a light client id not of the form client-<n> (REST: a 400)."""
    if not is_client_id(text):
        await _abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
            f"{name} must read client-<n>",
        )


def _ibc_client(model: IbcClientModel) -> pb.IbcClient:
    return pb.IbcClient(
        id=model.id,
        chain_id=model.chain_id,
        status=model.status,
        latest_height=model.latest_height,
        latest_time_ms=model.latest_time_ms,
        trusting_period_ms=model.trusting_period_ms,
        frozen_height=model.frozen_height,
        next_sequence=model.next_sequence,
        validators=[bytes.fromhex(key) for key in model.validators],
        heights=model.heights,
    )


def _ibc_packet(entry: IbcPacketModel) -> pb.IbcPacket:
    packet = entry.packet
    message = pb.IbcPacket(
        source_chain_id=packet["source_chain_id"],
        source_client=packet["source_client"],
        destination_chain_id=packet["destination_chain_id"],
        destination_client=packet["destination_client"],
        sequence=entry.sequence,
        sender=bytes.fromhex(packet["sender"]),
        receiver=bytes.fromhex(packet["receiver"]),
        asset=packet["asset"],
        amount=entry.amount,
        amount_units=packet["amount_units"],
        decimals=packet["decimals"],
        timeout_ms=entry.timeout_ms,
        commitment_key=entry.commitment_key,
        receipt_key=entry.receipt_key,
        ack_key=entry.ack_key,
    )
    if entry.ack is not None:
        message.ack_error = entry.ack["error"]
        message.ack = bytes.fromhex(entry.ack["hex"])
    return message


def _levels(entries: list[list[str]]) -> list[pb.Level]:
    return [pb.Level(price=price, amount=amount) for price, amount in entries]


def _book_message(payload: Payload) -> pb.BookUpdate:
    snapshot = payload["type"] == "book_snapshot"
    return pb.BookUpdate(
        kind=pb.BookUpdate.SNAPSHOT if snapshot else pb.BookUpdate.DIFF,
        market=payload["market"],
        sequence=payload["sequence"],
        previous_sequence=payload.get("previous_sequence", 0),
        bids=_levels(payload["bids"]),
        asks=_levels(payload["asks"]),
    )


def _trades_message(payload: Payload) -> pb.TradeBatch:
    return pb.TradeBatch(
        market=payload["market"],
        height=payload["height"],
        trades=[pb.TradeInfo(**trade) for trade in payload["trades"]],
    )


def _block_message(payload: Payload) -> pb.Block:
    certificate = payload["certificate"]
    return pb.Block(
        height=payload["height"],
        hash=bytes.fromhex(payload["hash"]),
        timestamp_ms=payload["timestamp_ms"],
        tx_count=payload["tx_count"],
        accepted_count=payload["accepted_count"],
        state_root=bytes.fromhex(payload["state_root"]),
        certificate_view=certificate["view"] if certificate else 0,
        signers=certificate["signers"] if certificate else [],
        tx_hashes=[bytes.fromhex(h) for h in payload["tx_hashes"]],
    )


class _Malformed:
    """What a request that is not a valid protobuf message of its type decodes to."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


def _deserializer(message_class: Any) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        try:
            return message_class.FromString(data)
        except Exception:  # DecodeError, or whatever the parser raises on garbage
            return _Malformed(message_class.DESCRIPTOR.full_name)

    return decode


async def _refuse_malformed(request: Any, context: Any) -> None:
    if isinstance(request, _Malformed):
        await _abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            "malformed",
            f"the request is not a valid {request.type_name} message",
        )


async def _fail(context: Any, method: str) -> NoReturn:
    """A bug answered as INTERNAL without internal names; the log has the traceback."""
    log.exception("gRPC %s failed", method)
    await _abort(
        context, grpc.StatusCode.INTERNAL, "internal_error", "the node failed to answer this call"
    )


_ACCESS_STATUS = {
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
}
_identity: contextvars.ContextVar[Identity | None] = contextvars.ContextVar(
    "bftx_grpc_identity", default=None
)


async def _admit_call(node: Node, method: str, context: Any) -> None:
    """Authenticate a call from its metadata (see `bftx.access`); the identity for its handler.

    gRPC signs the call, not its messages: the target is the method path, the
    body is empty, so a stream authenticates once.
    """
    metadata = {
        str(key).lower(): value
        for key, value in (context.invocation_metadata() or ())
        if isinstance(value, str)
    }
    try:
        identity = authenticator_for(node).admit(
            metadata, "POST", "", f"/{SERVICE_NAME}/{method}", b""
        )
    except AccessError as error:
        await _abort(context, _ACCESS_STATUS[error.status], error.code, error.detail)
    _identity.set(identity)


def _may_see_account(node: Node, owner: bytes) -> bool:
    identity = _identity.get()
    return not node.genesis.access.permissioned or (
        identity is not None and identity.may_read_account(owner)
    )


def guarded_handlers(service: BftxService) -> Any:
    """The service's handlers: malformed requests are INVALID_ARGUMENT, bugs are INTERNAL.

    Built from the proto's service descriptor instead of the generated
    ``add_BftxServicer_to_server``, so every method decodes its requests
    without raising (grpc would answer a parse failure with an internal
    exception's name) and no handler exception leaks its class or traceback.
    """
    handlers = {}
    for method in pb.DESCRIPTOR.services_by_name["Bftx"].methods:
        behaviour = getattr(service, method.name)
        decode = _deserializer(getattr(pb, method.input_type.name))
        encode = getattr(pb, method.output_type.name).SerializeToString
        if method.client_streaming and not method.server_streaming:
            handlers[method.name] = grpc.stream_unary_rpc_method_handler(
                _guard_stream_unary(service.node, behaviour, method.name),
                request_deserializer=decode,
                response_serializer=encode,
            )
        elif method.server_streaming and not method.client_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                _guard_unary_stream(service.node, behaviour, method.name),
                request_deserializer=decode,
                response_serializer=encode,
            )
        else:
            assert not method.client_streaming, f"{method.name}: no bidirectional calls"
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                _guard_unary(service.node, behaviour, method.name),
                request_deserializer=decode,
                response_serializer=encode,
            )
    return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)


_PASS_THROUGH = (grpc.aio.AbortError, asyncio.CancelledError)


def _guard_unary(node: Node, behaviour: Any, name: str) -> Any:
    async def call(request: Any, context: Any) -> Any:
        await _admit_call(node, name, context)
        await _refuse_malformed(request, context)
        try:
            return await behaviour(request, context)
        except _PASS_THROUGH:
            raise
        except Exception:
            await _fail(context, name)

    return call


def _guard_unary_stream(node: Node, behaviour: Any, name: str) -> Any:
    async def call(request: Any, context: Any) -> AsyncIterator[Any]:
        await _admit_call(node, name, context)
        await _refuse_malformed(request, context)
        try:
            async for message in behaviour(request, context):
                yield message
        except _PASS_THROUGH:
            raise
        except Exception:
            await _fail(context, name)

    return call


def _guard_stream_unary(node: Node, behaviour: Any, name: str) -> Any:
    async def call(requests: AsyncIterator[Any], context: Any) -> Any:
        await _admit_call(node, name, context)

        async def checked() -> AsyncIterator[Any]:
            async for request in requests:
                await _refuse_malformed(request, context)
                yield request

        try:
            return await behaviour(checked(), context)
        except _PASS_THROUGH:
            raise
        except Exception:
            await _fail(context, name)

    return call


class GrpcServer:
    """The gRPC API beside REST, in the node's event loop."""

    def __init__(self, node: Node, host: str, port: int) -> None:
        self._node = node
        self._address = f"{host}:{port}"
        self._server: Any = None
        self.port = port

    async def start(self) -> None:
        self._server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limits.grpc_message_bytes_max),
                ("grpc.so_reuseport", 0),
            ]
        )
        self._server.add_generic_rpc_handlers((guarded_handlers(BftxService(self._node)),))
        try:
            self.port = self._server.add_insecure_port(self._address)
        except RuntimeError as error:  # grpc's way of saying the port is busy
            raise ConfigError(f"gRPC: cannot listen on {self._address} (in use?)") from error
        await self._server.start()

    async def stop(self, grace_s: float = 1.0) -> None:
        if self._server is not None:
            await self._server.stop(grace_s)
