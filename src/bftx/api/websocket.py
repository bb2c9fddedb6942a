"""WebSocket streams at ``/v1/ws``: book snapshot + diffs, trades, blocks, account events.

Owns one connection's protocol: parsing client messages (``subscribe``,
``unsubscribe``, ``ping``), answering each with an ack or an ``error``
message, and a bounded send queue drained by one sender task. The data comes
from the node's one `Feed`; each update is serialised to JSON once for all
connections. A client too slow to drain its queue is closed with code
`CLOSE_SLOW_CONSUMER`; a malformed message gets an error, never a crash.

Must never: block the feed on a client, or send state that is not committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

from fastapi import FastAPI, WebSocket

from bftx import limits
from bftx.api.access import may_see_account
from bftx.api.feed import Feed, Payload, Topic, Update, feed_for, find_market, market_label
from bftx.api.guard import json_depth_exceeds
from bftx.node.runtime import Node

SEND_QUEUE_MESSAGES_MAX = 1_024  # per connection; a client this far behind is disconnected
SUBSCRIPTIONS_MAX = 64  # per connection
CLOSE_TIMEOUT_S = 2.0  # how long closing a stuck connection may wait for its socket

CLOSE_SLOW_CONSUMER = 4000  # application close code: the send queue overflowed
CLOSE_STREAM_ENDED = 4001  # the node's stream ended (it stops, or fell behind): resync

_ADDRESS = re.compile(r"(0x)?[0-9a-fA-F]{40}")  # whole string: fullmatch


def register_websocket(app: FastAPI, node: Node) -> None:
    """Serve ``/v1/ws`` from ``app`` (called once by `create_app`)."""

    @app.websocket("/v1/ws")
    async def stream(websocket: WebSocket) -> None:
        await Connection(websocket, feed_for(node), node).run()


def encode_json(payload: Payload) -> str:
    return json.dumps(payload, separators=(",", ":"))


class RequestError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Connection:
    """One client: its subscriptions, its bounded send queue and its sender task."""

    def __init__(self, websocket: WebSocket, feed: Feed, node: Node) -> None:
        self._websocket = websocket
        self._feed = feed
        self._node = node
        self._queue: asyncio.Queue[str] = asyncio.Queue(SEND_QUEUE_MESSAGES_MAX)
        self._topics: set[Topic] = set()
        self._close: tuple[int, str] | None = None
        self._sender: asyncio.Task[None] | None = None

    async def run(self) -> None:
        await self._websocket.accept()
        self._sender = asyncio.create_task(self._send_loop())
        receiver = asyncio.create_task(self._receive_loop())
        try:
            await asyncio.wait({self._sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._feed.remove(self)
            for task in (self._sender, receiver):
                task.cancel()
            for task in (self._sender, receiver):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    # --- what the feed calls -----------------------------------------------------------

    def deliver(self, update: Update) -> None:
        self._enqueue(update.encoded("json", encode_json))

    def end(self, reason: str) -> None:
        self._shut(CLOSE_STREAM_ENDED, reason)

    # --- sending -----------------------------------------------------------------------

    def _enqueue(self, text: str) -> None:
        if self._close is not None:
            return
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            self._shut(
                CLOSE_SLOW_CONSUMER,
                f"slow consumer: {SEND_QUEUE_MESSAGES_MAX} messages unsent; reconnect and resync",
            )

    def _send(self, payload: Payload) -> None:
        self._enqueue(encode_json(payload))

    def _shut(self, code: int, reason: str) -> None:
        """Stop sending data and close with ``code``; the sender may be stuck on the socket."""
        if self._close is not None:
            return
        self._close = (code, reason)
        self._feed.remove(self)
        self._topics.clear()
        if self._sender is not None:
            self._sender.cancel()

    async def _send_loop(self) -> None:
        try:
            while True:
                text = await self._queue.get()
                await self._websocket.send_text(text)
        except asyncio.CancelledError:
            if self._close is None:
                raise
            task = asyncio.current_task()
            assert task is not None
            task.uncancel()
        code, reason = self._close
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._websocket.close(code, reason), CLOSE_TIMEOUT_S)

    # --- receiving ---------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        while True:
            message = await self._websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self._send(_error(None, "binary_not_supported", "send JSON text messages"))
                continue
            self._on_text(text)

    def _on_text(self, text: str) -> None:
        request_id: Any = None
        try:
            if _too_large(text):
                raise RequestError(
                    "message_too_large",
                    f"a message is at most {limits.websocket_message_bytes_max} bytes",
                )
            if json_depth_exceeds(text, limits.api_json_depth_max):
                raise RequestError(
                    "invalid_json", f"nested deeper than {limits.api_json_depth_max} levels"
                )
            try:
                request = json.loads(text)
            except ValueError as error:
                raise RequestError("invalid_json", f"not JSON: {error}") from error
            if not isinstance(request, dict):
                raise RequestError("invalid_message", 'expected an object like {"op": ...}')
            request_id = _request_id(request)
            self._on_request(request, request_id)
        except RequestError as error:
            self._send(_error(request_id, error.code, error.message))

    def _on_request(self, request: dict[str, Any], request_id: Any) -> None:
        op = request.get("op")
        if op == "ping":
            self._send(_with_id({"type": "pong", "height": self._node.height}, request_id))
            return
        if op not in ("subscribe", "unsubscribe"):
            raise RequestError("unknown_op", "op must be subscribe, unsubscribe or ping")
        topic = self._topic(request)
        ack = _with_id({"type": f"{op}d", **_describe(topic)}, request_id)
        if op == "unsubscribe":
            if topic not in self._topics:
                raise RequestError("not_subscribed", "no such subscription on this connection")
            self._topics.discard(topic)
            self._feed.unsubscribe(topic, self)
            self._send(ack)
            return
        if topic not in self._topics and len(self._topics) >= SUBSCRIPTIONS_MAX:
            raise RequestError(
                "too_many_subscriptions", f"at most {SUBSCRIPTIONS_MAX} per connection"
            )
        # Subscribing again is how a client resyncs a book: it gets a new snapshot.
        self._topics.add(topic)
        self._send(ack)
        snapshot = self._feed.subscribe(topic, self)
        if snapshot is not None:
            self._send(snapshot.payload)

    def _topic(self, request: dict[str, Any]) -> Topic:
        channel = request.get("channel")
        if channel == "blocks":
            return ("blocks", "")
        if channel in ("book", "trades"):
            market = request.get("market")
            if not isinstance(market, str):
                raise RequestError("invalid_market", f'{channel} needs "market", e.g. "BTC-USD"')
            symbol = find_market(self._node.application.exchange, market)
            if symbol is None:
                raise RequestError("unknown_market", f"no market {market[:32]!r}")
            return (channel, symbol)
        if channel == "account":
            address = request.get("address")
            if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
                raise RequestError("invalid_address", 'account needs "address": 40 hex digits')
            owner = address.removeprefix("0x").lower()
            policy = self._node.genesis.access
            if not may_see_account(self._websocket.scope, policy, bytes.fromhex(owner)):
                raise RequestError(
                    "forbidden", "an account's events are visible to its owner and to auditors"
                )
            return ("account", owner)
        raise RequestError("unknown_channel", "channel must be book, trades, blocks or account")


def _too_large(text: str) -> bool:
    """Is ``text`` over `limits.websocket_message_bytes_max` bytes of UTF-8? A character is
    1 to 4 bytes: only a text between a quarter of the bound and the bound is encoded."""
    bound = limits.websocket_message_bytes_max
    if len(text) > bound:
        return True
    if len(text) * 4 <= bound:
        return False
    return len(text.encode("utf-8", "surrogatepass")) > bound


def _describe(topic: Topic) -> Payload:
    channel, key = topic
    if channel in ("book", "trades"):
        return {"channel": channel, "market": market_label(key)}
    if channel == "account":
        return {"channel": channel, "address": key}
    return {"channel": channel}


def _request_id(request: dict[str, Any]) -> Any:
    value = request.get("id")
    if value is None or (isinstance(value, str | int) and not isinstance(value, bool)):
        return value if not isinstance(value, str) else value[:64]
    raise RequestError("invalid_message", "id must be a string or an integer")


def _with_id(payload: Payload, request_id: Any) -> Payload:
    if request_id is not None:
        payload["id"] = request_id
    return payload


def _error(request_id: Any, code: str, message: str) -> Payload:
    return _with_id({"type": "error", "code": code, "message": message}, request_id)
