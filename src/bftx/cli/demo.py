"""``bftx demo``: the seed's scenario, step by step, on a local 4-validator testnet.

Alice buys 1.5 BTC at 45,000 USD against Bob's resting sell. The demo prints
each step of the data flow (docs/architecture.md) with its timing: submitted,
admitted, gossiped to every node, proposed in block h, committed with its
certificate, settled (balances before and after), and the latency from
submission to finality.

By default the network then keeps running, so the README's quick start can go
on from it: the testnet is written to ``./testnet`` (``--dir``) on the fixed
ports of ``bftx testnet init`` (REST API 8700+i, metrics 9700+i, p2p
26600+i, gRPC 50600+i) until Ctrl-C; the directory stays, and
``bftx testnet start --dir testnet`` starts the same network again. With
``--exit`` the demo runs in a temporary directory on free ports, removes it
and exits, which is what tests and CI want. Every command it prints runs as
printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from rich.console import Console
from rich.markup import escape

from bftx.cli import demo_swap
from bftx.cli.output import bftx_command, display_path
from bftx.client import AsyncClient, ClientError
from bftx.errors import BftxError, ConfigError

if TYPE_CHECKING:
    from bftx.node.launcher import NodeProcesses

console = Console(highlight=False)
SYMBOL = "BTC/USD"
VALIDATORS = 4
DEFAULT_DIR = Path("testnet")
MARKER = ".bftx-demo"  # a directory holding this file was written by the demo and may be replaced


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "demo",
        help="watch one trade go through a local 4-validator network, step by step",
        description=(
            "Start a local testnet of 4 validators, place Bob's sell and Alice's buy of "
            "1.5 BTC at 45,000 USD, and print each step from submission to finality. The "
            "network then keeps running (in ./testnet, REST API on http://127.0.0.1:8700) "
            "until Ctrl-C, so you can try the CLI and the SDK against it."
        ),
    )
    parser.add_argument(
        "--exit",
        action="store_true",
        help="stop after the scenario: run in a temporary directory on free ports and remove it",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help=(
            "where to write the testnet (default: ./testnet, replaced if an earlier demo wrote "
            "it; with --exit a temporary directory)"
        ),
    )
    parser.add_argument(
        "--random-ports",
        action="store_true",
        help="free ports instead of the fixed ones (API 8700+i, metrics 9700+i); --exit implies it",
    )
    parser.add_argument(
        "--keep", action="store_true", help="with --exit: keep the temporary testnet directory"
    )
    parser.add_argument(
        "--scenario",
        choices=("trade", "swap", "interchain"),
        default="trade",
        help="trade: the seed's order, step by step (default); swap: atomic swaps of BTC on "
        "bftx for ETH on an Ethereum dev chain (success, responder never locks, initiator "
        "never claims); interchain: BTC between two bftx networks through light clients and "
        "a relayer process (out, transfer on B, home, relayer killed, timeout, forged proof), on free ports in a temporary directory (or --dir)",
    )
    demo_swap.add_arguments(parser)
    parser.set_defaults(handler=_demo)


def _demo(arguments: argparse.Namespace) -> int:
    if arguments.scenario == "interchain":
        from bftx.cli.demo_interchain import run_interchain_demo

        return run_interchain_demo(arguments)
    stays_up = not arguments.exit
    swap = arguments.scenario == "swap"
    console.print(
        "[bold]bftx demo[/bold]: atomic swaps of BTC on a 4-validator bftx testnet for ETH on "
        "Ethereum\n"
        if swap
        else "[bold]bftx demo[/bold]: Alice buys 1.5 BTC at 45,000 USD from Bob on a "
        "4-validator testnet (f = 1)\n"
    )
    from bftx.node.launcher import api_urls

    try:
        with _testnet_directory(arguments) as testnet, _running(testnet) as nodes:
            console.print(f"testnet in {display_path(testnet)}; node logs in {_logs(testnet)}")
            urls = api_urls(testnet)
            if swap:
                asyncio.run(_ready(urls))
                demo_swap.run_swap_demo(testnet, urls, arguments.eth_rpc, arguments.eth_key)
            else:
                asyncio.run(_scenario(testnet, urls))
            if stays_up:
                _print_next_steps(testnet)
                _wait_for_interrupt(nodes)
            else:
                console.print(
                    "\nwithout --exit the network stays up: every node serves its REST API, "
                    "with interactive docs at /docs, and the demo prints commands to try",
                    soft_wrap=True,
                )
    except (BftxError, ClientError, httpx.HTTPError, TimeoutError) as error:
        console.print(f"[red]demo failed[/red]: {escape(str(error))}", soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        pass
    console.print("stopped")
    return 0


@contextlib.contextmanager
def _testnet_directory(arguments: argparse.Namespace) -> Iterator[Path]:
    """A fresh testnet: in ``--dir`` (kept), or in a temporary directory with ``--exit``."""
    from bftx.node.testnet import create_testnet

    if arguments.exit and arguments.dir is None:
        parent = Path(tempfile.mkdtemp(prefix="bftx-demo-"))
        try:
            create_testnet(parent / "testnet", VALIDATORS, traders=0)
            yield parent / "testnet"
        finally:
            if arguments.keep:
                testnet = display_path(parent / "testnet")
                console.print(
                    f"kept {testnet}; start it again with: {bftx_command()} testnet start --dir {testnet}"
                )
            else:
                shutil.rmtree(parent, ignore_errors=True)
        return
    directory: Path = arguments.dir or DEFAULT_DIR
    fixed_ports = not (arguments.random_ports or arguments.exit)
    _clear_earlier_demo(directory)
    if fixed_ports:
        _check_ports_free()
    create_testnet(directory, VALIDATORS, traders=0, fixed_ports=fixed_ports)
    (directory / MARKER).write_text("written by `bftx demo`; the next demo replaces it\n")
    yield directory


def _clear_earlier_demo(directory: Path) -> None:
    if not directory.exists() or not any(directory.iterdir()):
        return
    if not (directory / MARKER).exists():
        raise ConfigError(
            f"{display_path(directory)} exists and was not written by bftx demo; "
            "remove it or choose another directory with --dir"
        )
    shutil.rmtree(directory)


def _check_ports_free() -> None:
    from bftx.node.testnet import API_PORT, GRPC_PORT, METRICS_PORT, P2P_PORT

    for base in (API_PORT, METRICS_PORT, P2P_PORT, GRPC_PORT):
        for port in range(base, base + VALIDATORS):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError as error:
                    raise ConfigError(
                        f"port {port} on 127.0.0.1 is in use ({error.strerror}): is another "
                        "bftx demo or testnet running? Stop it with Ctrl-C in its terminal, "
                        "or run this demo on free ports: make demo ARGS=--random-ports"
                    ) from error


@contextlib.contextmanager
def _running(testnet: Path) -> Iterator[NodeProcesses]:
    """Every node of ``testnet`` as a process, stopped however the block ends (Ctrl-C, SIGTERM)."""
    from bftx.node.launcher import NodeProcesses

    previous = signal.getsignal(signal.SIGTERM)

    def on_terminate(_signal: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_terminate)
    nodes = NodeProcesses(testnet)
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()
        signal.signal(signal.SIGTERM, previous)


def _logs(testnet: Path) -> str:
    return f"{display_path(testnet)}/nodeN/node.log"


def _print_next_steps(testnet: Path) -> None:
    import tomllib

    from bftx.node.launcher import node_homes

    bftx = bftx_command()
    where = shlex.quote(display_path(testnet))
    alice = shlex.quote(display_path(testnet / "accounts" / "alice.json"))
    console.print(f"\n[bold]The testnet keeps running[/bold] in {where} until Ctrl-C here:")
    for home in node_homes(testnet):
        config = tomllib.loads((home / "config.toml").read_text())
        api, metrics = config["api"], config["metrics"]
        console.print(
            f"  {home.name}  REST API http://{api['host']}:{api['port']} (docs /docs)  "
            f"metrics http://{metrics['host']}:{metrics['port']}/metrics",
            soft_wrap=True,
        )
    console.print("\nTry, in another terminal:")
    for command in (
        f"{bftx} status --testnet {where}",
        f"{bftx} book --testnet {where}",
        f"{bftx} order place --testnet {where} --key {alice} --side buy --amount 0.5 --price 44000",
        f"{bftx} order list --testnet {where} --key {alice}",
        f"{bftx} balance --testnet {where} --key {alice}",
        f"{bftx} trades --testnet {where} --node 2",
    ):
        console.print(f"  {command}", soft_wrap=True, markup=False)
    console.print("or the Python SDK (docs/sdk.md):")
    code = (
        "from bftx.client import Client; print(Client.from_testnet("
        f'{json.dumps(display_path(testnet))}, "alice").fetch_balance()["USD"])'
    )
    python = shlex.quote(display_path(Path(sys.executable)))
    console.print(f"  {python} -c {shlex.quote(code)}", soft_wrap=True, markup=False)
    console.print(
        f"Ctrl-C stops every node; {where} stays, and `{bftx} testnet start --dir {where}` "
        "starts the same network again.",
        soft_wrap=True,
        markup=False,
    )


def _wait_for_interrupt(nodes: NodeProcesses) -> None:
    stop = False

    def on_signal(_number: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    while not stop:
        for home, status in nodes.exited():
            raise ConfigError(
                f"{home.name} exited with status {status}; see {display_path(home / 'node.log')}"
            )
        time.sleep(0.2)


async def _scenario(testnet: Path, urls: list[str]) -> None:
    names = [f"node{index}" for index in range(len(urls))]
    http = httpx.AsyncClient(timeout=5)
    started = time.monotonic()
    with console.status(f"starting {len(urls)} validators and connecting them"):  # terminal only
        await _wait_until_ready(http, urls, started)
    console.print(
        f"[dim]{_ms(started)}[/dim] all {len(urls)} validators are up and connected to each other\n"
    )
    async with (
        AsyncClient(urls[0], key=testnet / "accounts" / "bob.json") as bob,
        AsyncClient(urls[1], key=testnet / "accounts" / "alice.json") as alice,
    ):
        resting = await bob.create_order(SYMBOL, "limit", "sell", "1.5", "45000")
        console.print(
            f"Bob's sell order of 1.5 BTC at 45,000 rests in the book (order {resting['id'][:10]}…, "
            f"block {resting['info']['height']})"
        )
        before = {"alice": await alice.fetch_balance(), "bob": await bob.fetch_balance()}

        console.print("\n[bold]One order's journey[/bold]")
        tx = await _signed_buy(alice, testnet)
        submitted = time.monotonic()
        console.print(
            f"[dim]{_ms(submitted, submitted)}[/dim] 1 submit   Alice signs PlaceOrder(buy 1.5 BTC @ 45,000) "
            f"with Ed25519 and posts it to node1"
        )
        admission = (await http.post(f"{urls[1]}/v1/txs", json={"tx": "0x" + tx.hex()})).json()
        if not admission["accepted"]:
            raise ClientError(
                f"node1 refused the order: {admission['code']}: {admission['message']}",
                admission["code"],
            )
        tx_hash = admission["tx_hash"]
        console.print(
            f"[dim]{_ms(submitted)}[/dim] 2 admit    node1 checked decoding, chain id, signature, "
            f"nonce and available USD: admitted, tx {tx_hash[:16]}…"
        )
        seen, committed_at, status = await _follow(http, urls, tx_hash, submitted)
        for name, moment in sorted(zip(names, seen, strict=True), key=lambda item: item[1]):
            console.print(f"[dim]{_ms(submitted, moment)}[/dim] 3 gossip   {name} has the tx")
        height = int(status["height"])
        block = (await http.get(f"{urls[0]}/v1/blocks/{height}")).json()
        console.print(
            f"[dim]{_ms(submitted, committed_at)}[/dim] 4 propose  node{block['proposer']} (the primary "
            f"of view {block['view']}) proposed block {height} with {len(block['txs'])} tx"
        )
        signers = ", ".join(share["name"] for share in block["signatures"])
        console.print(
            f"[dim]{_ms(submitted, committed_at)}[/dim] 5 agree    committed: certificate signed by {signers} "
            f"({len(block['signatures'])} of {len(urls)}, quorum 2f+1 = 3)"
        )
        for event in status["events"]:
            if event["kind"] == "trade":
                console.print(
                    f"[dim]{_ms(submitted, committed_at)}[/dim] 6 execute  trade #{event['trade_id']}: "
                    f"{Decimal(event['quantity_lots']) / 10_000} BTC at 45,000; Bob pays "
                    f"{Decimal(event['maker_fee']) / 10**6} USD fee, Alice {Decimal(event['taker_fee']) / 10**8} BTC"
                )
        hashes = {(await http.get(f"{url}/v1/blocks/{height}")).json()["hash"] for url in urls}
        console.print(
            f"[dim]{_ms(submitted, committed_at)}[/dim] 7 persist  block {height} and its certificate are "
            f"stored on every node ({'identical' if len(hashes) == 1 else 'DIFFERENT'} hash on all {len(urls)})"
        )
        console.print(
            f"[dim]{_ms(submitted, committed_at)}[/dim] 8 notify   the tx reads 'committed' on every node: "
            f"final {1000 * (committed_at - submitted):.0f} ms after submission"
        )
        after = {"alice": await alice.fetch_balance(), "bob": await bob.fetch_balance()}
        console.print(
            "\n[bold]Settlement[/bold] (delivery versus payment, fees in what each side receives)"
        )
        for who in ("alice", "bob"):
            for asset in ("BTC", "USD"):
                console.print(
                    f"  {who:<5} {asset}: {before[who]['total'][asset]:>18} -> {after[who]['total'][asset]:>18}"
                )
    await http.aclose()


async def _ready(urls: list[str]) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        await _wait_until_ready(http, urls, time.monotonic())


async def _wait_until_ready(http: httpx.AsyncClient, urls: list[str], started: float) -> None:
    while True:
        try:
            statuses = [(await http.get(f"{url}/v1/status")).json() for url in urls]
            if all(
                len(status["peers_connected"]) == len(urls) - 1 and status["height"] > 0
                for status in statuses
            ):
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() - started > 60:
            raise TimeoutError("the validators did not come up within 60 s; see the node logs")
        await asyncio.sleep(0.1)


async def _signed_buy(alice: AsyncClient, testnet: Path) -> bytes:
    from bftx.client import core
    from bftx.crypto import load_key

    markets = {m["symbol"]: core.market_from_json(m) for m in await alice.fetch_markets()}
    body = core.order_body(markets[SYMBOL], "limit", "buy", "1.5", "45000", {})
    account = await alice._get(f"/v1/accounts/{alice.address}")
    chain_id = (await alice.fetch_status())["chain_id"]
    return core.sign(
        load_key(testnet / "accounts" / "alice.json"), chain_id, int(account["nonce"]), body
    )


async def _follow(
    http: httpx.AsyncClient, urls: list[str], tx_hash: str, submitted: float
) -> tuple[list[float], float, dict[str, Any]]:
    """Poll every node until all report the tx committed: when each first had it, when it was final."""
    seen: list[float | None] = [None] * len(urls)
    committed: list[float | None] = [None] * len(urls)
    status: dict[str, Any] = {}
    while not all(committed):
        results = await asyncio.gather(*(http.get(f"{url}/v1/txs/{tx_hash}") for url in urls))
        now = time.monotonic()
        for index, response in enumerate(results):
            document = response.json()
            if document["status"] != "unknown" and seen[index] is None:
                seen[index] = now
            if document["status"] == "committed" and committed[index] is None:
                committed[index] = now
                status = document
        if now - submitted > 30:
            raise TimeoutError(f"tx {tx_hash} was not committed on every node within 30 s")
        await asyncio.sleep(0.002)
    return [moment or 0.0 for moment in seen], max(moment or 0.0 for moment in committed), status


def _ms(origin: float, moment: float | None = None) -> str:
    return f"{1000 * ((moment if moment is not None else time.monotonic()) - origin):7.1f} ms"
