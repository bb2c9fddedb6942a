"""``bftx demo --scenario interchain``: BTC between two bftx networks through a relayer.

Starts two local 4-validator networks with distinct chain ids (``bftx-a`` and
``bftx-b``), creates each chain's light client of the other, starts a relayer
process (``bftx relayer``), and shows, checking each outcome:

1. Alice sends BTC from chain A to Bob on chain B: escrowed on A, a voucher
   (``<B's client of A>/BTC``) credited to Bob on B, the ack clears A's commitment;
2. Bob transfers part of the voucher to Carol on B (an ordinary asset there);
3. Carol sends it back home: the voucher is burnt on B, Alice's BTC released on A;
4. the relayer is killed (SIGKILL) while transfers are in flight and started
   again: every transfer arrives exactly once;
5. chain B is stopped, a transfer times out there, and A refunds Alice;
6. a forged packet (a proof of another packet) is refused by B.

Every step's outcome is checked; the command exits 1 at the first wrong one.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from bftx.cli.output import display_path
from bftx.client import Client, ClientError
from bftx.client.errors import OrderRejected
from bftx.errors import BftxError
from bftx.exchange.transactions import Transfer

console = Console(highlight=False)

STEP_TIMEOUT_S = 45.0
POLL_S = 0.1
BTC_DECIMALS = 8
TIMEOUT_MS_NORMAL = 120_000  # a transfer's timeout on B: far enough for any local run
TIMEOUT_MS_SHORT = 2_000  # the transfer sent while B is down
IN_FLIGHT_TRANSFERS = 8


class DemoFailed(BftxError):
    """A step's outcome was not what the scenario expects."""


def run_interchain_demo(arguments: argparse.Namespace) -> int:
    from bftx.node.interchain import interchain

    console.print(
        "[bold]bftx demo[/bold]: BTC between two 4-validator bftx networks, light clients on "
        "both, packets relayed by an untrusted relayer process\n"
    )
    directory: Path | None = arguments.dir
    if directory is not None and directory.exists() and any(directory.iterdir()):
        console.print(f"[red]demo failed[/red]: {display_path(directory)} is not empty")
        return 1
    started = time.monotonic()
    keep = arguments.keep or directory is not None
    status = console.status("starting two networks of 4 validators, creating light clients")
    status.start()  # a spinner on a terminal, until the networks are up
    try:
        with interchain(directory, keep=keep) as network:
            status.stop()
            Scenario(network, started).run()
            if not arguments.exit:
                _stay_up(network)
        if keep:
            console.print(
                f"kept {display_path(network.directory)} (node logs chain-*/nodeN/node.log, "
                "relayer progress relayer-N.log)"
            )
    except (BftxError, ClientError, TimeoutError) as error:
        console.print(f"[red]demo failed[/red]: {escape(str(error))}", soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        status.stop()
    console.print("stopped")
    return 0


def _stay_up(network: Any) -> None:
    console.print(
        f"\nboth networks and the relayer keep running (files in "
        f"{display_path(network.directory)}); Ctrl-C stops them"
    )
    for chain in network.chains:
        console.print(f"  {chain.chain_id}: REST API {', '.join(chain.urls)}")
    console.print(f"  relayer config {display_path(network.config_file)}")
    while True:
        network.check_relayers()
        time.sleep(0.5)


class Scenario:
    def __init__(self, network: Any, started: float) -> None:
        self.network = network
        self.a = network.a
        self.b = network.b
        self.started = started
        self.alice = self.a.client("alice")
        self.bob = self.b.client("bob")
        self.carol = self.b.client("alice", node=1)  # chain B's "alice" account plays Carol
        self.voucher = ""

    # --- helpers ---------------------------------------------------------------------------

    def say(self, message: str) -> None:
        console.print(
            f"[dim]{time.monotonic() - self.started:6.1f} s[/dim] {message}", soft_wrap=True
        )

    def check(self, condition: bool, failure: str) -> None:
        if not condition:
            raise DemoFailed(failure)

    def wait_until(self, what: str, predicate: Callable[[], bool]) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while not predicate():
            self.network.check_relayers()
            if time.monotonic() > deadline:
                raise DemoFailed(f"{what}: not within {STEP_TIMEOUT_S:g} s")
            time.sleep(POLL_S)

    @staticmethod
    def balance(client: Client, asset: str) -> Decimal:
        return Decimal(client.fetch_balance()["total"].get(asset, "0"))

    def pending(self, chain: Any) -> list[dict[str, Any]]:
        with chain.client() as reader:
            packets: list[dict[str, Any]] = reader.fetch_ibc_packets(
                client_id=chain.client_id, kind="commitment"
            )
        return packets

    def transfer(
        self,
        sender: Client,
        source: Any,
        destination: Any,
        asset: str,
        amount: str,
        receiver: str,
        timeout_ms: int,
    ) -> dict[str, Any]:
        result: dict[str, Any] = sender.ibc_transfer(
            asset, amount, receiver, source.client_id, destination.client_id, timeout_ms
        )
        return result

    def destination_time_ms(self) -> int:
        with self.b.client() as reader:
            height = int(reader.fetch_status()["height"])
            return int(reader.fetch_light_block(height)["timestamp_ms"])

    def show_balances(self, title: str) -> None:
        console.print(f"  balances {title}:")
        rows = (
            ("alice", "A", self.alice, "BTC"),
            ("bob", "B", self.bob, self.voucher),
            ("carol", "B", self.carol, self.voucher),
        )
        for name, chain, client, asset in rows:
            console.print(f"    {name:<5} on {chain}: {self.balance(client, asset):>16} {asset}")
        escrow = self._escrow()
        if escrow is not None:
            console.print(f"    escrow on A: {escrow:>16} BTC (transfer module account)")

    def _escrow(self) -> Decimal | None:
        with self.a.client() as reader:
            try:
                status = reader._get("/v1/ibc/escrow")
            except ClientError:
                return None
        for entry in status if isinstance(status, list) else []:
            if entry.get("asset") == "BTC":
                return Decimal(entry.get("amount", "0"))
        return None

    # --- the scenario ------------------------------------------------------------------------

    def run(self) -> None:
        network = self.network
        for chain in network.chains:
            self.say(
                f"{chain.chain_id}: 4 validators at {chain.urls[0]} ...; its light client of the "
                f"other chain is {chain.client_id}"
            )
        self.voucher = f"{self.b.client_id}/BTC"
        self.relayer = network.start_relayer()
        self.say(
            f"relayer started (pid {self.relayer.process.pid}, its own key, config "
            f"{display_path(network.config_file)})"
        )
        try:
            self.show_balances("at the start")
            self.step_out()
            self.step_transfer_on_b()
            self.step_home()
            self.step_relayer_killed()
            self.step_timeout()
            self.step_forged_proof()
        finally:
            for client in (self.alice, self.bob, self.carol):
                client.close()
        console.print(f"\nall six steps checked in {time.monotonic() - self.started:.1f} s")

    def step_out(self) -> None:
        console.print("\n[bold]1. Alice sends 1.5 BTC from A to Bob on B[/bold]")
        alice_before = self.balance(self.alice, "BTC")
        bob_before = self.balance(self.bob, self.voucher)
        sent = self.transfer(
            self.alice,
            self.a,
            self.b,
            "BTC",
            "1.5",
            self.bob.address,
            self.destination_time_ms() + TIMEOUT_MS_NORMAL,
        )
        self.say(
            f"A committed transfer_out (block {sent['info'].get('height')}): packet "
            f"{sent['sequence']}, 1.5 BTC escrowed, commitment stored under a provable key"
        )
        self.check(
            self.balance(self.alice, "BTC") == alice_before - Decimal("1.5"),
            "Alice's BTC on A did not drop by 1.5",
        )
        self.wait_until(
            "Bob's voucher on B",
            lambda: self.balance(self.bob, self.voucher) == bob_before + Decimal("1.5"),
        )
        self.say(f"B verified the proof with its light client of A: Bob holds 1.5 {self.voucher}")
        self.wait_until("the ack on A", lambda: not self.pending(self.a))
        self.say("the relayer brought the ack back: A removed the packet commitment")
        self.show_balances("after step 1")

    def step_transfer_on_b(self) -> None:
        console.print("\n[bold]2. On B the voucher is an ordinary asset[/bold]: Bob pays Carol")
        carol = bytes.fromhex(self.carol.address)
        with self.b.client() as reader:
            decimals = {a["symbol"]: int(a["decimals"]) for a in reader._get("/v1/assets")}
        units = int(Decimal("0.5").scaleb(decimals.get(self.voucher, BTC_DECIMALS)))
        _nonce, _hash, receipt = self.bob._send(Transfer(self.voucher, carol, units), True, None)
        self.check(receipt is not None and receipt.ok, f"Bob's transfer on B failed: {receipt}")
        self.check(
            self.balance(self.carol, self.voucher) == Decimal("0.5"),
            "Carol did not receive 0.5 of the voucher",
        )
        self.say(f"Bob transferred 0.5 {self.voucher} to Carol on B")

    def step_home(self) -> None:
        console.print("\n[bold]3. Carol sends 0.5 back home to Alice on A[/bold]")
        alice_before = self.balance(self.alice, "BTC")
        sent = self.transfer(
            self.carol,
            self.b,
            self.a,
            self.voucher,
            "0.5",
            self.alice.address,
            self.destination_time_ms() + TIMEOUT_MS_NORMAL,
        )
        self.say(f"B burnt Carol's 0.5 {self.voucher} (packet {sent['sequence']} towards A)")
        self.check(self.balance(self.carol, self.voucher) == 0, "Carol's voucher was not burnt")
        self.wait_until(
            "Alice's BTC released on A",
            lambda: self.balance(self.alice, "BTC") == alice_before + Decimal("0.5"),
        )
        self.say("A verified the proof and released 0.5 BTC from escrow to Alice")
        self.wait_until("the ack on B", lambda: not self.pending(self.b))
        self.show_balances("after step 3")

    def step_relayer_killed(self) -> None:
        network = self.network
        half = IN_FLIGHT_TRANSFERS // 2
        console.print(
            f"\n[bold]4. The relayer is killed mid-flight[/bold] ({IN_FLIGHT_TRANSFERS} transfers "
            "of 0.01 BTC)"
        )
        bob_before = self.balance(self.bob, self.voucher)
        timeout_ms = self.destination_time_ms() + TIMEOUT_MS_NORMAL
        seen = len(network.relayer_events(self.relayer))
        for _ in range(half):
            self.transfer(self.alice, self.a, self.b, "BTC", "0.01", self.bob.address, timeout_ms)
        # The relayer's client update on B is the first thing it does for these packets; its
        # receives follow at once: kill it there, with its work half done.
        self.wait_until(
            "the relayer working on the transfers",
            lambda: any(
                event["event"] == "client_updated" and event.get("chain") == self.b.chain_id
                for event in network.relayer_events(self.relayer)[seen:]
            ),
        )
        network.kill_relayer(self.relayer)
        arrived = (self.balance(self.bob, self.voucher) - bob_before) / Decimal("0.01")
        self.say(
            f"{half} sent; the relayer updated B's client for them and was killed with SIGKILL "
            f"while relaying: {int(arrived)} of {half} had arrived on B, "
            f"{len(self.pending(self.a))} packets await their ack on A"
        )
        for _ in range(IN_FLIGHT_TRANSFERS - half):
            self.transfer(self.alice, self.a, self.b, "BTC", "0.01", self.bob.address, timeout_ms)
        time.sleep(1.0)
        now = self.balance(self.bob, self.voucher)
        self.check(
            now - bob_before <= half * Decimal("0.01"),
            "vouchers arrived on B for transfers sent while no relayer ran",
        )
        self.say(
            f"{IN_FLIGHT_TRANSFERS - half} more sent while no relayer runs: "
            f"{int((now - bob_before) / Decimal('0.01'))} of {IN_FLIGHT_TRANSFERS} on B"
        )
        self.relayer = network.start_relayer()
        self.say(f"relayer restarted (pid {self.relayer.process.pid}): it clears what is pending")
        expected = bob_before + IN_FLIGHT_TRANSFERS * Decimal("0.01")
        self.wait_until(
            "every in-flight transfer on B",
            lambda: self.balance(self.bob, self.voucher) >= expected and not self.pending(self.a),
        )
        time.sleep(0.5)
        self.check(
            self.balance(self.bob, self.voucher) == expected,
            f"Bob holds {self.balance(self.bob, self.voucher)}, expected {expected}: duplicated",
        )
        self.say(f"all {IN_FLIGHT_TRANSFERS} arrived exactly once; nothing pending on A")

    def step_timeout(self) -> None:
        network = self.network
        console.print("\n[bold]5. Chain B stops; a transfer times out and A refunds[/bold]")
        alice_before = self.balance(self.alice, "BTC")
        bob_before = self.balance(self.bob, self.voucher)
        timeout_ms = self.destination_time_ms() + TIMEOUT_MS_SHORT
        self.b.stop()
        self.say("all 4 validators of B stopped")
        sent = self.transfer(
            self.alice, self.a, self.b, "BTC", "0.25", self.bob.address, timeout_ms
        )
        self.say(f"Alice sent 0.25 BTC towards B (packet {sent['sequence']}), timeout in 2 s on B")
        self.check(
            self.balance(self.alice, "BTC") == alice_before - Decimal("0.25"),
            "the 0.25 BTC were not escrowed",
        )
        time.sleep(TIMEOUT_MS_SHORT / 1000 + 1)
        self.b.restart()
        from bftx.node.interchain import wait_until_ready

        wait_until_ready(self.b)
        self.say("B restarted: its block time is now past the packet's timeout")
        self.wait_until(
            "Alice's refund on A",
            lambda: self.balance(self.alice, "BTC") == alice_before and not self.pending(self.a),
        )
        self.check(
            self.balance(self.bob, self.voucher) == bob_before,
            "Bob received a voucher for a packet that timed out",
        )
        self.say(
            "the relayer proved on B that the packet was never received before its timeout; "
            "A refunded Alice's 0.25 BTC"
        )
        del network

    def step_forged_proof(self) -> None:
        console.print("\n[bold]6. A forged packet is refused[/bold]")
        with self.b.client() as reader:
            received: list[dict[str, Any]] = reader.fetch_ibc_packets(
                client_id=self.b.client_id, kind="receipt"
            )
        self.check(bool(received), "B lists no received packet")
        forged = dict(received[-1]["packet"])
        sequence = int(received[-1]["sequence"]) + 1_000_000
        forged.update(sequence=sequence, amount="1000")
        with self.a.client() as reader:  # a genuine proof, of another key (Alice's account)
            proof = reader.fetch_proof(f"account:{self.alice.address}")
        bob_before = self.balance(self.bob, self.voucher)
        try:
            self.bob.ibc_receive(forged, proof)
        except OrderRejected as error:
            self.say(
                f"Bob submitted a made-up packet {sequence} of 1000 BTC with a real proof of "
                f"another key on A: B refused it ({error.code})"
            )
        else:
            raise DemoFailed("B accepted a forged packet")
        self.check(
            self.balance(self.bob, self.voucher) == bob_before, "a forged packet credited Bob"
        )
