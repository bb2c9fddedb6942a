"""``bftx swap``: atomic swaps between bftx and an Ethereum chain (any JSON-RPC node).

    bftx swap deploy   --eth-rpc URL --eth-key FILE             # the HashedTimelock contract
    bftx swap initiate --state alice.json --offer offer.json ...  # secret, lock, offer, watch
    bftx swap respond  --state bob.json --offer offer.json ...    # check, lock, watch
    bftx swap watch    --state FILE                               # resume after a restart
    bftx swap show     --state FILE

The initiator gives on the chain named by ``--give`` (bftx or ethereum) and
takes on the other. Each party's watcher keeps its progress in its state file
(written atomically; it holds the initiator's secret: keep it private), so a
killed watcher is started again with ``bftx swap watch``. Exit status: 0 when
this party claimed (or locked, with ``--no-watch``), 2 when the swap did not
happen and its lock came back (refunded) or was never made (abandoned), 1 on
an error. The timing rule and its defaults: docs/settlement.md, "Atomic swaps
with Ethereum".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bftx.cli.output import print_error
from bftx.client import ClientError
from bftx.errors import BftxError, ConfigError

if TYPE_CHECKING:  # web3 takes a second to import: only `bftx swap` itself pays for it
    from bftx.swap import Phase, SwapDriver, SwapState, SwapTiming
    from bftx.swap.legs import BftxLeg, EthereumLeg

WATCH_TIMEOUT_S_DEFAULT = 7 * 24 * 3600.0


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    swap = subcommands.add_parser(
        "swap", help="atomic swaps with an Ethereum chain (HTLCs on both, a restartable watcher)"
    )
    actions = swap.add_subparsers(dest="action", metavar="ACTION", required=True)

    deploy = actions.add_parser("deploy", help="deploy the HashedTimelock contract")
    _ethereum_arguments(deploy, htlc=False)
    deploy.set_defaults(handler=_deploy)

    initiate = actions.add_parser(
        "initiate", help="make the secret, lock, write the offer, then watch until done"
    )
    _state_argument(initiate)
    initiate.add_argument("--offer", type=Path, required=True, help="where to write the offer")
    _connection_arguments(initiate)
    initiate.add_argument(
        "--give",
        choices=("bftx", "ethereum"),
        default="bftx",
        help="the chain you lock on (default bftx); you take on the other",
    )
    initiate.add_argument("--bftx-amount", required=True, help="amount of --asset, e.g. 0.5")
    initiate.add_argument("--eth-amount", required=True, help="ether, e.g. 2")
    initiate.add_argument(
        "--counterparty-bftx", required=True, help="the responder's bftx address (hex)"
    )
    initiate.add_argument(
        "--counterparty-eth", required=True, help="the responder's Ethereum address"
    )
    initiate.add_argument(
        "--window-s",
        type=float,
        default=7200.0,
        help="how long the responder's lock may stay open from now (default 2 h); the "
        "initiator's lock lasts longer by the margin",
    )
    _timing_arguments(initiate)
    initiate.set_defaults(handler=_initiate)

    respond = actions.add_parser(
        "respond", help="check an offer and the initiator's lock, lock, then watch until done"
    )
    _state_argument(respond)
    respond.add_argument("--offer", type=Path, required=True, help="the initiator's offer file")
    _connection_arguments(respond)
    respond.add_argument(
        "--bftx-amount",
        required=True,
        help="the amount of --asset agreed (checked against the offer)",
    )
    respond.add_argument(
        "--eth-amount", required=True, help="the ether agreed (checked against the offer)"
    )
    _timing_arguments(respond)
    respond.set_defaults(handler=_respond)

    watch = actions.add_parser("watch", help="resume a swap from its state file until it ends")
    _state_argument(watch)
    watch.add_argument(
        "--timeout-s", type=float, default=WATCH_TIMEOUT_S_DEFAULT, help="give up after this long"
    )
    watch.add_argument(
        "--counterparty-lock",
        metavar="ID",
        help="initiator only: the responder's lock id, as the responder's `bftx swap respond` "
        "printed it (needed where the network's reads are permissioned)",
    )
    watch.set_defaults(handler=_watch)

    show = actions.add_parser("show", help="a swap's phase, terms and log")
    _state_argument(show)
    show.add_argument("--json", action="store_true", help="the whole state (without the secret)")
    show.set_defaults(handler=_show)


def _state_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state", type=Path, required=True, help="this party's swap state file (JSON)"
    )


def _ethereum_arguments(parser: argparse.ArgumentParser, *, htlc: bool = True) -> None:
    parser.add_argument(
        "--eth-rpc", required=True, metavar="URL", help="an Ethereum JSON-RPC node (http[s]://)"
    )
    parser.add_argument(
        "--eth-key", type=Path, required=True, help="file with your hex Ethereum private key"
    )
    if htlc:
        parser.add_argument(
            "--htlc", required=True, metavar="ADDRESS", help="the HashedTimelock contract"
        )


def _connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="a bftx node's REST API")
    parser.add_argument("--key", type=Path, required=True, help="your bftx key file")
    parser.add_argument("--asset", default="BTC", help="the bftx asset swapped (default BTC)")
    _ethereum_arguments(parser)
    parser.add_argument(
        "--no-watch", action="store_true", help="stop once your lock is final (watch later)"
    )


def _timing_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("timing (docs/settlement.md; defaults suit Ethereum mainnet)")
    group.add_argument(
        "--bftx-finality-s", type=float, default=10.0, help="bftx: submit to final (default 10)"
    )
    group.add_argument(
        "--eth-finality-s",
        type=float,
        default=900.0,
        help="Ethereum: submit to final (default 900: two epochs and slack)",
    )
    group.add_argument(
        "--eth-confirmations",
        type=int,
        default=64,
        help="blocks on top before an Ethereum block counts as final (default 64)",
    )
    group.add_argument(
        "--clock-drift-s",
        type=float,
        default=15.0,
        help="how far a chain's block times may be off (default 15)",
    )
    group.add_argument(
        "--poll-s", type=float, default=5.0, help="watcher poll interval (default 5)"
    )


# ---- handlers ----------------------------------------------------------------------------


def _deploy(arguments: argparse.Namespace) -> int:
    def deploy() -> int:
        from bftx.ethereum import EthereumHtlc, connect, load_key

        web3 = connect(arguments.eth_rpc)
        htlc = EthereumHtlc.deploy(web3, load_key(arguments.eth_key))
        print(htlc.address)
        return 0

    return _guarded(deploy)


def _initiate(arguments: argparse.Namespace) -> int:
    def initiate() -> int:
        from bftx.swap import Phase, SwapDriver

        _refuse_existing(arguments.state)
        connections = _connections(arguments)
        bftx_leg, eth_leg = _legs(connections)
        own, other = (bftx_leg, eth_leg) if arguments.give == "bftx" else (eth_leg, bftx_leg)
        amounts = {
            "bftx": _units(arguments.bftx_amount, bftx_leg.decimals, "--bftx-amount"),
            "ethereum": _units(arguments.eth_amount, 18, "--eth-amount"),
        }
        counterparty = {
            "bftx": arguments.counterparty_bftx,
            "ethereum": arguments.counterparty_eth,
        }
        timing = _timing(connections["timing"], own.chain, other.chain)
        driver = SwapDriver.initiate(
            own_leg=own,
            other_leg=other,
            timing=timing,
            amount=amounts[own.chain],
            counterparty_receiver=counterparty[own.chain],
            counterparty_sender=counterparty[other.chain],
            counterparty_amount=amounts[other.chain],
            responder_window_ms=int(arguments.window_s * 1000),
            path=arguments.state,
            on_event=_say,
        )
        driver.state.connections = connections
        driver.save()
        _run_until(driver, Phase.LOCKED, connections)
        if driver.state.phase is Phase.LOCKED:
            offer = driver.state.terms.to_json()
            arguments.offer.write_text(json.dumps(offer, indent=2) + "\n")
            _say(f"offer written to {arguments.offer}: give it to the responder")
        return _finish(driver, connections, arguments.no_watch)

    return _guarded(initiate)


def _respond(arguments: argparse.Namespace) -> int:
    def respond() -> int:
        from bftx.swap import Phase, SwapDriver, Terms

        _refuse_existing(arguments.state)
        try:
            offer = Terms.from_json(json.loads(arguments.offer.read_text()))
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot read the offer {arguments.offer}: {error}") from error
        connections = _connections(arguments)
        bftx_leg, eth_leg = _legs(connections)
        own, other = (eth_leg, bftx_leg) if offer.initiator_chain == "bftx" else (bftx_leg, eth_leg)
        agreed = {
            "bftx": _units(arguments.bftx_amount, bftx_leg.decimals, "--bftx-amount"),
            "ethereum": _units(arguments.eth_amount, 18, "--eth-amount"),
        }
        offered = {
            offer.initiator_chain: offer.initiator_amount,
            offer.responder_chain: offer.responder_amount,
        }
        if offered != agreed:
            raise ConfigError(
                f"the offer's amounts {offered} (smallest units) are not the agreed {agreed}"
            )
        driver = SwapDriver.respond(
            offer,
            own_leg=own,
            other_leg=other,
            timing=_timing(connections["timing"], other.chain, own.chain),
            path=arguments.state,
            on_event=_say,
        )
        driver.state.connections = connections
        driver.save()
        _run_until(driver, Phase.LOCKED, connections)
        if driver.state.phase is Phase.LOCKED:
            _say(
                f"your lock id is {driver.state.own_lock_id}; where reads are permissioned the "
                "initiator needs it: bftx swap watch --state THEIR_FILE --counterparty-lock "
                f"{driver.state.own_lock_id}"
            )
        return _finish(driver, connections, arguments.no_watch)

    return _guarded(respond)


def _watch(arguments: argparse.Namespace) -> int:
    def watch() -> int:
        from bftx.swap import Role, load_state

        state = load_state(arguments.state)
        driver = _resume(state, arguments.state)
        if arguments.counterparty_lock is not None:
            if state.role is not Role.INITIATOR:
                raise ConfigError("--counterparty-lock is for the initiator's watcher")
            driver.accept_counterparty_lock(arguments.counterparty_lock)
            driver.save()
        driver.run(
            poll_s=float(state.connections["timing"]["poll_s"]),
            timeout_s=arguments.timeout_s,
        )
        return _outcome(driver)

    return _guarded(watch)


def _show(arguments: argparse.Namespace) -> int:
    def show() -> int:
        from bftx.swap import load_state

        state = load_state(arguments.state)
        if arguments.json:
            document = state.to_json()
            document["secret"] = None if state.secret is None else "(hidden)"
            print(json.dumps(document, indent=2))
            return 0
        terms = state.terms
        print(f"{state.role.value}: {state.phase.value}")
        print(
            f"  {terms.initiator_chain}: {terms.initiator_amount} {terms.initiator_asset} "
            f"(smallest units) from {terms.initiator_sender} to {terms.initiator_receiver}, "
            f"until {terms.initiator_expiry_ms} ms"
        )
        print(
            f"  {terms.responder_chain}: {terms.responder_amount} {terms.responder_asset} "
            f"(smallest units) from {terms.responder_sender} to {terms.responder_receiver}, "
            f"until {terms.responder_expiry_ms} ms"
        )
        print(f"  own lock {state.own_lock_id}, counterparty lock {state.counterparty_lock_id}")
        for entry in state.log:
            print(f"  {entry['at']}  {entry['event']}")
        return 0

    return _guarded(show)


# ---- plumbing ------------------------------------------------------------------------------


def _connections(arguments: argparse.Namespace) -> dict[str, Any]:
    if arguments.poll_s <= 0:
        raise ConfigError("--poll-s must be positive")
    if arguments.eth_confirmations < 0:
        raise ConfigError("--eth-confirmations must be zero or more")
    return {
        "bftx_url": arguments.url,
        "bftx_key": str(arguments.key.resolve()),
        "asset": arguments.asset,
        "eth_rpc": arguments.eth_rpc,
        "eth_key": str(arguments.eth_key.resolve()),
        "htlc": arguments.htlc,
        "eth_confirmations": arguments.eth_confirmations,
        "timing": {
            "bftx_finality_ms": _ms(arguments.bftx_finality_s, "--bftx-finality-s"),
            "eth_finality_ms": _ms(arguments.eth_finality_s, "--eth-finality-s"),
            "clock_drift_ms": _ms(arguments.clock_drift_s, "--clock-drift-s"),
            "poll_s": arguments.poll_s,
        },
    }


def _legs(connections: dict[str, Any]) -> tuple[BftxLeg, EthereumLeg]:
    from bftx.client import Client
    from bftx.ethereum import EthereumHtlc, connect, load_key
    from bftx.swap.legs import BftxLeg, EthereumLeg

    web3 = connect(str(connections["eth_rpc"]))
    htlc = EthereumHtlc(
        web3, str(connections["htlc"]), confirmations=int(connections["eth_confirmations"])
    )
    eth_leg = EthereumLeg(
        htlc,
        load_key(str(connections["eth_key"])),
        finality_ms=int(connections["timing"]["eth_finality_ms"]),
    )
    client = Client(str(connections["bftx_url"]), key=str(connections["bftx_key"]))
    return BftxLeg(client, str(connections["asset"])), eth_leg


def _timing(values: dict[str, Any], initiator_chain: str, responder_chain: str) -> SwapTiming:
    from bftx.swap import ChainTiming, SwapTiming

    finality = {
        "bftx": int(values["bftx_finality_ms"]),
        "ethereum": int(values["eth_finality_ms"]),
    }
    return SwapTiming(
        initiator_chain=ChainTiming(initiator_chain, finality[initiator_chain]),
        responder_chain=ChainTiming(responder_chain, finality[responder_chain]),
        clock_drift_ms=int(values["clock_drift_ms"]),
        reaction_ms=int(2 * 1000 * float(values["poll_s"])),
    )


def _resume(state: SwapState, path: Path) -> SwapDriver:
    from bftx.swap import Role, SwapDriver
    from bftx.swap.legs import Leg

    connections = state.connections
    if not connections:
        raise ConfigError(f"{path} has no connection settings: it was not made by `bftx swap`")
    bftx_leg, eth_leg = _legs(connections)
    legs: dict[str, Leg] = {"bftx": bftx_leg, "ethereum": eth_leg}
    initiator = state.role is Role.INITIATOR
    own_chain = state.terms.initiator_chain if initiator else state.terms.responder_chain
    other_chain = "ethereum" if own_chain == "bftx" else "bftx"
    initiator_chain = state.terms.initiator_chain
    responder_chain = state.terms.responder_chain
    return SwapDriver.resume(
        state,
        own_leg=legs[own_chain],
        other_leg=legs[other_chain],
        timing=_timing(connections["timing"], initiator_chain, responder_chain),
        path=path,
        on_event=_say,
    )


def _run_until(driver: SwapDriver, phase: Phase, connections: dict[str, Any]) -> None:
    """Step until ``phase`` (or the end): a lock becomes final within a few polls."""
    poll_s = float(connections["timing"]["poll_s"])
    while driver.state.phase is not phase and not driver.done:
        driver.step()
        if driver.state.phase is not phase and not driver.done:
            time.sleep(poll_s)


def _finish(driver: SwapDriver, connections: dict[str, Any], no_watch: bool) -> int:
    if no_watch or driver.done:
        if not driver.done:
            _say(f"stopped; resume with: bftx swap watch --state {driver.path}")
        return _outcome(driver)
    driver.run(poll_s=float(connections["timing"]["poll_s"]), timeout_s=WATCH_TIMEOUT_S_DEFAULT)
    return _outcome(driver)


def _outcome(driver: SwapDriver) -> int:
    """0: claimed (or locked, with --no-watch); 2: refunded or abandoned (no swap, funds back)."""
    from bftx.swap import Phase

    phase = driver.state.phase
    print(f"swap {phase.value}")
    return 2 if phase in (Phase.REFUNDED, Phase.ABANDONED) else 0


def _refuse_existing(path: Path) -> None:
    if path.exists():
        raise ConfigError(
            f"{path} exists: it may hold a swap in progress (and its secret); "
            f"resume it with `bftx swap watch --state {path}` or choose another file"
        )


def _units(text: str, decimals: int, flag: str) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation as error:
        raise ConfigError(f"{flag} {text!r} is not a decimal number") from error
    units = value.scaleb(decimals)
    if not value.is_finite() or units <= 0 or units != units.to_integral_value():
        raise ConfigError(f"{flag} must be positive with at most {decimals} decimal places")
    return int(units)


def _ms(seconds: float, flag: str) -> int:
    if seconds < 0:
        raise ConfigError(f"{flag} must be zero or more")
    return int(seconds * 1000)


def _say(message: str) -> None:
    print(message, flush=True)


def _guarded(action: Any) -> int:
    try:
        result: int = action()
        return result
    except (BftxError, ClientError, TimeoutError) as error:
        print_error(str(error), getattr(error, "code", None))
        return 1
    except KeyboardInterrupt:
        print("bftx swap: interrupted; resume with `bftx swap watch --state FILE`", file=sys.stderr)
        return 130
