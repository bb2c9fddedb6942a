"""Two real 4-validator testnets (node processes, distinct chain ids, random ports): a transfer
from A to B relayed by hand through the SDK (clients, updates, transfer, receive, ack), and a
transfer that times out and is refunded on A.

This is what the relayer does, step by step, with nothing but the public SDK.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from bftx import limits
from bftx.cli import main
from bftx.client import Client, OrderRejected
from bftx.client.errors import ClientError
from bftx.node.launcher import LocalCluster, local_cluster

DEPTH = limits.pipeline_depth_blocks
TRUSTING_PERIOD_MS = 600_000
WAIT_S = 20.0


@pytest.fixture(scope="module")
def chains() -> Iterator[tuple[LocalCluster, LocalCluster]]:
    with (
        local_cluster(4, 0, prefix="bftx-ibc-a-", chain_id="chain-a") as a,
        local_cluster(4, 0, prefix="bftx-ibc-b-", chain_id="chain-b") as b,
    ):
        yield a, b


def client(cluster: LocalCluster, account: str) -> Client:
    return Client.from_testnet(cluster.testnet, account, timeout=10.0)


def wait_until_ready(chain: Client) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            if chain.fetch_status()["height"] >= 1:
                return
        except ClientError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("the testnet did not start")
        time.sleep(0.2)


def wait_for_height(chain: Client, height: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while chain.fetch_status()["height"] < height:
        assert time.monotonic() < deadline, f"no block {height}"
        time.sleep(0.1)


def certify(source: Client, destination: Client, client_id: str, height: int) -> None:
    """Give ``destination``'s client of ``source`` the header at ``height``."""
    wait_for_height(source, height)
    destination.ibc_update_client(client_id, source.fetch_light_block(height))


def prove(
    source: Client, destination: Client, client_id: str, key: str, least: int
) -> dict[str, Any]:
    """A proof of ``key`` on ``source`` at a height >= ``least`` whose certifying header
    (height + 4) ``destination``'s client then holds."""
    height = max(least, source.fetch_status()["height"] - DEPTH)
    certify(source, destination, client_id, height + DEPTH)
    return source.fetch_proof(key, height)


def test_a_transfer_arrives_as_a_voucher_and_is_acknowledged(
    chains: tuple[LocalCluster, LocalCluster],
) -> None:
    a, b = chains
    with (
        client(a, "alice") as alice,
        client(a, "registrar") as relayer_a,
        client(b, "registrar") as relayer_b,
        client(b, "bob") as bob,
    ):
        wait_until_ready(alice)
        wait_until_ready(bob)
        a_client = relayer_a.ibc_create_client(b.testnet / "genesis.json", TRUSTING_PERIOD_MS)["id"]
        b_client = relayer_b.ibc_create_client(a.testnet / "genesis.json", TRUSTING_PERIOD_MS)["id"]
        assert relayer_b.fetch_ibc_client(b_client)["chain_id"] == "chain-a"
        latest = max(bob.fetch_status()["height"], DEPTH + 1)
        certify(bob, relayer_a, a_client, latest)  # A learns B's time

        before = Decimal(alice.fetch_balance()["BTC"]["free"])
        timeout_ms = int(time.time() * 1000) + 120_000
        sent = alice.ibc_transfer("BTC", "0.5", bob.address, a_client, b_client, timeout_ms)
        packet, sent_height = sent["packet"], sent["info"]["height"]
        (pending,) = alice.fetch_ibc_packets(a_client)
        assert pending["packet"] == packet

        proof = prove(alice, relayer_b, b_client, pending["commitment_key"], sent_height)
        delivered = relayer_b.ibc_receive(packet, proof)
        assert delivered["status"] == "committed"
        with pytest.raises(OrderRejected) as again:
            relayer_b.ibc_receive(packet, proof)
        assert again.value.code == "packet_already_received"
        voucher = f"{b_client}/BTC"
        assert Decimal(bob.fetch_balance()[voucher]["free"]) == Decimal("0.5")

        (received,) = bob.fetch_ibc_packets(b_client, kind="ack")
        assert received["ack"]["success"] is True
        ack_height = delivered["info"]["height"]  # the ack is in the state from there on
        ack_proof = prove(bob, relayer_a, a_client, received["ack_key"], ack_height)
        relayer_a.ibc_acknowledge(packet, received["ack"], ack_proof)
        assert alice.fetch_ibc_packets(a_client) == []
        after = Decimal(alice.fetch_balance()["BTC"]["free"])
        assert before - after == Decimal("0.5")


def test_a_transfer_nobody_relays_in_time_is_refunded(
    chains: tuple[LocalCluster, LocalCluster],
) -> None:
    a, b = chains
    with (
        client(a, "bob") as sender,
        client(a, "registrar") as relayer_a,
        client(b, "alice") as receiver,
    ):
        wait_until_ready(sender)
        a_client = relayer_a.fetch_ibc_clients()[0]["id"]
        b_client = receiver.fetch_ibc_clients()[0]["id"]
        certify(receiver, relayer_a, a_client, receiver.fetch_status()["height"])
        before = Decimal(sender.fetch_balance()["USD"]["free"])
        last = relayer_a.fetch_ibc_client(a_client)["latest_time_ms"]
        sent = sender.ibc_transfer("USD", "25", receiver.address, a_client, b_client, last + 1_500)
        packet = sent["packet"]
        assert Decimal(sender.fetch_balance()["USD"]["free"]) == before - 25

        # B's time passes the timeout: find a header of B at or past it, prove absence there
        deadline = time.monotonic() + WAIT_S
        while True:
            height = receiver.fetch_status()["height"] - DEPTH
            light = receiver.fetch_light_block(height)
            if light["timestamp_ms"] >= packet["timeout_ms"]:
                break
            assert time.monotonic() < deadline, "B's time did not pass the timeout"
            time.sleep(0.2)
        relayer_a.ibc_update_client(a_client, light)
        certify(receiver, relayer_a, a_client, height + DEPTH)
        (entry,) = sender.fetch_ibc_packets(a_client)
        proof = receiver.fetch_proof(entry["receipt_key"], height)
        assert proof["present"] is False
        relayer_a.ibc_timeout(packet, proof)
        assert Decimal(sender.fetch_balance()["USD"]["free"]) == before
        assert sender.fetch_ibc_packets(a_client) == []


def test_the_cli_creates_updates_and_shows_a_client_and_sends_a_transfer(
    chains: tuple[LocalCluster, LocalCluster], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = chains

    def bftx(*arguments: str) -> Any:
        assert main([*arguments, "--testnet", str(a.testnet), "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    registrar = str(a.testnet / "accounts" / "registrar.json")
    genesis_b = str(b.testnet / "genesis.json")
    created = bftx("ibc", "client", "create", "--key", registrar, "--genesis", genesis_b)
    client_id = created["id"]
    assert created["status"] == "committed"
    with client(b, "bob") as bob:
        wait_for_height(bob, DEPTH + 1)
        receiver = bob.address
    updated = bftx(
        "ibc", "client", "update", "--key", registrar, "--client-id", client_id,
        "--from-testnet", str(b.testnet),
    )  # fmt: skip
    shown = bftx("ibc", "client", "show", "--client-id", client_id)
    assert (shown["chain_id"], shown["status"]) == ("chain-b", "active")
    assert shown["latest_height"] == updated["light_block_height"]
    alice = str(a.testnet / "accounts" / "alice.json")
    sent = bftx(
        "ibc", "transfer", "--key", alice, "--asset", "BTC", "--amount", "0.01",
        "--receiver", receiver, "--client-id", client_id, "--counterparty-client-id", "client-0",
    )  # fmt: skip
    listed = bftx("ibc", "packets", "--client-id", client_id)
    assert [entry["sequence"] for entry in listed] == [sent["sequence"]]
    assert listed[0]["packet"]["receiver"] == receiver
