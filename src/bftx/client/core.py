"""What the sync and async clients share: markets, order construction, response shapes.

Everything here is pure (no I/O), so the two clients differ only in how they
send requests.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx

from bftx import limits
from bftx.client.errors import ClientError, InvalidArgument, InvalidOrder
from bftx.client.keys import load_key_file
from bftx.crypto import KeyPair
from bftx.exchange import CancelOrder, OrderType, PlaceOrder, Side, sign_tx
from bftx.exchange.transactions import Body

Number = str | Decimal | int | float

_TIME_IN_FORCE = {
    "GTC": OrderType.LIMIT,
    "IOC": OrderType.IOC,
    "FOK": OrderType.FOK,
    "PO": OrderType.POST_ONLY,
}
# A market order (OrderType.MARKET) is immediate-or-cancel at its worst price: IOC says so,
# GTC is what CCXT passes when no time in force was chosen. FOK and PO are not market orders.
_MARKET_TIME_IN_FORCE = ("GTC", "IOC")
# Admission codes after which a tx is signed again once, with the nonce the node reports: the
# nonce was used, this tx is already pending, or another tx of the account holds its nonce
# (another client with this key; if it is still pending, the second refusal is raised).
NONCE_CODES = frozenset({"nonce_used", "duplicate_tx", "nonce_pending"})
_TIF_NAMES = {"FOK": "FOK (fill or kill)", "PO": "post-only (PO)"}


@dataclass(frozen=True, slots=True)
class MarketInfo:
    symbol: str
    base: str
    quote: str
    tick: Decimal  # price increment (quote per whole base)
    lot: Decimal  # size increment (base)
    min_size: Decimal

    @property
    def max_price(self) -> Decimal:
        """The highest price an order may carry (the protocol's bound on ticks)."""
        return self.tick * limits.price_ticks_max

    @property
    def max_size(self) -> Decimal:
        """The largest amount one order may carry (the protocol's bound on lots)."""
        return self.lot * limits.quantity_lots_max

    def to_ticks(self, price: Number) -> int:
        """Price -> ticks, checked against the market's tick and bounds before anything is signed."""
        value = _decimal(price, "price")
        if value <= 0:
            raise InvalidOrder(
                f"price {price} is not a positive multiple of the tick {self.tick} {self.quote} "
                f"of {self.symbol}"
            )
        if value > self.max_price:
            raise InvalidOrder(
                f"price {price} is out of range for {self.symbol}: at most "
                f"{_plain(self.max_price)} {self.quote}"
            )
        ticks = value / self.tick
        if ticks != ticks.to_integral_value():
            raise InvalidOrder(
                f"price {price} is not a multiple of the tick {self.tick} {self.quote} of {self.symbol}"
            )
        return int(ticks)

    def to_lots(self, amount: Number) -> int:
        """Amount -> lots, checked against the lot, the minimum size and the maximum size."""
        value = _decimal(amount, "amount")
        if value <= 0:
            raise InvalidOrder(
                f"amount {amount} is not a positive multiple of the lot {self.lot} {self.base} "
                f"of {self.symbol}"
            )
        if value > self.max_size:
            raise InvalidOrder(
                f"amount {amount} {self.base} is out of range for {self.symbol}: at most "
                f"{_plain(self.max_size)} {self.base} per order"
            )
        lots = value / self.lot
        if lots != lots.to_integral_value():
            raise InvalidOrder(
                f"amount {amount} is not a multiple of the lot {self.lot} {self.base} of {self.symbol}"
            )
        if value < self.min_size:
            raise InvalidOrder(
                f"amount {amount} is below the minimum size {self.min_size} {self.base} of {self.symbol}"
            )
        return int(lots)

    def price_of(self, ticks: int) -> str:
        return _plain(self.tick * ticks)

    def amount_of(self, lots: int) -> str:
        return _plain(self.lot * lots)


@dataclass(frozen=True, slots=True)
class Receipt:
    """A tx's fate once final: the block that holds it and its result code."""

    tx_hash: str
    height: int
    code: str
    latency_s: float
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.code == "ok"


def load_signing_key(key: KeyPair | str | Path | None) -> KeyPair | None:
    """A KeyPair as given, or loaded from a key file (`KeyFileError` when it cannot be used);
    `InvalidArgument` for anything else."""
    if key is None or isinstance(key, KeyPair):
        return key
    if not isinstance(key, str | Path):
        raise InvalidArgument(f"key must be a KeyPair or the path of a key file, got {_kind(key)}")
    return load_key_file(Path(key))


_URL_HOST = re.compile(r"[A-Za-z0-9.\-:]+")


def node_url(url: str) -> str:
    """A node's REST API URL without its trailing slash; `InvalidArgument` unless it is an
    http(s) URL with a host (a path is kept, for a node behind a proxy; no query)."""
    text(url, "url", InvalidArgument)
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except (httpx.InvalidURL, ValueError) as error:
        raise InvalidArgument(f"url {shown(url)} is not a URL: {error}") from error
    if (
        parsed.scheme not in ("http", "https")
        or not _URL_HOST.fullmatch(parsed.host)
        or not (port is None or 1 <= port <= 65_535)
        or parsed.query
        or parsed.fragment
    ):
        raise InvalidArgument(
            f"url {shown(url)} is not a node's API URL: expected http(s)://HOST[:PORT], "
            "e.g. http://127.0.0.1:8700"
        )
    return url.rstrip("/")


def client_settings(timeout: float, wait: bool) -> tuple[float, bool]:
    """A client's ``timeout`` (positive seconds) and ``wait`` (a bool), checked."""
    if not isinstance(wait, bool):
        raise InvalidArgument(f"wait must be True or False, got {shown(wait)}")
    return seconds(timeout, "timeout", InvalidArgument), wait


def market_from_json(document: dict[str, Any]) -> MarketInfo:
    return MarketInfo(
        symbol=document["symbol"],
        base=document["base"],
        quote=document["quote"],
        tick=Decimal(document["tick"]),
        lot=Decimal(document["lot"]),
        min_size=Decimal(document["min_size"]),
    )


def normalise_symbol(symbol: str) -> str:
    return text(symbol, "symbol", InvalidArgument).replace("-", "/").upper()


_PATH_SYMBOL = re.compile(r"[A-Z0-9]{1,16}-[A-Z0-9]{1,16}")  # what the API's routes accept


def path_symbol(symbol: str) -> str:
    """``BASE-QUOTE`` for a URL path; `InvalidArgument` unless ``symbol`` is ``BASE/QUOTE``
    (or ``BASE-QUOTE``) of letters and digits."""
    found = normalise_symbol(symbol).replace("/", "-")
    if not _PATH_SYMBOL.fullmatch(found):
        raise InvalidArgument(f"symbol {shown(symbol)} is not BASE/QUOTE (letters and digits)")
    return found


_TX_HASH = re.compile(r"(0x)?[0-9a-fA-F]{64}")  # what GET /v1/txs/{tx_hash} accepts


def tx_hash_of(tx_hash: str) -> str:
    """``tx_hash`` if it is 64 hex digits (``0x`` optional); `InvalidArgument` otherwise."""
    if not isinstance(tx_hash, str) or not _TX_HASH.fullmatch(tx_hash):
        raise InvalidArgument(f"tx_hash {shown(tx_hash)} is not 64 hex digits (0x optional)")
    return tx_hash


def since_of(since: int | None) -> int | None:
    """A ``since`` (ms) filter: None or a whole number; `InvalidArgument` otherwise."""
    if since is None:
        return None
    return whole_number(since, "since", 0, limits.timestamp_ms_max, InvalidArgument)


def order_body(
    market: MarketInfo,
    order_type: str,
    side: str,
    amount: Number,
    price: Number | None,
    params: dict[str, Any],
) -> PlaceOrder:
    """A PlaceOrder from CCXT-style arguments.

    ``type`` is "limit" or "market"; ``params`` may hold ``timeInForce``
    ("GTC", "IOC", "FOK", "PO"), ``postOnly`` (bool) and ``expiresAtMs``. A
    market order needs ``price``: the worst price you accept (bftx has no
    unbounded market orders); it is immediate-or-cancel, so FOK and post-only
    are refused for it (`InvalidOrder`).
    Every argument is checked (type and range) before anything is signed; what
    does not hold raises `InvalidOrder`.
    """
    side_value = {"buy": Side.BUY, "sell": Side.SELL}.get(text(side, "side").lower())
    if side_value is None:
        raise InvalidOrder(f"side must be 'buy' or 'sell', got {side!r}")
    kind = text(order_type, "type").lower()
    params = options(params)
    post_only = params.get("postOnly", False)
    if not isinstance(post_only, bool):
        raise InvalidOrder(f"postOnly must be True or False, got {post_only!r}")
    time_in_force = text(params.get("timeInForce", "GTC"), "timeInForce").upper()
    if post_only and time_in_force not in ("GTC", "PO"):
        raise InvalidOrder(f"postOnly contradicts timeInForce {time_in_force}")
    if post_only:
        time_in_force = "PO"
    if kind not in ("limit", "market"):
        raise InvalidOrder(f"type must be 'limit' or 'market', got {order_type!r}")
    if price is None:
        if kind == "market":
            raise InvalidOrder(
                "a market order needs price=<the worst price you accept>: bftx never sweeps unbounded"
            )
        raise InvalidOrder("a limit order needs a price")
    if kind == "market":
        if time_in_force not in _MARKET_TIME_IN_FORCE:
            raise InvalidOrder(
                f"a market order cannot be {_TIF_NAMES.get(time_in_force, time_in_force)}: it "
                "takes what the book offers up to its price at once and cancels the rest "
                "(timeInForce IOC, or GTC as CCXT's default); for fill-or-kill or post-only, "
                "place a limit order at your price"
            )
        resolved = OrderType.MARKET
    elif time_in_force in _TIME_IN_FORCE:
        resolved = _TIME_IN_FORCE[time_in_force]
    else:
        raise InvalidOrder(f"timeInForce must be GTC, IOC, FOK or PO, got {time_in_force!r}")
    expires_at_ms = whole_number(
        params.get("expiresAtMs", 0), "expiresAtMs", 0, limits.timestamp_ms_max
    )
    if expires_at_ms and resolved in (OrderType.MARKET, OrderType.IOC, OrderType.FOK):
        raise InvalidOrder(
            "expiresAtMs applies to orders that rest in the book (GTC, PO), not to "
            f"{'a market order' if kind == 'market' else time_in_force}"
        )
    return PlaceOrder(
        market.symbol,
        side_value,
        resolved,
        market.to_ticks(price),
        market.to_lots(amount),
        expires_at_ms,
    )


def sign(key: KeyPair, chain_id: str, nonce: int, body: Body) -> bytes:
    """The signed tx; a nonce past the protocol's largest is refused before signing."""
    if not 0 <= nonce <= limits.nonce_max:
        raise ClientError(
            f"nonce {nonce} is past the largest a tx may carry ({limits.nonce_max}): this "
            "account cannot sign another tx",
            "nonce_exhausted",
        )
    return sign_tx(key, chain_id, nonce, body)


def text(value: object, what: str, error: Callable[[str], ClientError] = InvalidOrder) -> str:
    """``value`` if it is a str; ``error`` (default `InvalidOrder`) otherwise."""
    if not isinstance(value, str):
        raise error(f"{what} must be text, got {_kind(value)}")
    return value


_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,24}")


def whole_number(
    value: object,
    what: str,
    low: int,
    high: int,
    error: Callable[[str], ClientError] = InvalidOrder,
) -> int:
    """``value`` as an integer in ``[low, high]``: an int (not a bool), a whole float or
    Decimal, or decimal digits; ``error`` (default `InvalidOrder`) says what is wrong."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float | Decimal):
        if isinstance(value, float):
            whole = math.isfinite(value) and value.is_integer()
        else:
            whole = value.is_finite() and value == value.to_integral_value()
        if whole and not low <= value <= high:  # before int(): 1e999999 would be huge
            raise error(f"{what} {shown(value)} is out of range: expected {low} to {high}")
        number = int(value) if whole else None
    elif isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value):
        number = int(value)
    if number is None:
        raise error(f"{what} must be a whole number, got {shown(value)}")
    if not low <= number <= high:
        raise error(f"{what} {shown(number)} is out of range: expected {low} to {high}")
    return number


def options(params: object) -> dict[str, Any]:
    """A call's ``params`` (None: none), with ``wait`` and ``timeout`` checked."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InvalidOrder(f"params must be a dict, got {_kind(params)}")
    found = dict(params)
    if not isinstance(found.get("wait", False), bool):
        raise InvalidOrder(f"params wait must be True or False, got {found['wait']!r}")
    if found.get("timeout") is not None:
        found["timeout"] = seconds(found["timeout"], "params timeout", InvalidOrder)
    return found


def seconds(value: object, what: str, error: Callable[[str], ClientError]) -> float:
    """A positive, finite number of seconds (at most 10**15)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 1e15:
        return float(value)  # (also refuses NaN, infinities and ints too big for a float)
    raise error(f"{what} must be a positive number of seconds, got {shown(value)}")


def encode_for_json(tx: bytes) -> str:
    return base64.b64encode(tx).decode()


_ORDER_ID = re.compile(r"(?:0x)?([0-9a-fA-F]{40}):([0-9]{1,20})")


def parse_order_id(order_id: str) -> tuple[str, int]:
    """``"<address>:<nonce>"`` -> (address hex, nonce); `InvalidOrder` unless the address is
    40 hex digits and the nonce decimal digits up to ``limits.nonce_max``."""
    match = _ORDER_ID.fullmatch(order_id) if isinstance(order_id, str) else None
    if match is None:
        raise InvalidOrder(
            f"order id {shown(order_id)} is not <address>:<nonce> "
            "(40 hex digits, a colon, decimal digits)"
        )
    nonce = int(match[2])
    if nonce > limits.nonce_max:
        raise InvalidOrder(
            f"order id {order_id!r}: nonce {nonce} is past the largest a tx may carry "
            f"({limits.nonce_max})"
        )
    return match[1].lower(), nonce


def cancel_body(order_id: str, own_address: str) -> CancelOrder:
    address, nonce = parse_order_id(order_id)
    if address != own_address:
        raise InvalidOrder(f"order {order_id} belongs to another account")
    return CancelOrder(nonce)


def order_from_open(document: dict[str, Any]) -> dict[str, Any]:
    """A CCXT-shaped order from the API's open-order record."""
    amount, remaining = Decimal(document["amount"]), Decimal(document["remaining"])
    return {
        "id": document["order_id"],
        "symbol": document["market"],
        "type": "market" if document["type"] == "market" else "limit",
        "timeInForce": {"limit": "GTC", "ioc": "IOC", "fok": "FOK", "post_only": "PO"}.get(
            document["type"], "GTC"
        ),
        "side": document["side"],
        "price": document["price"],
        "amount": document["amount"],
        "filled": _plain(amount - remaining),
        "remaining": document["remaining"],
        "status": "open",
        "info": document,
    }


def order_from_receipt(
    market: MarketInfo,
    order_id: str,
    body: PlaceOrder,
    receipt: Receipt,
    still_open: dict[str, Any] | None,
) -> dict[str, Any]:
    """A CCXT-shaped order right after its tx committed."""
    _address, nonce = parse_order_id(order_id)
    filled_lots = sum(
        event["quantity_lots"]
        for event in receipt.events
        if event["kind"] == "trade" and event["taker_nonce"] == nonce
    )
    closed = [
        event
        for event in receipt.events
        if event["kind"] == "order_closed" and event["nonce"] == nonce
    ]
    if still_open is not None:
        status = "open"
    elif closed and closed[-1]["reason"] == "filled":
        status = "closed"
    else:
        status = "canceled"
    remaining_lots = body.quantity_lots - filled_lots if status == "open" else 0
    if still_open is not None:
        remaining_lots = int(still_open["remaining_lots"])
    return {
        "id": order_id,
        "symbol": market.symbol,
        "type": "market" if body.order_type is OrderType.MARKET else "limit",
        "side": body.side.name.lower(),
        "price": market.price_of(body.price_ticks),
        "amount": market.amount_of(body.quantity_lots),
        "filled": market.amount_of(filled_lots),
        "remaining": market.amount_of(remaining_lots),
        "status": status,
        "info": receipt_info(receipt),
    }


def receipt_info(receipt: Receipt) -> dict[str, Any]:
    """A receipt as the ``info`` of a CCXT-shaped order (plain JSON)."""
    return {
        "tx_hash": receipt.tx_hash,
        "height": receipt.height,
        "code": receipt.code,
        "latency_s": receipt.latency_s,
        "events": receipt.events,
    }


def balance_from_account(document: dict[str, Any]) -> dict[str, Any]:
    """CCXT's balance shape: per asset {free, used, total}, plus free/used/total maps."""
    result: dict[str, Any] = {"free": {}, "used": {}, "total": {}, "info": document}
    for entry in document["balances"]:
        free, used = Decimal(entry["available"]), Decimal(entry["locked"])
        total = format(free + used, "f")  # the same decimals as free and used
        asset = entry["asset"]
        result[asset] = {"free": entry["available"], "used": entry["locked"], "total": total}
        result["free"][asset] = entry["available"]
        result["used"][asset] = entry["locked"]
        result["total"][asset] = total
    return result


def book_from_json(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "symbol": document["market"],
        "bids": [[level["price"], level["amount"]] for level in document["bids"]],
        "asks": [[level["price"], level["amount"]] for level in document["asks"]],
        "nonce": document["sequence"],
        "info": document,
    }


def trade_from_json(document: dict[str, Any], own: str | None = None) -> dict[str, Any]:
    """A CCXT trade. Public (``own`` None): ``side`` is the taker's. One of ``own``'s trades:
    ``side`` is ``own``'s (the opposite of the taker's when ``own`` was the maker), with
    ``takerOrMaker`` and ``order`` (``own``'s order id), as CCXT's ``fetch_my_trades``."""
    trade: dict[str, Any] = {
        "id": str(document["trade_id"]),
        "symbol": document["market"],
        "price": document["price"],
        "amount": document["amount"],
        "side": document["taker_side"],
        "timestamp": document["timestamp_ms"],
        "takerOrMaker": None,
        "info": document,
    }
    if own is not None:
        took = document["taker"] == own  # a self-trade: own was both; it took
        trade["takerOrMaker"] = "taker" if took else "maker"
        trade["order"] = document["taker_order_id"] if took else document["maker_order_id"]
        if not took:
            trade["side"] = {"buy": "sell", "sell": "buy"}[document["taker_side"]]
    return trade


def _decimal(value: object, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InvalidOrder(f"{what} {shown(value)} is not a number: expected a decimal string")
    try:
        result = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as error:
        raise InvalidOrder(f"{what} {value!r} is not a number") from error
    if not result.is_finite():
        raise InvalidOrder(f"{what} {value!r} is not finite")
    return result


def shown(value: object) -> str:
    """``repr(value)`` cut to a length fit for a message."""
    written = repr(value)
    return written if len(written) <= 60 else written[:57] + "..."


def _kind(value: object) -> str:
    return "None" if value is None else type(value).__name__


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"
