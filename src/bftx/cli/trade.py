"""Everyday commands against a running node: accounts, orders, book, trades, balances, txs, status.

Every command takes ``--url`` (a node's REST API; default ``$BFTX_URL``) or
``--testnet DIR [--node N]`` (a directory made by ``bftx testnet init``), and
``--json`` for scripts. Tables are for people.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bftx.client import Client, ClientError
from bftx.crypto import KeyPair, save_key
from bftx.errors import BftxError
from bftx.exchange import Register

console = Console()


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    account = subcommands.add_parser("account", help="create and register trading accounts")
    account_actions = account.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = account_actions.add_parser(
        "create", help="write a new key file and print the account address"
    )
    create.add_argument(
        "--out", type=Path, required=True, help="path of the new key file (mode 0600)"
    )
    create.set_defaults(handler=_account_create)
    enrol = _with_node(
        account_actions.add_parser(
            "register", help="a registrar registers an address (permissioned mode)"
        )
    )
    enrol.add_argument("--registrar", type=Path, required=True, help="the registrar's key file")
    enrol.add_argument("--address", required=True, help="the account address (hex) to register")
    enrol.set_defaults(handler=_account_register)

    order = subcommands.add_parser("order", help="place, cancel and list orders")
    order_actions = order.add_subparsers(dest="action", metavar="ACTION", required=True)
    place = _with_node(
        order_actions.add_parser("place", help="place an order and wait until it is final")
    )
    place.add_argument("--key", type=Path, required=True, help="your key file")
    place.add_argument("--market", default="BTC/USD")
    place.add_argument("--side", choices=("buy", "sell"), required=True)
    place.add_argument("--type", choices=("limit", "market"), default="limit")
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
    cancel = _with_node(order_actions.add_parser("cancel", help="cancel one of your open orders"))
    cancel.add_argument("--key", type=Path, required=True)
    cancel.add_argument("--id", required=True, help="order id: <address>:<nonce>")
    cancel.set_defaults(handler=_order_cancel)
    listing = _with_node(order_actions.add_parser("list", help="your open orders"))
    listing.add_argument("--key", type=Path, required=True)
    listing.set_defaults(handler=_order_list)

    book = _with_node(subcommands.add_parser("book", help="the committed order book of a market"))
    book.add_argument("--market", default="BTC/USD")
    book.add_argument("--depth", type=int, default=10)
    book.set_defaults(handler=_book)

    trades = _with_node(subcommands.add_parser("trades", help="recent trades of a market"))
    trades.add_argument("--market", default="BTC/USD")
    trades.add_argument("--limit", type=int, default=20)
    trades.set_defaults(handler=_trades)

    balance = _with_node(
        subcommands.add_parser("balance", help="balances (available and locked) of an account")
    )
    who = balance.add_mutually_exclusive_group(required=True)
    who.add_argument("--key", type=Path, help="a key file")
    who.add_argument("--address", help="an account address (hex)")
    balance.set_defaults(handler=_balance)

    tx = _with_node(
        subcommands.add_parser(
            "tx", help="status of a tx: pending, committed (with its result) or unknown"
        )
    )
    tx.add_argument("tx_hash")
    tx.set_defaults(handler=_tx)

    status = _with_node(
        subcommands.add_parser("status", help="a node's height, view, primary, peers")
    )
    status.set_defaults(handler=_status)


def _with_node(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--url", default=os.environ.get("BFTX_URL"), help="a node's REST API (default $BFTX_URL)"
    )
    parser.add_argument("--testnet", type=Path, help="a testnet directory: use one of its nodes")
    parser.add_argument(
        "--node", type=int, default=0, help="with --testnet: which node (default 0)"
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
        path = arguments.testnet / f"node{arguments.node}" / "config.toml"
        try:
            api = tomllib.loads(path.read_text())["api"]
        except (OSError, KeyError, tomllib.TOMLDecodeError) as error:
            raise ClientError(
                f"{path}: not a testnet node configuration ({error})", "bad_testnet"
            ) from error
        return f"http://{api.get('host', '127.0.0.1')}:{api['port']}"
    if arguments.url:
        return str(arguments.url)
    raise ClientError("say which node: --url URL, --testnet DIR, or set BFTX_URL", "no_node")


def _run(
    arguments: argparse.Namespace, action: Callable[[Client], Any], key: Path | None = None
) -> int:
    try:
        with Client(node_url(arguments), key=key or arguments.identity) as client:
            result = action(client)
    except (ClientError, BftxError) as error:
        code = getattr(error, "code", "error")
        if getattr(arguments, "json", False):
            print(json.dumps({"error": code, "message": str(error)}))
        else:
            console.print(f"[red]error[/red] ({code}): {error}")
        return 1
    if arguments.json:
        print(json.dumps(result, default=str, indent=2))
    else:
        _show(arguments.handler, result)
    return 0


def _account_create(arguments: argparse.Namespace) -> int:
    key = KeyPair.generate()
    try:
        save_key(arguments.out, key)
    except BftxError as error:
        print(f"error: {error}", file=sys.stderr)
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
    return _run(
        arguments,
        lambda client: client.create_order(
            arguments.market,
            arguments.type,
            arguments.side,
            arguments.amount,
            arguments.price,
            params,
        ),
        key=arguments.key,
    )


def _order_cancel(arguments: argparse.Namespace) -> int:
    return _run(arguments, lambda client: client.cancel_order(arguments.id), key=arguments.key)


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
    return _run(arguments, lambda client: client.fetch_tx(arguments.tx_hash.removeprefix("0x")))


def _status(arguments: argparse.Namespace) -> int:
    return _run(arguments, lambda client: client.fetch_status())


# --- tables ------------------------------------------------------------------------


def _show(handler: Callable[..., int], result: Any) -> None:
    if handler is _book:
        table = Table(title=f"{result['symbol']} at height {result['nonce']}")
        for column in ("bid amount", "bid", "ask", "ask amount"):
            table.add_column(column, justify="right")
        rows = max(len(result["bids"]), len(result["asks"]))
        for index in range(rows):
            bid = result["bids"][index] if index < len(result["bids"]) else ["", ""]
            ask = result["asks"][index] if index < len(result["asks"]) else ["", ""]
            table.add_row(bid[1], f"[green]{bid[0]}[/green]", f"[red]{ask[0]}[/red]", ask[1])
        console.print(table)
    elif handler in (_trades,):
        table = Table(title="trades, newest first")
        for column in ("id", "price", "amount", "taker side", "time (ms)"):
            table.add_column(column, justify="right")
        for trade in result:
            table.add_row(
                trade["id"], trade["price"], trade["amount"], trade["side"], str(trade["timestamp"])
            )
        console.print(table)
    elif handler is _balance and "free" in result:
        table = Table(title="balances")
        for column in ("asset", "available", "locked", "total"):
            table.add_column(column, justify="right")
        for asset in sorted(result["total"]):
            table.add_row(
                asset, result[asset]["free"], result[asset]["used"], result[asset]["total"]
            )
        console.print(table)
    elif handler is _order_list:
        table = Table(title="open orders")
        for column in ("id", "side", "price", "amount", "filled", "remaining"):
            table.add_column(column)
        for order in result:
            table.add_row(
                order["id"],
                order["side"],
                order["price"],
                order["amount"],
                order["filled"],
                order["remaining"],
            )
        console.print(table)
    else:
        _show_mapping(result)


def _show_mapping(result: Any) -> None:
    if not isinstance(result, dict):
        console.print(result)
        return
    table = Table(show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in result.items():
        table.add_row(
            str(key),
            json.dumps(value, default=str) if isinstance(value, dict | list) else str(value),
        )
    console.print(table)
