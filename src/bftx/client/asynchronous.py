"""The asyncio client, with CCXT Pro's `watch_order_book` and `watch_trades` over the WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

import httpx
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bftx.client import core, keys
from bftx.client.contracts import AsyncContractsMixin
from bftx.client.errors import (
    ClientError,
    InvalidArgument,
    InvalidOrder,
    NetworkError,
    OrderRejected,
    TimedOut,
)
from bftx.client.interchain import AsyncInterchainMixin
from bftx.client.signing import RequestPolicy, websocket_headers
from bftx.client.sync import _json, _unreachable
from bftx.crypto import KeyPair
from bftx.exchange.transactions import Body

STREAM_MESSAGE_BYTES_MAX = 2**24
STREAM_RECONNECT_DELAY_S = 0.1  # before resubscribing when the server ended a stream


class AsyncClient(AsyncContractsMixin, AsyncInterchainMixin):
    def __init__(
        self,
        url: str,
        key: KeyPair | str | Path | None = None,
        *,
        timeout: float = 10.0,
        wait: bool = True,
    ) -> None:
        self.url = core.node_url(url)
        self.timeout, self.wait = core.client_settings(timeout, wait)
        self.key = core.load_signing_key(key)
        self._http = httpx.AsyncClient(
            base_url=self.url,
            timeout=self.timeout,
            auth=RequestPolicy(self.key),
        )
        self._markets: dict[str, core.MarketInfo] = {}
        self._chain_id: str | None = None
        self._nonce: int | None = None
        self._nonce_lock = asyncio.Lock()

    @classmethod
    def from_testnet(
        cls,
        testnet: str | Path = "testnet",
        account: str | None = None,
        *,
        node: int = 0,
        timeout: float = 10.0,
        wait: bool = True,
    ) -> Self:
        """A client for node ``node`` of a local testnet directory, as ``account`` (e.g. ``"alice"``).

        Reads the node's URL from ``TESTNET/nodeN/config.toml`` and the key from
        ``TESTNET/accounts/ACCOUNT.json``: what ``bftx testnet init`` and
        ``bftx demo`` write (``make demo`` uses ``./testnet``).
        """
        key = keys.account_key_file(testnet, account) if account is not None else None
        return cls(keys.url_from_testnet(testnet, node), key=key, timeout=timeout, wait=wait)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exception: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    @property
    def address(self) -> str:
        if self.key is None:
            raise ClientError("this client has no key: pass key=<KeyPair or key file>", "no_key")
        return self.key.address.hex()

    # --- public data -------------------------------------------------------------

    async def fetch_status(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._get("/v1/status")
        return result

    async def fetch_markets(self) -> list[dict[str, Any]]:
        markets: list[dict[str, Any]] = await self._get("/v1/markets")
        self._markets = {m["symbol"]: core.market_from_json(m) for m in markets}
        return markets

    async def fetch_order_book(self, symbol: str, limit: int | None = None) -> dict[str, Any]:
        params = {"depth": limit} if limit else {}
        return core.book_from_json(
            await self._get(f"/v1/markets/{core.path_symbol(symbol)}/book", params)
        )

    async def fetch_trades(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        since = core.since_of(since)
        params = {"limit": limit} if limit else {}
        rows = await self._get(f"/v1/markets/{core.path_symbol(symbol)}/trades", params)
        trades = [core.trade_from_json(t) for t in rows]
        return [t for t in trades if since is None or t["timestamp"] >= since]

    async def fetch_tx(self, tx_hash: str) -> dict[str, Any]:
        """A tx's status: pending, committed (height, result code, events), rejected or unknown."""
        result: dict[str, Any] = await self._get(f"/v1/txs/{core.tx_hash_of(tx_hash)}")
        return result

    # --- account data ------------------------------------------------------------

    async def fetch_balance(self) -> dict[str, Any]:
        return core.balance_from_account(await self._get(f"/v1/accounts/{self.address}"))

    async def fetch_order(self, id: str, symbol: str | None = None) -> dict[str, Any]:
        found = await self._open_order(id)
        if found is None:  # the API keeps open orders only: filled, cancelled or expired
            return {"id": id, "symbol": symbol, "status": "closed", "info": {"open": False}}
        return core.order_from_open(found)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        orders = [
            core.order_from_open(o) for o in await self._get(f"/v1/accounts/{self.address}/orders")
        ]
        wanted = core.normalise_symbol(symbol) if symbol else None
        return [o for o in orders if wanted is None or o["symbol"] == wanted]

    async def fetch_my_trades(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        since = core.since_of(since)
        params: dict[str, Any] = {"market": core.path_symbol(symbol)}
        if limit:
            params["limit"] = limit
        rows = await self._get(f"/v1/accounts/{self.address}/trades", params)
        trades = [core.trade_from_json(t, own=self.address) for t in rows]
        return [t for t in trades if since is None or t["timestamp"] >= since]

    # --- trading -----------------------------------------------------------------

    async def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: core.Number,
        price: core.Number | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        params = core.options(params)
        market = await self._market(symbol)
        body = core.order_body(market, type, side, amount, price, params)
        nonce, tx_hash, receipt = await self._send(
            body, params.get("wait", self.wait), params.get("timeout")
        )
        order_id = f"{self.address}:{nonce}"
        if receipt is None:
            return {
                "id": order_id,
                "symbol": market.symbol,
                "status": "pending",
                "info": {"tx_hash": tx_hash},  # wait_for(tx_hash) waits for finality
            }
        if not receipt.ok:
            raise OrderRejected(
                f"the order was rejected at execution: {receipt.code}", receipt.code
            )
        return core.order_from_receipt(
            market, order_id, body, receipt, await self._open_order(order_id)
        )

    async def cancel_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        params = core.options(params)
        body = core.cancel_body(id, self.address)
        _nonce, tx_hash, receipt = await self._send(
            body, params.get("wait", self.wait), params.get("timeout")
        )
        if receipt is not None and not receipt.ok:
            raise OrderRejected(f"the cancel was rejected: {receipt.code}", receipt.code)
        return {
            "id": id,
            "symbol": symbol,
            "status": "canceled" if receipt else "pending",
            "info": core.receipt_info(receipt) if receipt else {"tx_hash": tx_hash},
        }

    async def submit(
        self, tx: bytes, wait: bool = False, timeout: float | None = None
    ) -> core.Receipt | str:
        """Submit signed tx bytes; the receipt once final with ``wait``, else the tx hash."""
        admission = await self._post("/v1/txs", {"tx": core.encode_for_json(tx)})
        if not admission["accepted"]:
            raise OrderRejected(
                f"rejected at admission: {admission['code']}: {admission['message']}",
                admission["code"],
            )
        tx_hash: str = admission["tx_hash"]
        return await self.wait_for(tx_hash, timeout) if wait else tx_hash

    async def submit_batch(self, txs: list[bytes]) -> list[dict[str, Any]]:
        """Submit signed txs in one request; each one's admission (``tx_hash``, ``accepted``,
        ``code``, ``message``), in order. What a tx does is read later (`wait_for`)."""
        answer = await self._post(
            "/v1/txs/batch", {"txs": [core.encode_for_json(tx) for tx in txs]}
        )
        results: list[dict[str, Any]] = answer["results"]
        return results

    async def wait_for(
        self, tx_hash: str, timeout: float | None = None, started: float | None = None
    ) -> core.Receipt:
        tx_hash = core.tx_hash_of(tx_hash)
        if timeout is not None:
            timeout = core.seconds(timeout, "timeout", InvalidArgument)
        started = started if started is not None else time.monotonic()
        deadline = started + (timeout if timeout is not None else self.timeout)
        delay = 0.01
        while True:
            status = await self._get(f"/v1/txs/{tx_hash}")
            if status["status"] == "committed":
                return core.Receipt(
                    tx_hash,
                    status["height"],
                    status["code"],
                    time.monotonic() - started,
                    status["events"],
                )
            if status["status"] == "rejected":  # refused when submitted to this node
                raise OrderRejected(
                    f"tx {tx_hash} was rejected: {status['code']}: {status['message']}",
                    status["code"],
                )
            if time.monotonic() > deadline:
                raise TimedOut(
                    f"tx {tx_hash} not committed after {deadline - started:.1f} s (status {status['status']})"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    # --- streams (CCXT Pro names) ----------------------------------------------------

    async def watch_order_book(
        self, symbol: str, limit: int | None = None
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The committed order book, yielded after every block that changes it.

        Keeps a local book from a snapshot plus sequenced diffs. When a diff's
        ``previous_sequence`` is not the sequence last applied (a gap), or the
        server ends the stream (the node restarted, or this client fell
        behind), it reconnects for a fresh snapshot, as exchange clients do.
        """
        market = core.path_symbol(symbol)
        subscription = {"op": "subscribe", "channel": "book", "market": market}
        while True:
            book = _LocalBook()
            async with contextlib.aclosing(self._stream(subscription)) as messages:
                async for message in messages:
                    kind = message.get("type")
                    if kind == "book_snapshot":
                        book.reset(message)
                    elif kind == "book_diff" and book.follows(message):
                        book.apply(message)
                    elif kind == "book_diff":
                        break  # a gap: resync from a new snapshot
                    else:
                        continue
                    yield book.view(market, limit)

    async def watch_trades(self, symbol: str) -> AsyncGenerator[list[dict[str, Any]], None]:
        """Trades of ``symbol`` as blocks commit them (a list per block, oldest first).

        If the server ends the stream it resubscribes; trades committed while
        disconnected are not replayed (``fetch_trades`` has them).
        """
        market = core.path_symbol(symbol)
        subscription = {"op": "subscribe", "channel": "trades", "market": market}
        while True:
            async with contextlib.aclosing(self._stream(subscription)) as messages:
                async for message in messages:
                    if message.get("type") != "trades":
                        continue
                    where = {
                        "market": core.normalise_symbol(message["market"]),
                        "height": message.get("height"),
                    }
                    yield [core.trade_from_json({**trade, **where}) for trade in message["trades"]]

    async def _stream(self, subscription: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        """Messages after subscribing; ends quietly when the server ends the stream."""
        ws_url = self.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/v1/ws"
        try:
            async with websockets.connect(
                ws_url,
                max_size=STREAM_MESSAGE_BYTES_MAX,
                open_timeout=self.timeout,
                additional_headers=websocket_headers(self.key, ws_url),
            ) as connection:
                await connection.send(json.dumps(subscription))
                async for raw in connection:
                    message = json.loads(raw)
                    if message.get("type") == "error":
                        raise ClientError(
                            str(message.get("message", message)),
                            str(message.get("code", "stream_error")),
                        )
                    yield message
        except ConnectionClosed:
            pass  # the server ended the stream (it stops, or we fell behind)
        except (OSError, InvalidHandshake, TimeoutError) as error:
            raise NetworkError(f"cannot stream from {ws_url}: {error}") from error
        await asyncio.sleep(STREAM_RECONNECT_DELAY_S)  # then the caller reconnects and resyncs

    # --- internals -----------------------------------------------------------------

    async def _send(
        self, body: Body, wait: bool, timeout: float | None
    ) -> tuple[int, str, core.Receipt | None]:
        if self.key is None:
            raise ClientError("this client has no key: pass key=<KeyPair or key file>", "no_key")
        chain_id = await self._chain()
        for attempt in range(2):
            async with self._nonce_lock:
                nonce = await self._next_nonce()
                started = time.monotonic()
                tx = core.sign(self.key, chain_id, nonce, body)
                admission = await self._post("/v1/txs", {"tx": core.encode_for_json(tx)})
                if admission["accepted"]:
                    self._nonce = nonce + 1
                elif admission["code"] in core.NONCE_CODES and attempt == 0:
                    self._nonce = None
                    continue
                else:
                    raise OrderRejected(
                        f"rejected at admission: {admission['code']}: {admission['message']}",
                        admission["code"],
                    )
            receipt = await self.wait_for(admission["tx_hash"], timeout, started) if wait else None
            return nonce, admission["tx_hash"], receipt
        raise AssertionError("unreachable")

    async def _next_nonce(self) -> int:
        if self._nonce is None:
            self._nonce = int((await self._get(f"/v1/accounts/{self.address}"))["nonce"])
        return self._nonce

    async def _chain(self) -> str:
        if self._chain_id is None:
            self._chain_id = str((await self.fetch_status())["chain_id"])
        return self._chain_id

    async def _market(self, symbol: str) -> core.MarketInfo:
        wanted = core.normalise_symbol(core.text(symbol, "symbol"))
        if wanted not in self._markets:
            await self.fetch_markets()
        market = self._markets.get(wanted)
        if market is None:
            raise InvalidOrder(
                f"unknown market {symbol!r}; markets: {', '.join(sorted(self._markets))}"
            )
        return market

    async def _open_order(self, order_id: str) -> dict[str, Any] | None:
        address, nonce = core.parse_order_id(order_id)
        try:
            found: dict[str, Any] = await self._get(f"/v1/accounts/{address}/orders/{nonce}")
        except ClientError as error:
            if error.status == 404:
                return None
            raise
        return found

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            response = await self._http.get(path, params=params)
        except httpx.HTTPError as error:
            raise _unreachable(self.url, error) from error
        return _json(response)

    async def _post(self, path: str, document: dict[str, Any]) -> Any:
        try:
            response = await self._http.post(path, json=document)
        except httpx.HTTPError as error:
            raise _unreachable(self.url, error) from error
        return _json(response)


class _LocalBook:
    """A client-side copy of one market's book, kept from a snapshot and sequenced diffs."""

    def __init__(self) -> None:
        self.sequence: int | None = None
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}

    def reset(self, snapshot: dict[str, Any]) -> None:
        self.sequence = snapshot["sequence"]
        self.bids = {price: amount for price, amount in snapshot["bids"]}
        self.asks = {price: amount for price, amount in snapshot["asks"]}

    def follows(self, diff: dict[str, Any]) -> bool:
        """Whether ``diff`` continues from what this book holds (no gap)."""
        return self.sequence is not None and diff.get("previous_sequence") == self.sequence

    def apply(self, diff: dict[str, Any]) -> None:
        for side, changes in ((self.bids, diff["bids"]), (self.asks, diff["asks"])):
            for price, amount in changes:
                if Decimal(amount) == 0:
                    side.pop(price, None)
                else:
                    side[price] = amount
        self.sequence = diff["sequence"]

    def view(self, market: str, limit: int | None) -> dict[str, Any]:
        bids = sorted(self.bids.items(), key=lambda item: Decimal(item[0]), reverse=True)
        asks = sorted(self.asks.items(), key=lambda item: Decimal(item[0]))
        if limit:
            bids, asks = bids[:limit], asks[:limit]
        return {
            "symbol": core.normalise_symbol(market),
            "bids": [[price, amount] for price, amount in bids],
            "asks": [[price, amount] for price, amount in asks],
            "nonce": self.sequence,
        }
