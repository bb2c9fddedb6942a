"""Contracts and proofs from the command line: ``bftx htlc``, ``bftx deal``, ``bftx proof``,
``bftx verify``.

Like the trading commands (`bftx.cli.trade.with_node`), each network command
takes ``--url`` (default ``$BFTX_URL``) or ``--testnet DIR [--node N]``,
``--timeout``, ``--json``, and ``--identity`` (default ``$BFTX_KEY``), the key
that signs reads where reads are permissioned. ``bftx verify`` needs no
network: it checks a proof bundle against a genesis file alone.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

import httpx

from bftx import crypto
from bftx.chain import Genesis
from bftx.cli.output import hex_bytes32, positive_seconds, print_error, timestamp_ms
from bftx.cli.trade import node_url, with_node
from bftx.client import Client, ClientError
from bftx.client.verify import describe_value, verify_bundle
from bftx.errors import BftxError, ConfigError, DecodeError

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(subcommands: Subcommands) -> None:
    _register_htlc(subcommands)
    _register_deal(subcommands)
    proof = with_node(
        subcommands.add_parser(
            "proof", help="fetch a membership or absence proof of a state entry, with its header"
        )
    )
    proof.add_argument(
        "key",
        help="account:<address>, htlc:<id>, deal:<id>, order:<owner>:<nonce>, supply:<SYMBOL>, "
        "counters or raw:<hex>",
    )
    proof.add_argument("--height", type=int, help="the state after this block (default: newest)")
    proof.add_argument("--out", type=Path, help="write the proof bundle (JSON) to this file")
    proof.set_defaults(handler=_proof)

    verify = subcommands.add_parser(
        "verify",
        help="check a proof bundle offline: certificate, header and proof against the genesis",
    )
    verify.add_argument("--genesis", type=Path, required=True, help="the chain's genesis.json")
    verify.add_argument(
        "--proof", type=Path, required=True, help="a bundle from `bftx proof --out`"
    )
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(handler=_verify)


def _register_htlc(subcommands: Subcommands) -> None:
    htlc = subcommands.add_parser("htlc", help="hashed time-lock contracts: lock, claim, refund")
    actions = htlc.add_subparsers(dest="action", metavar="ACTION", required=True)
    lock = with_node(actions.add_parser("lock", help="lock funds for a receiver"))
    lock.add_argument("--key", type=Path, required=True, help="your key file")
    lock.add_argument("--asset", required=True, help="the asset to lock, e.g. BTC")
    lock.add_argument("--amount", required=True, help="in the asset's units, e.g. 0.25")
    lock.add_argument("--receiver", required=True, help="the receiver's address (hex)")
    lock.add_argument(
        "--hashlock",
        type=hex_bytes32,
        help="hex SHA-256 of the 32-byte secret (default: a new secret, printed once)",
    )
    lock.add_argument(
        "--expires-in",
        type=positive_seconds,
        default=3600.0,
        help="seconds from now (default 3600)",
    )
    lock.add_argument("--expiry-ms", type=timestamp_ms, help="absolute expiry (block time, ms)")
    lock.set_defaults(handler=_htlc_lock)
    claim = with_node(actions.add_parser("claim", help="reveal the secret: pays the receiver"))
    claim.add_argument("--key", type=Path, required=True, help="any registered account's key")
    claim.add_argument("--id", type=hex_bytes32, required=True, help="the HTLC's id (hex)")
    claim.add_argument(
        "--preimage", type=hex_bytes32, required=True, help="the 32-byte secret in hex"
    )
    claim.set_defaults(handler=_htlc_claim)
    refund = with_node(actions.add_parser("refund", help="take the funds back after expiry"))
    refund.add_argument("--key", type=Path, required=True, help="the sender's key file")
    refund.add_argument("--id", type=hex_bytes32, required=True, help="the HTLC's id (hex)")
    refund.set_defaults(handler=_htlc_refund)
    show = with_node(actions.add_parser("show", help="one HTLC"))
    show.add_argument("--id", type=hex_bytes32, required=True, help="the HTLC's id (hex)")
    show.set_defaults(handler=_htlc_show)


def _register_deal(subcommands: Subcommands) -> None:
    deal = subcommands.add_parser(
        "deal", help="escrowed delivery versus payment between two parties"
    )
    actions = deal.add_subparsers(dest="action", metavar="ACTION", required=True)
    propose = with_node(
        actions.add_parser("propose", help="propose to deliver one asset against another")
    )
    propose.add_argument("--key", type=Path, required=True, help="your key file (party A)")
    propose.add_argument("--counterparty", required=True, help="party B's address (hex)")
    propose.add_argument("--deliver-asset", required=True, help="what you deliver")
    propose.add_argument("--deliver-amount", required=True, help="in its units, e.g. 0.1")
    propose.add_argument("--pay-asset", required=True, help="what the counterparty pays")
    propose.add_argument("--pay-amount", required=True, help="in its units, e.g. 4000")
    propose.add_argument(
        "--deadline-in",
        type=positive_seconds,
        default=3600.0,
        help="seconds from now (default 3600)",
    )
    propose.add_argument(
        "--deadline-ms", type=timestamp_ms, help="absolute deadline (block time, ms)"
    )
    propose.set_defaults(handler=_deal_propose)
    for name, text, handler in (
        ("fund", "escrow your leg; the second leg funded settles the deal", _deal_fund),
        ("cancel", "call the deal off while the other leg is unfunded", _deal_cancel),
    ):
        action = with_node(actions.add_parser(name, help=text))
        action.add_argument("--key", type=Path, required=True, help="a party's key file")
        action.add_argument("--id", type=hex_bytes32, required=True, help="the deal's id (hex)")
        action.set_defaults(handler=handler)
    show = with_node(actions.add_parser("show", help="one deal"))
    show.add_argument("--id", type=hex_bytes32, required=True, help="the deal's id (hex)")
    show.set_defaults(handler=_deal_show)


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
        return _fail(arguments, _code_of(error), str(error))
    _print(arguments, result)
    return 0


def _code_of(error: ClientError | BftxError) -> str:
    """The stable code of an error: the node's, or what kind of bad input it was here."""
    if isinstance(error, ClientError):
        return error.code
    if isinstance(error, ConfigError):
        return "bad_input"  # a file or an option this command cannot use
    if isinstance(error, DecodeError):
        return "malformed"
    return "error"


def _fail(arguments: argparse.Namespace, code: str, message: str) -> int:
    if getattr(arguments, "json", False):
        print(json.dumps({"error": code, "message": message}))
    else:
        print_error(message, code)
    return 1


def _print(arguments: argparse.Namespace, result: Any) -> None:
    if arguments.json or not isinstance(result, dict):
        print(json.dumps(result, default=str, indent=2))
        return
    width = max((len(str(name)) for name in result), default=0)
    for name, value in result.items():
        shown = json.dumps(value, default=str) if isinstance(value, dict | list) else value
        print(f"{str(name).ljust(width)}  {shown}")


def _in_ms(seconds: float) -> int:
    return int(time.time() * 1000 + seconds * 1000)


# --- htlc ------------------------------------------------------------------------------


def _htlc_lock(arguments: argparse.Namespace) -> int:
    secret: bytes | None = None
    if arguments.hashlock is None:
        secret = secrets.token_bytes(32)
        hashlock = crypto.sha256(secret).hex()
    else:
        hashlock = arguments.hashlock
    expiry = (
        arguments.expiry_ms if arguments.expiry_ms is not None else _in_ms(arguments.expires_in)
    )

    def action(client: Client) -> Any:
        result = client.htlc_lock(
            arguments.asset, arguments.amount, arguments.receiver, hashlock, expiry
        )
        shown: dict[str, Any] = {"id": result["id"], "status": result["status"]}
        shown.update({"hashlock": hashlock, "expiry_ms": expiry})
        if secret is not None:
            shown["secret"] = secret.hex()  # the only copy: keep it to claim
        shown["height"] = result["info"].get("height")
        return shown

    return _run(arguments, action, key=arguments.key)


def _htlc_claim(arguments: argparse.Namespace) -> int:
    return _run(
        arguments,
        lambda client: _brief(client.htlc_claim(arguments.id, arguments.preimage)),
        key=arguments.key,
    )


def _htlc_refund(arguments: argparse.Namespace) -> int:
    return _run(
        arguments, lambda client: _brief(client.htlc_refund(arguments.id)), key=arguments.key
    )


def _htlc_show(arguments: argparse.Namespace) -> int:
    return _run(arguments, lambda client: client.fetch_htlc(arguments.id))


# --- deal ------------------------------------------------------------------------------


def _deal_propose(arguments: argparse.Namespace) -> int:
    deadline = (
        arguments.deadline_ms
        if arguments.deadline_ms is not None
        else _in_ms(arguments.deadline_in)
    )
    return _run(
        arguments,
        lambda client: _brief(
            client.deal_propose(
                arguments.counterparty,
                arguments.deliver_asset,
                arguments.deliver_amount,
                arguments.pay_asset,
                arguments.pay_amount,
                deadline,
            )
        ),
        key=arguments.key,
    )


def _deal_fund(arguments: argparse.Namespace) -> int:
    return _run(arguments, lambda client: _brief(client.deal_fund(arguments.id)), key=arguments.key)


def _deal_cancel(arguments: argparse.Namespace) -> int:
    return _run(
        arguments, lambda client: _brief(client.deal_cancel(arguments.id)), key=arguments.key
    )


def _deal_show(arguments: argparse.Namespace) -> int:
    return _run(arguments, lambda client: client.fetch_deal(arguments.id))


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    info = result.get("info", {})
    events = [event.get("kind") for event in info.get("events", [])]
    return {
        "id": result["id"],
        "status": result["status"],
        "height": info.get("height"),
        "events": events,
    }


# --- proofs ----------------------------------------------------------------------------


def _proof(arguments: argparse.Namespace) -> int:
    def action(client: Client) -> Any:
        bundle = client.fetch_proof(arguments.key, arguments.height)
        if arguments.out is not None:
            try:
                arguments.out.write_text(json.dumps(bundle, indent=2) + "\n")
            except OSError as error:
                raise ClientError(
                    f"{arguments.out}: cannot write the proof: {error.strerror}", "unwritable"
                ) from error
        return bundle

    return _run(arguments, action)


def _verify(arguments: argparse.Namespace) -> int:
    try:
        genesis = Genesis.load(arguments.genesis)
        bundle = json.loads(arguments.proof.read_text())
        if not isinstance(bundle, dict):
            raise ClientError(f"{arguments.proof}: expected a JSON object", "bad_proof_file")
        verified = verify_bundle(genesis, bundle)
    except OSError as error:
        return _fail(arguments, "unreadable", f"{arguments.proof}: {error.strerror}")
    except json.JSONDecodeError as error:
        return _fail(arguments, "bad_proof_file", f"{arguments.proof}: not JSON: {error}")
    except (ClientError, BftxError) as error:
        return _fail(arguments, getattr(error, "code", "error"), str(error))
    _print(
        arguments,
        {
            "valid": True,
            "key": verified.key_text,  # checked by the verifier to name verified.key
            "key_hex": verified.key.hex(),
            "present": verified.value is not None,
            "value": describe_value(verified.key, verified.value),
            "height": verified.height,
            "state_root": verified.state_root.hex(),
            "certified_by_block": verified.certified_height,
            "chain_id": genesis.chain_id,
        },
    )
    return 0
