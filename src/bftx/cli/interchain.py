"""Interchain from the command line: ``bftx ibc client create|update|recover|show``, ``bftx ibc
transfer``, ``bftx ibc packets`` (docs/interchain.md).

Each command takes the node of the chain it acts on (``--url``, default
``$BFTX_URL``, or ``--testnet DIR [--node N]``), ``--identity`` (default
``$BFTX_KEY``: signs reads where they are permissioned) and ``--json``. A
client update reads the light block from the *other* chain (``--from-url`` or
``--from-testnet``, signed with ``--from-identity``, default ``--identity``)
and submits it here: what a relayer does, by hand.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TypeAlias

import httpx

from bftx.cli.contracts import _code_of, _fail, _in_ms, _run
from bftx.cli.output import http_url, positive_seconds, timestamp_ms
from bftx.cli.trade import with_node
from bftx.client import Client, ClientError
from bftx.client.keys import url_from_testnet
from bftx.errors import BftxError

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
DAY_S = 86_400.0


def register(subcommands: Subcommands) -> None:
    ibc = subcommands.add_parser(
        "ibc", help="light clients of other bftx chains and transfers between them"
    )
    actions = ibc.add_subparsers(dest="action", metavar="ACTION", required=True)
    client = actions.add_parser("client", help="create, update or show a light client")
    client_actions = client.add_subparsers(dest="client_action", metavar="ACTION", required=True)

    create = with_node(client_actions.add_parser("create", help="a client of another chain"))
    create.add_argument("--key", type=Path, required=True, help="any registered account's key")
    create.add_argument(
        "--genesis", type=Path, required=True, help="the other chain's genesis.json"
    )
    create.add_argument(
        "--trusting-period-s",
        type=positive_seconds,
        default=DAY_S,
        help="how long a header stays trusted; update more often (default 86400)",
    )
    create.set_defaults(handler=_create)

    update = with_node(
        client_actions.add_parser("update", help="give a client a light block of its chain")
    )
    update.add_argument("--key", type=Path, required=True, help="any registered account's key")
    update.add_argument("--client-id", required=True, help="the client on this chain")
    update.add_argument("--from-url", type=http_url, help="a node of the tracked chain (REST API)")
    update.add_argument("--from-testnet", type=Path, help="or a testnet directory of it")
    update.add_argument(
        "--from-identity",
        type=Path,
        help="key file that signs the reads of the tracked chain where its reads are "
        "permissioned (default: --identity)",
    )
    update.add_argument(
        "--height", type=int, help="the header to submit (default: the newest with a state)"
    )
    update.set_defaults(handler=_update)

    recover = with_node(
        client_actions.add_parser(
            "recover",
            help="bring an expired client back with the headers of a newer client of the same "
            "chain and validators",
        )
    )
    recover.add_argument("--key", type=Path, required=True, help="any registered account's key")
    recover.add_argument("--client-id", required=True, help="the expired client")
    recover.add_argument(
        "--substitute-client-id", required=True, help="an active client of the same chain"
    )
    recover.set_defaults(handler=_recover)

    show = with_node(client_actions.add_parser("show", help="one client, or all of them"))
    show.add_argument("--client-id", help="the client (default: list every client)")
    show.set_defaults(handler=_show)

    transfer = with_node(
        actions.add_parser("transfer", help="send an asset to an account on another chain")
    )
    transfer.add_argument("--key", type=Path, required=True, help="the sender's key file")
    transfer.add_argument("--asset", required=True, help="e.g. BTC, or a voucher client-0/BTC")
    transfer.add_argument("--amount", required=True, help="in the asset's units, e.g. 0.25")
    transfer.add_argument("--receiver", required=True, help="the receiver's address there (hex)")
    transfer.add_argument("--client-id", required=True, help="this chain's client of the other")
    transfer.add_argument(
        "--counterparty-client-id", required=True, help="the other chain's client of this one"
    )
    transfer.add_argument(
        "--timeout-in",
        type=positive_seconds,
        default=600.0,
        help="refunded unless received within this many seconds (default 600)",
    )
    transfer.add_argument(
        "--timeout-ms", type=timestamp_ms, help="absolute timeout (the other's block time)"
    )
    transfer.set_defaults(handler=_transfer)

    packets = with_node(actions.add_parser("packets", help="packets sent or received here"))
    packets.add_argument("--client-id", help="only through this client")
    packets.add_argument(
        "--kind",
        choices=("commitment", "receipt", "ack"),
        default="commitment",
        help="commitment: sent, awaiting ack or timeout (default); receipt, ack: received",
    )
    packets.set_defaults(handler=_packets)


def _create(arguments: argparse.Namespace) -> int:
    period_ms = int(arguments.trusting_period_s * 1000)

    def action(client: Client) -> Any:
        return _brief(client.ibc_create_client(arguments.genesis, period_ms))

    return _run(arguments, action, key=arguments.key)


def _update(arguments: argparse.Namespace) -> int:
    try:
        source_url = _source_url(arguments)
        reader = arguments.from_identity or arguments.identity
        with Client(source_url, key=reader, timeout=arguments.timeout) as source:
            height = arguments.height
            if height is None:
                height = int(source.fetch_status()["height"])
            light_block = source.fetch_light_block(height)
    except httpx.InvalidURL as error:  # --from-url is checked; a testnet config's host is not
        _fail(arguments, "bad_url", f"not a valid node URL: {error}")
        return 2
    except (ClientError, BftxError) as error:
        return _fail(arguments, _code_of(error), str(error))

    def action(client: Client) -> Any:
        result = _brief(client.ibc_update_client(arguments.client_id, light_block))
        result["light_block_height"] = light_block["height"]
        return result

    return _run(arguments, action, key=arguments.key)


def _source_url(arguments: argparse.Namespace) -> str:
    if arguments.from_testnet is not None:
        return url_from_testnet(arguments.from_testnet, 0)
    if arguments.from_url:
        return str(arguments.from_url)
    raise ClientError(
        "say where the tracked chain is: --from-url URL or --from-testnet DIR", "no_node"
    )


def _recover(arguments: argparse.Namespace) -> int:
    def action(client: Client) -> Any:
        return _brief(
            client.ibc_recover_client(arguments.client_id, arguments.substitute_client_id)
        )

    return _run(arguments, action, key=arguments.key)


def _show(arguments: argparse.Namespace) -> int:
    if arguments.client_id is None:
        return _run(arguments, lambda client: client.fetch_ibc_clients())
    return _run(arguments, lambda client: client.fetch_ibc_client(arguments.client_id))


def _transfer(arguments: argparse.Namespace) -> int:
    timeout = (
        arguments.timeout_ms if arguments.timeout_ms is not None else _in_ms(arguments.timeout_in)
    )

    def action(client: Client) -> Any:
        result = client.ibc_transfer(
            arguments.asset,
            arguments.amount,
            arguments.receiver,
            arguments.client_id,
            arguments.counterparty_client_id,
            timeout,
        )
        shown = _brief(result)
        shown.update({"sequence": result["sequence"], "packet": result["packet"]})
        return shown

    return _run(arguments, action, key=arguments.key)


def _packets(arguments: argparse.Namespace) -> int:
    def action(client: Client) -> Any:
        found = client.fetch_ibc_packets(arguments.client_id, arguments.kind)
        if arguments.json:
            return found
        return [
            {
                "route": f"{p['packet']['source_client']} -> {p['packet']['destination_client']}",
                "sequence": p["sequence"],
                "asset": p["packet"]["asset"],
                "amount": p["amount"],
                "timeout_ms": p["timeout_ms"],
                **({"ack": p["ack"]["error"] or "success"} if p.get("ack") else {}),
            }
            for p in found
        ]

    return _run(arguments, action)


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    info = result.get("info", {})
    shown = {key: value for key, value in result.items() if key not in ("info", "packet")}
    shown["height"] = info.get("height")
    shown["events"] = [event.get("kind") for event in info.get("events", [])]
    return shown
