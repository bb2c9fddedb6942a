"""The relayer process between two real 4-validator testnets (node processes on random ports).

Checks what the relayer promises: transfers arrive with their acks, a relayer
killed with SIGKILL mid-flight and started again loses nothing and credits
nothing twice, and two relayers on one path at once credit each packet once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bftx.client import Client
from bftx.crypto import KeyPair, save_key
from bftx.node.interchain import Interchain, RelayerProcess, interchain
from bftx.relayer.config import ChainEndpoint, RelayerConfig, render_config

WAIT_S = 40.0
UNIT = Decimal("0.001")


@pytest.fixture(scope="module")
def network() -> Iterator[Interchain]:
    with interchain(traders=0) as started:
        yield started


def _voucher_balance(client: Client, voucher: str) -> Decimal:
    return Decimal(client.fetch_balance()["total"].get(voucher, "0"))


def _pending(network: Interchain) -> list[dict[str, Any]]:
    with network.a.client() as reader:
        found: list[dict[str, Any]] = reader.fetch_ibc_packets(
            client_id=network.a.client_id, kind="commitment"
        )
    return found


def _send(network: Interchain, alice: Client, receiver: str, count: int) -> None:
    with network.b.client() as reader:
        now_ms = int(reader.fetch_light_block(int(reader.fetch_status()["height"]))["timestamp_ms"])
    for _ in range(count):
        alice.ibc_transfer(
            "BTC", str(UNIT), receiver, network.a.client_id, network.b.client_id, now_ms + 120_000
        )


def _wait_for(network: Interchain, what: str, predicate: Any) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        network.check_relayers()
        assert time.monotonic() < deadline, f"{what} not within {WAIT_S:g} s"
        time.sleep(0.1)


def test_a_relayer_killed_mid_flight_and_restarted_delivers_every_transfer_once(
    network: Interchain,
) -> None:
    voucher = f"{network.b.client_id}/BTC"
    with network.a.client("alice") as alice, network.b.client("bob") as bob:
        before = _voucher_balance(bob, voucher)
        relayer = network.start_relayer()
        _send(network, alice, bob.address, 6)
        _wait_for(
            network,
            "the relayer's first client update",
            lambda: any(e["event"] == "client_updated" for e in network.relayer_events(relayer)),
        )
        network.kill_relayer(relayer)  # SIGKILL while its txs are in flight
        _send(network, alice, bob.address, 4)
        restarted = network.start_relayer()
        expected = before + 10 * UNIT
        _wait_for(
            network,
            "all ten transfers credited and acknowledged",
            lambda: _voucher_balance(bob, voucher) >= expected and not _pending(network),
        )
        time.sleep(1.0)  # anything still in flight would land now
        assert _voucher_balance(bob, voucher) == expected
        network.kill_relayer(restarted)


def test_two_relayers_at_once_credit_each_packet_once(network: Interchain) -> None:
    voucher = f"{network.b.client_id}/BTC"
    with network.a.client("alice") as alice, network.b.client("bob") as bob:
        before = _voucher_balance(bob, voucher)
        first = network.start_relayer(arguments=("--metrics-port", "0"))
        second = network.start_relayer(  # its own key: two relayers never share nonces
            network.add_relayer_identity(), arguments=("--metrics-port", "0")
        )
        _send(network, alice, bob.address, 10)
        expected = before + 10 * UNIT
        _wait_for(
            network,
            "ten transfers credited and acknowledged",
            lambda: _voucher_balance(bob, voucher) >= expected and not _pending(network),
        )
        time.sleep(1.0)
        assert _voucher_balance(bob, voucher) == expected
        with network.b.client() as reader:
            receipts = reader.fetch_ibc_packets(client_id=network.b.client_id, kind="receipt")
        sequences = [int(item["sequence"]) for item in receipts]
        assert len(sequences) == len(set(sequences))
        # What the relayers' metrics say they did adds up to the ten receives (each counted
        # as relayed by one of them, or as already done by the other).
        receives = sum(_receive_count(network, relayer) for relayer in (first, second))
        assert receives >= 10
        for relayer in (first, second):
            network.kill_relayer(relayer)


def _receive_count(network: Interchain, relayer: RelayerProcess) -> float:
    url = next(e["url"] for e in network.relayer_events(relayer) if e["event"] == "metrics")
    text = httpx.get(url, timeout=5).text
    total = 0.0
    for line in text.splitlines():
        counted = ("bftx_relayer_relayed_total{", "bftx_relayer_already_done_total{")
        if line.startswith(counted) and 'kind="receive"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_once_clears_what_is_pending_and_exits_zero(network: Interchain) -> None:
    voucher = f"{network.b.client_id}/BTC"
    with network.a.client("alice") as alice, network.b.client("bob") as bob:
        before = _voucher_balance(bob, voucher)
        _send(network, alice, bob.address, 3)
        assert len(_pending(network)) == 3  # no relayer runs
        finished = subprocess.run(
            [
                sys.executable,
                "-m",
                "bftx.cli",
                "relayer",
                "--config",
                str(network.config_file),
                "--once",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert finished.returncode == 0, finished.stdout + finished.stderr
        assert _voucher_balance(bob, voucher) == before + 3 * UNIT
        assert _pending(network) == []
        last = json.loads(finished.stdout.splitlines()[-2])  # then "stopped"
        assert last["event"] == "pending" and last["left"] == 0


def test_a_relayer_whose_key_is_not_registered_says_so(network: Interchain, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger.json"
    save_key(stranger, KeyPair.generate())
    config = tmp_path / "relayer.toml"
    config.write_text(
        network.config_file.read_text().replace(
            f'key = "{network.relayer_key_file}"', f'key = "{stranger}"'
        )
    )
    finished = subprocess.run(
        [sys.executable, "-m", "bftx.cli", "relayer", "--config", str(config), "--once"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 1
    assert "is not registered" in finished.stderr and "bftx account register" in finished.stderr


def test_a_running_relayer_keeps_its_clients_from_expiring(
    network: Interchain, tmp_path: Path
) -> None:
    trusting_period_ms = 5_000
    ids = {}
    for name, chain, other in (("a", network.a, network.b), ("b", network.b, network.a)):
        with Client(chain.urls[0], key=network.relayer_key_file, timeout=30) as client:
            ids[name] = client.ibc_create_client(other.genesis(), trusting_period_ms)["id"]
            if name == "a":  # the same kind of client, that no relayer serves
                ids["unserved"] = client.ibc_create_client(other.genesis(), trusting_period_ms)[
                    "id"
                ]
    config = tmp_path / "short.toml"
    config.write_text(
        render_config(
            RelayerConfig(
                key=network.relayer_key_file,
                chains=(
                    ChainEndpoint(tuple(network.a.urls), ids["a"]),
                    ChainEndpoint(tuple(network.b.urls), ids["b"]),
                ),
                poll_interval_ms=100,
            )
        )
    )
    relayer = network.start_relayer(config)
    time.sleep(1.6 * trusting_period_ms / 1000)  # the unserved one expired meanwhile
    network.check_relayers()
    with network.a.client() as reader, network.b.client() as other_reader:
        served_a = reader.fetch_ibc_client(ids["a"])
        served_b = other_reader.fetch_ibc_client(ids["b"])
        unserved = reader.fetch_ibc_client(ids["unserved"])
    network.kill_relayer(relayer)
    assert unserved["status"] == "expired"  # what happens without a relayer
    assert served_a["status"] == "active" and served_b["status"] == "active"
    assert any(
        event["event"] == "client_updated" and event["reason"] == "refresh"
        for event in network.relayer_events(relayer)
    )
