"""``bftx demo``: the seed's scenario, step by step, on a local 4-validator testnet.

Alice buys 1.5 BTC at 45,000 USD against Bob's resting sell. The demo prints
each step of the data flow (DESIGN.md section 1) with its timing: submitted,
admitted, gossiped to every node, proposed in block h, committed with its
certificate, settled (balances before and after), and the latency from
submission to finality. It then keeps the cluster running until Ctrl-C
(``--exit`` stops after the scenario).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from bftx.cli import demo_swap
from bftx.client import AsyncClient, ClientError
from bftx.errors import BftxError

console = Console(highlight=False)
SYMBOL = "BTC/USD"


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "demo", help="run the seed's trade on a local 4-validator testnet, step by step"
    )
    parser.add_argument(
        "--exit",
        action="store_true",
        help="stop after the scenario instead of running until Ctrl-C",
    )
    parser.add_argument("--keep", action="store_true", help="keep the testnet directory afterwards")
    parser.add_argument(
        "--scenario",
        choices=("trade", "swap"),
        default="trade",
        help="trade: the seed's order, step by step (default); swap: atomic swaps of BTC on "
        "bftx for ETH on an Ethereum dev chain (success, responder never locks, initiator "
        "never claims)",
    )
    demo_swap.add_arguments(parser)
    parser.set_defaults(handler=_demo)


def _demo(arguments: argparse.Namespace) -> int:
    from bftx.node.launcher import local_cluster

    swap = arguments.scenario == "swap"
    console.print(
        "[bold]bftx demo[/bold]: atomic swaps of BTC on a 4-validator bftx testnet for ETH on Ethereum\n"
        if swap
        else "[bold]bftx demo[/bold]: Alice buys 1.5 BTC at 45,000 USD from Bob on a 4-validator testnet (f = 1)\n"
    )
    try:
        with local_cluster(
            validators=4, traders=0, keep=arguments.keep, prefix="bftx-demo-"
        ) as cluster:
            console.print(f"testnet in {cluster.testnet}; node logs in nodeN/node.log")
            urls = _api_urls(cluster.testnet)
            if swap:
                asyncio.run(_ready(urls))
                demo_swap.run_swap_demo(cluster.testnet, urls, arguments.eth_rpc, arguments.eth_key)
            else:
                asyncio.run(_scenario(cluster.testnet, urls))
            console.print(
                f"\nREST API and its docs: {urls[0]}/docs  (every node serves one: {', '.join(urls)})"
            )
            console.print(
                f"try: .venv/bin/bftx book --url {urls[0]}    or    .venv/bin/bftx status --url {urls[2]}"
            )
            if not arguments.exit:
                console.print("the testnet keeps running; Ctrl-C stops it")
                _wait_for_interrupt()
    except (BftxError, ClientError, httpx.HTTPError, TimeoutError) as error:
        console.print(f"[red]demo failed[/red]: {error}")
        return 1
    except KeyboardInterrupt:
        pass
    console.print("stopped")
    return 0


def _wait_for_interrupt() -> None:
    stop = False

    def on_signal(_number: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    while not stop:
        time.sleep(0.2)


def _api_urls(testnet: Path) -> list[str]:
    import tomllib

    from bftx.node.launcher import node_homes

    urls = []
    for home in node_homes(testnet):
        api = tomllib.loads((home / "config.toml").read_text())["api"]
        urls.append(f"http://{api['host']}:{api['port']}")
    return urls


async def _scenario(testnet: Path, urls: list[str]) -> None:
    names = [f"node{index}" for index in range(len(urls))]
    http = httpx.AsyncClient(timeout=5)
    started = time.monotonic()
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
