"""The blocking client (scripts, notebooks). See `bftx.client` for an example."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Self

import httpx

from bftx.client import core, keys
from bftx.client.contracts import ContractsMixin
from bftx.client.errors import (
    ClientError,
    InvalidArgument,
    InvalidOrder,
    NetworkError,
    OrderRejected,
    TimedOut,
)
from bftx.client.interchain import InterchainMixin
from bftx.client.signing import RequestPolicy
from bftx.crypto import KeyPair
from bftx.exchange.transactions import Body


class Client(ContractsMixin, InterchainMixin):
    def __init__(
        self,
        url: str,
        key: KeyPair | str | Path | None = None,
        *,
        timeout: float = 10.0,
        wait: bool = True,
    ) -> None:
        """``url`` of a node's REST API; ``key`` (a KeyPair or a key file) to trade; ``wait`` for finality."""
        self.url = core.node_url(url)
        self.timeout, self.wait = core.client_settings(timeout, wait)
        self.key = core.load_signing_key(key)
        self._http = httpx.Client(
            base_url=self.url,
            timeout=self.timeout,
            auth=RequestPolicy(self.key),
        )
        self._markets: dict[str, core.MarketInfo] = {}
        self._chain_id: str | None = None
        self._nonce: int | None = None

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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exception: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def address(self) -> str:
        if self.key is None:
            raise ClientError("this client has no key: pass key=<KeyPair or key file>", "no_key")
        return self.key.address.hex()

    # --- public data -------------------------------------------------------------

    def fetch_status(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("/v1/status")
        return result

    def fetch_markets(self) -> list[dict[str, Any]]:
        markets: list[dict[str, Any]] = self._get("/v1/markets")
        self._markets = {m["symbol"]: core.market_from_json(m) for m in markets}
        return markets

    def fetch_order_book(self, symbol: str, limit: int | None = None) -> dict[str, Any]:
        params = {"depth": limit} if limit else {}
        return core.book_from_json(
            self._get(f"/v1/markets/{core.path_symbol(symbol)}/book", params)
        )

    def fetch_trades(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        since = core.since_of(since)
        params = {"limit": limit} if limit else {}
        trades = [
            core.trade_from_json(t)
            for t in self._get(f"/v1/markets/{core.path_symbol(symbol)}/trades", params)
        ]
        return [t for t in trades if since is None or t["timestamp"] >= since]

    def fetch_tx(self, tx_hash: str) -> dict[str, Any]:
        """A tx's status: pending, committed (height, result code, events), rejected or unknown."""
        result: dict[str, Any] = self._get(f"/v1/txs/{core.tx_hash_of(tx_hash)}")
        return result

    # --- account data ------------------------------------------------------------

    def fetch_balance(self) -> dict[str, Any]:
        return core.balance_from_account(self._get(f"/v1/accounts/{self.address}"))

    def fetch_order(self, id: str, symbol: str | None = None) -> dict[str, Any]:
        found = self._open_order(id)
        if found is None:  # the API keeps open orders only: filled, cancelled or expired
            return {"id": id, "symbol": symbol, "status": "closed", "info": {"open": False}}
        return core.order_from_open(found)

    def fetch_open_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        orders = [core.order_from_open(o) for o in self._get(f"/v1/accounts/{self.address}/orders")]
        wanted = core.normalise_symbol(symbol) if symbol else None
        return [o for o in orders if wanted is None or o["symbol"] == wanted]

    def fetch_my_trades(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        since = core.since_of(since)
        params: dict[str, Any] = {"market": core.path_symbol(symbol)}
        if limit:
            params["limit"] = limit
        rows = self._get(f"/v1/accounts/{self.address}/trades", params)
        trades = [core.trade_from_json(t, own=self.address) for t in rows]
        return [t for t in trades if since is None or t["timestamp"] >= since]

    # --- trading -----------------------------------------------------------------

    def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: core.Number,
        price: core.Number | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Place an order; with ``wait`` (the default, or ``params={"wait": ...}``) return it once final."""
        params = core.options(params)
        market = self._market(symbol)
        body = core.order_body(market, type, side, amount, price, params)
        nonce, tx_hash, receipt = self._send(
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
        still_open = self._open_order(order_id)
        return core.order_from_receipt(market, order_id, body, receipt, still_open)

    def cancel_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        params = core.options(params)
        body = core.cancel_body(id, self.address)
        _nonce, tx_hash, receipt = self._send(
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

    def submit(
        self, tx: bytes, wait: bool = False, timeout: float | None = None
    ) -> core.Receipt | str:
        """Submit signed tx bytes; the receipt once final with ``wait``, else the tx hash."""
        admission = self._post("/v1/txs", {"tx": core.encode_for_json(tx)})
        if not admission["accepted"]:
            raise OrderRejected(
                f"rejected at admission: {admission['code']}: {admission['message']}",
                admission["code"],
            )
        tx_hash: str = admission["tx_hash"]
        return self.wait_for(tx_hash, timeout) if wait else tx_hash

    def wait_for(
        self, tx_hash: str, timeout: float | None = None, started: float | None = None
    ) -> core.Receipt:
        """Block until ``tx_hash`` is committed; its receipt (height, result code, latency)."""
        tx_hash = core.tx_hash_of(tx_hash)
        if timeout is not None:
            timeout = core.seconds(timeout, "timeout", InvalidArgument)
        started = started if started is not None else time.monotonic()
        deadline = started + (timeout if timeout is not None else self.timeout)
        delay = 0.01
        while True:
            status = self._get(f"/v1/txs/{tx_hash}")
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
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    # --- internals -----------------------------------------------------------------

    def _send(
        self, body: Body, wait: bool, timeout: float | None
    ) -> tuple[int, str, core.Receipt | None]:
        if self.key is None:
            raise ClientError("this client has no key: pass key=<KeyPair or key file>", "no_key")
        for attempt in range(2):
            nonce = self._next_nonce()
            started = time.monotonic()
            tx = core.sign(self.key, self._chain(), nonce, body)
            admission = self._post("/v1/txs", {"tx": core.encode_for_json(tx)})
            if admission["accepted"]:
                self._nonce = nonce + 1
                receipt = self.wait_for(admission["tx_hash"], timeout, started) if wait else None
                return nonce, admission["tx_hash"], receipt
            if admission["code"] in core.NONCE_CODES and attempt == 0:
                self._nonce = None  # another client used this key: ask the node
                continue
            raise OrderRejected(
                f"rejected at admission: {admission['code']}: {admission['message']}",
                admission["code"],
            )
        raise AssertionError("unreachable")

    def _next_nonce(self) -> int:
        if self._nonce is None:
            self._nonce = int(self._get(f"/v1/accounts/{self.address}")["nonce"])
        return self._nonce

    def _chain(self) -> str:
        if self._chain_id is None:
            self._chain_id = str(self.fetch_status()["chain_id"])
        return self._chain_id

    def _market(self, symbol: str) -> core.MarketInfo:
        wanted = core.normalise_symbol(core.text(symbol, "symbol"))
        if wanted not in self._markets:
            self.fetch_markets()
        market = self._markets.get(wanted)
        if market is None:
            raise InvalidOrder(
                f"unknown market {symbol!r}; markets: {', '.join(sorted(self._markets))}"
            )
        return market

    def _open_order(self, order_id: str) -> dict[str, Any] | None:
        address, nonce = core.parse_order_id(order_id)
        try:
            found: dict[str, Any] = self._get(f"/v1/accounts/{address}/orders/{nonce}")
        except ClientError as error:
            if error.status == 404:
                return None
            raise
        return found

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as error:
            raise _unreachable(self.url, error) from error
        return _json(response)

    def _post(self, path: str, document: dict[str, Any]) -> Any:
        try:
            response = self._http.post(path, json=document)
        except httpx.HTTPError as error:
            raise _unreachable(self.url, error) from error
        return _json(response)


def _unreachable(url: str, error: httpx.HTTPError) -> NetworkError:
    hint = "; is a node running there?" if isinstance(error, httpx.ConnectError) else ""
    return NetworkError(f"cannot reach {url}: {error}{hint}")


def _json(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json()
    try:
        problem = response.json()
        raise ClientError(
            problem.get("detail", response.text),
            problem.get("code", "http_error"),
            response.status_code,
        )
    except ValueError:
        raise ClientError(
            f"HTTP {response.status_code}: {response.text[:200]}",
            "http_error",
            response.status_code,
        ) from None
