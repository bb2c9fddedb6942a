"""Everyday commands against a running node: accounts, orders, book, trades, balances, txs, status.

Every command takes ``--url`` (a node's REST API; default ``$BFTX_URL``) or
``--testnet DIR [--node N]`` (a directory made by ``bftx testnet init``),
``--identity`` (the key that signs reads on permissioned networks; default
``$BFTX_KEY``), and ``--json`` for scripts (`with_node`). Tables are for people.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bftx.cli.keys import new_key_file
from bftx.cli.output import (
    bftx_command,
    hex_bytes32,
    http_url,
    human,
    human_number,
    market_symbol,
    order_id,
    positive_seconds,
    print_error,
    seconds,
)
from bftx.client import Client, ClientError
from bftx.client.core import MarketInfo, balance_from_account, market_from_json
from bftx.client.keys import url_from_testnet
from bftx.errors import BftxError
from bftx.exchange import Register


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    account = subcommands.add_parser("account", help="create and register trading accounts")
    account_actions = account.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = account_actions.add_parser(
        "create", help="write a new key file and print the account address"
    )
    create.add_argument(
        "--out",
        type=Path,
        required=True,
        help="path of the new key file (mode 0600), in an existing directory",
    )
    create.set_defaults(handler=_account_create)
    enrol = with_node(
        account_actions.add_parser(
            "register", help="a registrar registers an address (permissioned mode)"
        )
    )
    enrol.add_argument("--registrar", type=Path, required=True, help="the registrar's key file")
    enrol.add_argument("--address", required=True, help="the account address (hex) to register")
    enrol.set_defaults(handler=_account_register)

    order = subcommands.add_parser("order", help="place, cancel and list orders")
    order_actions = order.add_subparsers(dest="action", metavar="ACTION", required=True)
    place = with_node(
        order_actions.add_parser("place", help="place an order and wait until it is final")
    )
    place.add_argument("--key", type=Path, required=True, help="your key file")
    place.add_argument(
        "--market", default="BTC/USD", type=market_symbol, help="market symbol, BASE/QUOTE"
    )
    place.add_argument("--side", choices=("buy", "sell"), required=True, help="buy or sell")
    place.add_argument(
        "--type",
        choices=("limit", "market"),
        default="limit",
        help="limit, or market (which still needs --price: the worst price you accept)",
    )
    place.add_argument("--amount", required=True, help="size in the base asset, e.g. 1.5")
    place.add_argument(
        "--price", help="limit price; for a market order, the worst price you accept"
    )
    place.add_argument(
        "--tif",
        choices=("GTC", "IOC", "FOK", "PO"),
        default="GTC",
        help="time in force (PO: post-only)",
    )
    place.add_argument(
        "--no-wait", action="store_true", help="return once admitted, without waiting for finality"
    )
    place.set_defaults(handler=_order_place)
    cancel = with_node(order_actions.add_parser("cancel", help="cancel one of your open orders"))
    cancel.add_argument("--key", type=Path, required=True, help="the key file of the order's owner")
    cancel.add_argument(
        "--id",
        type=order_id,
        required=True,
        help="order id: <address>:<nonce>, or just the nonce (the number `order list` shows)",
    )
    cancel.set_defaults(handler=_order_cancel)
    listing = with_node(order_actions.add_parser("list", help="your open orders"))
    listing.add_argument("--key", type=Path, required=True, help="your key file")
    listing.set_defaults(handler=_order_list)

    book = with_node(subcommands.add_parser("book", help="the committed order book of a market"))
    book.add_argument(
        "--market", default="BTC/USD", type=market_symbol, help="market symbol, BASE/QUOTE"
    )
    book.add_argument("--depth", type=int, default=10, help="price levels per side")
    book.set_defaults(handler=_book)

    trades = with_node(subcommands.add_parser("trades", help="recent trades of a market"))
    trades.add_argument(
        "--market", default="BTC/USD", type=market_symbol, help="market symbol, BASE/QUOTE"
    )
    trades.add_argument("--limit", type=int, default=20, help="how many trades, newest first")
    trades.set_defaults(handler=_trades)

    balance = with_node(
        subcommands.add_parser("balance", help="balances (available and locked) of an account")
    )
    who = balance.add_mutually_exclusive_group(required=True)
    who.add_argument("--key", type=Path, help="a key file")
    who.add_argument("--address", help="an account address (hex)")
    balance.set_defaults(handler=_balance)

    tx = with_node(
        subcommands.add_parser(
            "tx", help="status of a tx: pending, committed (with its result) or unknown"
        )
    )
    tx.add_argument(
        "tx_hash",
        type=hex_bytes32,
        help="the tx hash (64 hex digits, optionally 0x) that `order place` or the API returned",
    )
    tx.set_defaults(handler=_tx)

    status = with_node(
        subcommands.add_parser("status", help="a node's height, view, primary, peers")
    )
    status.set_defaults(handler=_status)


def with_node(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of every command that talks to a node: where it is, how long to wait,
    ``--json``, and ``--identity`` (the key that signs reads on permissioned networks)."""
    parser.add_argument(
        "--url",
        type=http_url,
        default=os.environ.get("BFTX_URL"),
        help="a node's REST API (default $BFTX_URL)",
    )
    parser.add_argument("--testnet", type=Path, help="a testnet directory: use one of its nodes")
    parser.add_argument(
        "--node", type=int, default=0, help="with --testnet: which node (default 0)"
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=10.0,
        help="seconds to wait for the node and for finality",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--identity",
        type=Path,
        default=os.environ.get("BFTX_KEY"),
        help="key file that signs requests, for networks with permissioned reads "
        "(default $BFTX_KEY; commands that take --key sign with it)",
    )
    return parser


def node_url(arguments: argparse.Namespace) -> str:
    if arguments.testnet is not None:
        return url_from_testnet(arguments.testnet, arguments.node)
    if arguments.url:
        return str(arguments.url)
    raise ClientError("say which node: --url URL, --testnet DIR, or set BFTX_URL", "no_node")


def _run(
    arguments: argparse.Namespace, action: Callable[[Client], Any], key: Path | None = None
) -> int:
    try:
        with Client(
            node_url(arguments), key=key or arguments.identity, timeout=arguments.timeout
        ) as client:
            result = action(client)
    except httpx.InvalidURL as error:  # --url is checked; a testnet config's host is not
        _fail(arguments, "bad_url", f"not a valid node URL: {error}")
        return 2
    except (ClientError, BftxError) as error:
        _fail(arguments, getattr(error, "code", None) or _code_of(error), str(error))
        return 1
    if arguments.json:
        print(json.dumps(result, default=str, indent=2))
    else:
        _show(arguments.handler, result)
    return 0


def _fail(arguments: argparse.Namespace, code: str, message: str) -> None:
    """An error as JSON on standard output with ``--json``, else one line on standard error."""
    if getattr(arguments, "json", False):
        print(json.dumps({"error": code, "message": message}))
    else:
        print_error(message, code)


def _account_create(arguments: argparse.Namespace) -> int:
    try:
        key = new_key_file(arguments.out)
    except BftxError as error:
        print_error(str(error))
        return 1
    print(
        json.dumps(
            {
                "path": str(arguments.out),
                "address": key.address.hex(),
                "public_key": key.public_key.hex(),
            },
            indent=2,
        )
    )
    print(
        "in permissioned mode a registrar must register this address: bftx account register ...",
        file=sys.stderr,
    )
    return 0


def _account_register(arguments: argparse.Namespace) -> int:
    try:
        address = bytes.fromhex(arguments.address.removeprefix("0x"))
    except ValueError:
        address = b""
    if len(address) != 20:
        print("error: --address must be 20 bytes in hex", file=sys.stderr)
        return 2

    def action(client: Client) -> Any:
        from bftx.exchange import sign_tx

        assert client.key is not None
        nonce = int(client._get(f"/v1/accounts/{client.address}")["nonce"])
        chain_id = client.fetch_status()["chain_id"]
        receipt = client.submit(sign_tx(client.key, chain_id, nonce, Register(address)), wait=True)
        return {
            "address": address.hex(),
            "receipt": getattr(receipt, "__dict__", None) or _receipt_dict(receipt),
        }

    return _run(arguments, action, key=arguments.registrar)


def _receipt_dict(receipt: Any) -> dict[str, Any]:
    return {name: getattr(receipt, name) for name in ("tx_hash", "height", "code", "latency_s")}


def _order_place(arguments: argparse.Namespace) -> int:
    params = {"timeInForce": arguments.tif, "wait": not arguments.no_wait}

    def action(client: Client) -> Any:
        order = client.create_order(
            arguments.market,
            arguments.type,
            arguments.side,
            arguments.amount,
            arguments.price,
            params,
        )
        _remember_markets(client)
        return order

    return _run(arguments, action, key=arguments.key)


_MARKETS: dict[str, MarketInfo] = {}  # for describing events in units people read


def _remember_markets(client: Client) -> None:
    _MARKETS.update({m["symbol"]: market_from_json(m) for m in client.fetch_markets()})


def _order_cancel(arguments: argparse.Namespace) -> int:
    def action(client: Client) -> Any:
        whole_id = arguments.id if ":" in arguments.id else f"{client.address}:{arguments.id}"
        canceled = client.cancel_order(whole_id)
        _remember_markets(client)
        return canceled

    return _run(arguments, action, key=arguments.key)


def _order_list(arguments: argparse.Namespace) -> int:
    return _run(arguments, lambda client: client.fetch_open_orders(), key=arguments.key)


def _book(arguments: argparse.Namespace) -> int:
    return _run(
        arguments, lambda client: client.fetch_order_book(arguments.market, arguments.depth)
    )


def _trades(arguments: argparse.Namespace) -> int:
    return _run(
        arguments, lambda client: client.fetch_trades(arguments.market, limit=arguments.limit)
    )


def _balance(arguments: argparse.Namespace) -> int:
    if arguments.key is not None:
        return _run(arguments, lambda client: client.fetch_balance(), key=arguments.key)
    address = arguments.address.removeprefix("0x")
    return _run(arguments, lambda client: client._get(f"/v1/accounts/{address}"))


def _tx(arguments: argparse.Namespace) -> int:
    def action(client: Client) -> Any:
        status = client.fetch_tx(arguments.tx_hash)
        if status.get("events"):
            _remember_markets(client)
        return status

    return _run(arguments, action)


def _status(arguments: argparse.Namespace) -> int:
    return _run(arguments, lambda client: client.fetch_status())


# --- tables ------------------------------------------------------------------------


def _code_of(error: Exception) -> str:
    """A slug for errors that carry no code (``ConfigError`` -> ``config_error``)."""
    return "".join(
        f"_{char.lower()}" if char.isupper() else char for char in type(error).__name__
    ).lstrip("_")


def _console() -> Console:
    """Tables are never cut to 80 columns when piped: ids must stay whole to be copied."""
    return Console(width=None if sys.stdout.isatty() else 400, highlight=False)


def _show(handler: Callable[..., int], result: Any) -> None:
    console = _console()
    if handler is _book:
        table = Table(title=f"{result['symbol']} at height {result['nonce']:,}")
        for column in ("bid amount", "bid", "ask", "ask amount"):
            table.add_column(column, justify="right", no_wrap=True)
        rows = max(len(result["bids"]), len(result["asks"]))
        for index in range(rows):
            bid = result["bids"][index] if index < len(result["bids"]) else ["", ""]
            ask = result["asks"][index] if index < len(result["asks"]) else ["", ""]
            table.add_row(
                human_number(bid[1]),
                f"[green]{human_number(bid[0])}[/green]",
                f"[red]{human_number(ask[0])}[/red]",
                human_number(ask[1]),
            )
        if not rows:
            table.caption = "the book is empty"
        console.print(table)
    elif handler is _trades:
        table = Table(title=f"trades, newest first ({len(result)})")
        for column in ("id", "price", "amount", "taker side", "time (UTC, block time)"):
            table.add_column(column, justify="right", no_wrap=True)
        for trade in result:
            table.add_row(
                trade["id"],
                human_number(trade["price"]),
                human_number(trade["amount"]),
                trade["side"],
                _utc(trade["timestamp"]),
            )
        console.print(table)
    elif handler is _balance and "balances" in result:  # by --address: the account record
        _show_mapping(console, {k: v for k, v in result.items() if k != "balances"})
        _show(handler, balance_from_account(result))
    elif handler is _balance and "free" in result:
        table = Table(title="balances")
        for column in ("asset", "available", "locked", "total"):
            table.add_column(column, justify="right", no_wrap=True)
        for asset in sorted(result["total"]):
            table.add_row(
                asset,
                human_number(result[asset]["free"]),
                human_number(result[asset]["used"]),
                human_number(result[asset]["total"]),
            )
        console.print(table)
    elif handler is _order_list:
        owner = result[0]["id"].partition(":")[0] if result else ""
        table = Table(title=f"open orders ({len(result)})")
        for column in ("nonce", "market", "side", "price", "amount", "filled", "remaining"):
            table.add_column(column, justify="right", no_wrap=True)
        for order in result:
            table.add_row(
                order["id"].partition(":")[2],
                order["symbol"],
                order["side"],
                human_number(order["price"]),
                human_number(order["amount"]),
                human_number(order["filled"]),
                human_number(order["remaining"]),
            )
        console.print(table)
        if result:
            console.print(
                f"cancel one with: order cancel --id NONCE (the whole id is {owner}:NONCE)",
                soft_wrap=True,
                markup=False,
            )
    elif handler in (_order_place, _order_cancel):
        _show_order(console, result)
    else:
        _show_mapping(console, result)


def _show_order(console: Console, order: dict[str, Any]) -> None:
    info = order.get("info") or {}
    fields: dict[str, Any] = {"id": order["id"]}
    for name in ("status", "symbol", "side", "type", "price", "amount", "filled", "remaining"):
        if name in order:
            value = order[name]
            fields[name] = human_number(value) if name in _NUMBERS and value else value
    if info.get("tx_hash"):
        fields["tx"] = info["tx_hash"]
    if info.get("height") is not None:  # final; without it (--no-wait) only admitted
        fields["block"] = info["height"]
        fields["result"] = info.get("code")
        fields["final after"] = seconds(float(info["latency_s"]))
        fields["events"] = info.get("events", [])
    _show_mapping(console, fields)
    if info.get("tx_hash") and info.get("height") is None:
        console.print(
            f"admitted, not final yet: `{bftx_command()} tx {info['tx_hash']}` says when it is "
            "committed (do not place it again)",
            soft_wrap=True,
            markup=False,
        )


_NUMBERS = ("price", "amount", "filled", "remaining")


def _describe_event(event: dict[str, Any]) -> str:
    """One line per event, in the market's units where it is known; the raw record is in --json."""
    kind = event.get("kind", "?")
    market = _MARKETS.get(str(event.get("market", "")))
    if market is None and len(_MARKETS) == 1:
        market = next(iter(_MARKETS.values()))  # trades and closings do not name their market
    if market is not None:
        described = _describe_in_units(kind, event, market)
        if described is not None:
            return described
    details = ", ".join(
        f"{key} {human(value)}"
        for key, value in event.items()
        if key not in ("kind", "owner", "market") and not isinstance(value, dict | list)
    )
    return f"{kind}: {details}" if details else kind


def _describe_in_units(kind: str, event: dict[str, Any], market: MarketInfo) -> str | None:
    def amount(lots: int) -> str:
        return f"{human_number(market.amount_of(lots))} {market.base}"

    def price(ticks: int) -> str:
        return f"{human_number(market.price_of(ticks))} {market.quote}"

    if kind == "order_placed":
        return (
            f"order_placed: {event['side']} {amount(event['quantity_lots'])} at "
            f"{price(event['price_ticks'])} ({event['order_type']}, nonce {event['nonce']})"
        )
    if kind == "trade":
        return (
            f"trade #{event['trade_id']}: {amount(event['quantity_lots'])} at "
            f"{price(event['price_ticks'])}, taker {event['taker_side']}s; maker order "
            f"{event['maker']}:{event['maker_nonce']}; fees (smallest units of what each "
            f"receives) maker {event['maker_fee']:,}, taker {event['taker_fee']:,}"
        )
    if kind == "order_closed":
        return (
            f"order_closed: nonce {event['nonce']}, {event['reason']}, "
            f"{amount(event['remaining_lots'])} unfilled"
        )
    return None


def _utc(timestamp_ms: int) -> str:
    moment = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{timestamp_ms % 1000:03d}"


def _show_mapping(console: Console, result: Any) -> None:
    """``field  value`` lines, values whole (a hash is never cut) and readable."""
    if not isinstance(result, dict):
        console.print(human(result), soft_wrap=True, markup=False)
        return
    width = max((len(str(key)) for key in result), default=0)
    for key, value in result.items():
        lines = [human(value)]
        if key == "halted":
            lines = ["no" if value is None else f"yes: {value}"]
        elif key == "events" and isinstance(value, list):  # one line per event
            lines = [_describe_event(event) for event in value] or ["-"]
        for index, line in enumerate(lines):
            label = str(key) if index == 0 else ""
            console.print(f"{label:<{width}}  {line}", soft_wrap=True, markup=False)
