"""``bftx demo --scenario swap``: atomic swaps between a bftx testnet and an Ethereum chain.

Starts a local 4-validator bftx testnet (as the trade demo does) and an
Ethereum dev chain (eth-tester's in-process EVM, or any JSON-RPC node with
``--eth-rpc``), deploys the HashedTimelock contract, and runs three swaps of
Alice's 0.5 BTC on bftx against Bob's 2 ETH on Ethereum, printing every step
and the balances on both chains after each:

1. the swap succeeds;
2. Bob (the responder) never locks, so Alice refunds after her timelock;
3. Alice (the initiator) never claims, so Bob refunds after his timelock,
   then Alice's watcher, restarted from its state file, refunds hers.

The timelocks are seconds long (``DEMO_TIMING``) so the demo ends in well
under a minute; docs/settlement.md gives the rule and real-world numbers.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from bftx.client import Client
from bftx.crypto import load_key as load_bftx_key
from bftx.errors import ConfigError

if TYPE_CHECKING:  # web3 takes a second to import: only the swap scenario pays for it
    from eth_account.signers.local import LocalAccount

    from bftx.swap import SwapDriver, SwapTiming
    from bftx.swap.legs import BftxLeg, EthereumLeg

console = Console(highlight=False)

WEI_PER_ETHER = 10**18
BTC_SATS = 50_000_000  # 0.5 BTC
ETH_WEI = 2 * WEI_PER_ETHER
LOCK_SEEN_MS = 3_000  # the initiator's lock is final and the responder has checked it
POLL_S = 0.25
SCENARIO_TIMEOUT_S = 40.0


def demo_timing(eth_finality_ms: int) -> SwapTiming:
    """Seconds, not hours: a local testnet commits in milliseconds and the dev chain mines
    each tx at once. Margin = 1 s + Ethereum finality + 2 x 1 s + 1 s."""
    from bftx.swap import ChainTiming, SwapTiming

    return SwapTiming(
        initiator_chain=ChainTiming("bftx", 1_000),
        responder_chain=ChainTiming("ethereum", eth_finality_ms),
        clock_drift_ms=1_000,
        reaction_ms=1_000,
    )


class EthereumSide:
    """The demo's Ethereum chain: Alice's and Bob's accounts and the deployed contract."""

    def __init__(self, eth_rpc: str | None, eth_key: Path | None) -> None:
        from bftx.ethereum import DevChain, EthereumHtlc, connect, load_key
        from bftx.ethereum.chain import send_ether

        self.dev: DevChain | None = None
        if eth_rpc is None:
            self.dev = DevChain()
            web3 = self.dev.web3
            self.alice: LocalAccount = self.dev.new_account(1)
            self.bob: LocalAccount = self.dev.new_account(10)
            deployer = self.bob
            self.finality_ms = 0  # one in-process node: a mined block is final
            self.name = "eth-tester (py-evm, in this process)"
        else:
            if eth_key is None:
                raise ConfigError("--eth-rpc needs --eth-key: a funded account's private key file")
            web3 = connect(eth_rpc)
            funder = load_key(eth_key)
            from eth_account import Account

            self.alice, self.bob = Account.create(), Account.create()
            send_ether(web3, funder, self.alice.address, WEI_PER_ETHER)
            send_ether(web3, funder, self.bob.address, 10 * WEI_PER_ETHER)
            deployer = funder
            self.finality_ms = 2_000
            self.name = f"JSON-RPC node at {eth_rpc} (chain id {web3.eth.chain_id})"
        self.htlc = EthereumHtlc.deploy(web3, deployer)

    def follow_clock(self) -> None:
        if self.dev is not None:
            self.dev.follow_wall_clock()

    def ether(self, account: LocalAccount) -> str:
        return f"{Decimal(self.htlc.balance_wei(account.address)).scaleb(-18):.6f}"


def run_swap_demo(
    testnet: Path, urls: list[str], eth_rpc: str | None, eth_key: Path | None
) -> None:
    from bftx.swap import Phase, SwapDriver, load_state
    from bftx.swap.legs import BftxLeg, EthereumLeg

    ethereum = EthereumSide(eth_rpc, eth_key)
    timing = demo_timing(ethereum.finality_ms)
    window_ms = timing.responder_window_ms + LOCK_SEEN_MS
    console.print(f"Ethereum: {ethereum.name}; HashedTimelock deployed at {ethereum.htlc.address}")
    console.print(
        f"timing rule: T_I - T_R >= margin = {timing.margin_ms} ms; Bob's window "
        f"{window_ms} ms (at least {timing.responder_window_ms}); Alice reveals only "
        f"while T_R is {timing.reveal_window_ms} ms away or more\n"
    )
    keys = {name: load_bftx_key(testnet / "accounts" / f"{name}.json") for name in ("alice", "bob")}
    opened: list[BftxLeg] = []

    def legs(name: str) -> tuple[BftxLeg, EthereumLeg]:
        url = urls[0] if name == "alice" else urls[1]
        bftx_leg = BftxLeg(Client(url, key=keys[name]), "BTC")
        opened.append(bftx_leg)
        account = ethereum.alice if name == "alice" else ethereum.bob
        return bftx_leg, EthereumLeg(ethereum.htlc, account, finality_ms=ethereum.finality_ms)

    started = time.monotonic()
    reader = legs("alice")[0]

    def say(who: str) -> Callable[[str], None]:
        return lambda message: console.print(
            f"[dim]{time.monotonic() - started:6.1f} s[/dim] {who:<5} {message}"
        )

    def balances(title: str) -> None:
        console.print(f"  balances {title}:")
        for name, account in (("alice", ethereum.alice), ("bob", ethereum.bob)):
            btc = Decimal(reader.balance(keys[name].address.hex())).scaleb(-8)
            console.print(
                f"    {name:<5} bftx {btc:>14.8f} BTC    ethereum {ethereum.ether(account):>12} ETH"
            )

    def initiate(path: Path) -> SwapDriver:
        bftx_leg, eth_leg = legs("alice")
        return SwapDriver.initiate(
            own_leg=bftx_leg,
            other_leg=eth_leg,
            timing=timing,
            amount=BTC_SATS,
            counterparty_receiver=keys["bob"].address.hex(),
            counterparty_sender=ethereum.bob.address,
            counterparty_amount=ETH_WEI,
            responder_window_ms=window_ms,
            path=path,
            on_event=say("alice"),
        )

    def respond(offer: SwapDriver, path: Path) -> SwapDriver:
        bftx_leg, eth_leg = legs("bob")
        return SwapDriver.respond(
            offer.state.terms,
            own_leg=eth_leg,
            other_leg=bftx_leg,
            timing=timing,
            path=path,
            on_event=say("bob"),
        )

    def run(*drivers: SwapDriver) -> None:
        deadline = time.monotonic() + SCENARIO_TIMEOUT_S
        while not all(driver.done for driver in drivers):
            ethereum.follow_clock()
            for driver in drivers:
                if not driver.done:
                    driver.step()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the scenario did not finish in {SCENARIO_TIMEOUT_S:g} s")
            time.sleep(POLL_S)

    with tempfile.TemporaryDirectory(prefix="bftx-swap-") as directory:
        state = Path(directory)
        try:
            balances("at the start")

            console.print(
                "\n[bold]1. The swap succeeds[/bold]: 0.5 BTC on bftx for 2 ETH on Ethereum"
            )
            alice = initiate(state / "1-alice.json")
            alice.step()
            bob = respond(alice, state / "1-bob.json")
            run(alice, bob)
            balances("after the swap")

            console.print("\n[bold]2. Bob never locks[/bold]: Alice refunds after her timelock T_I")
            alice = initiate(state / "2-alice.json")
            run(alice)
            balances("after Alice's refund")

            console.print(
                "\n[bold]3. Alice never claims[/bold]: Bob refunds after T_R, then Alice after T_I"
            )
            alice_file = state / "3-alice.json"
            alice = initiate(alice_file)
            alice.step()
            bob = respond(alice, state / "3-bob.json")
            bob.step()
            console.print(f"{'':8} alice (her watcher is down: it will not claim in time)")
            run(bob)
            bftx_leg, eth_leg = legs("alice")
            alice = SwapDriver.resume(
                load_state(alice_file),
                own_leg=bftx_leg,
                other_leg=eth_leg,
                timing=timing,
                path=alice_file,
                on_event=say("alice"),
            )
            run(alice)
            balances("after both refunds")
            assert alice.state.phase is Phase.REFUNDED and bob.state.phase is Phase.REFUNDED
        finally:
            for leg in opened:
                leg.close()
    console.print(
        f"\nall three outcomes in {time.monotonic() - started:.1f} s; "
        "Ethereum balances moved by the amounts swapped, less gas"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--eth-rpc",
        metavar="URL",
        help="--scenario swap: an Ethereum JSON-RPC node (e.g. anvil --block-time 1) instead "
        "of the in-process eth-tester chain",
    )
    parser.add_argument(
        "--eth-key",
        type=Path,
        metavar="FILE",
        help="--scenario swap with --eth-rpc: a funded account's hex private key file",
    )
