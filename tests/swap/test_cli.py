"""`bftx swap` end to end: two CLI processes, a live bftx cluster, and anvil over JSON-RPC.

anvil (Foundry's dev node, from the npm registry) is a real Ethereum node that
nobody here wrote, reached the way `--eth-rpc` reaches any node. It is installed
once into a cache directory (~5 s); the test is skipped, with the reason, where
Node.js is missing or the registry cannot be reached.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import HTTPProvider, Web3

from bftx.crypto import save_key
from bftx.node.testnet import free_ports
from tests.api.support import LiveCluster

ANVIL_PACKAGE = "@foundry-rs/anvil@1.7.1"
NPM_TIMEOUT_S = 240
CLI_TIMEOUT_S = 90
# Short timelocks: margin = 1 + 1 + 2 x 1 + 2 x 0.2 = 4.4 s; the responder gets 120 s (CLI processes start slowly on a busy machine; success never waits for it).
TIMING = [
    "--bftx-finality-s", "1", "--eth-finality-s", "1", "--eth-confirmations", "0",
    "--clock-drift-s", "1", "--poll-s", "0.2",
]  # fmt: skip


def anvil_command() -> list[str]:
    on_path = shutil.which("anvil")
    if on_path is not None:
        return [on_path]
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: no anvil to test --eth-rpc against")
    cache_home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    cache = cache_home / "bftx" / ANVIL_PACKAGE.replace("/", "-").replace("@", "")
    binary = cache / "node_modules" / ".bin" / "anvil"
    if not binary.exists():
        cache.mkdir(parents=True, exist_ok=True)
        installed = subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
                str(cache),
                ANVIL_PACKAGE,
            ],
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
        )
        if installed.returncode != 0 or not binary.exists():
            pytest.skip(f"npm could not install {ANVIL_PACKAGE}: {installed.stderr.strip()[-300:]}")
    return [str(binary)]


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """(RPC URL, private keys of anvil's funded dev accounts)."""
    command = anvil_command()
    directory = tmp_path_factory.mktemp("anvil")
    (port,) = free_ports(1)
    config = directory / "anvil.json"
    process = subprocess.Popen(
        [*command, "--port", str(port), "--block-time", "1", "--config-out", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not (config.exists() and Web3(HTTPProvider(url)).is_connected()):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"anvil did not start (status {process.poll()})")
            time.sleep(0.2)
        keys = json.loads(config.read_text())["private_keys"]
        yield url, keys
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCluster]:
    live = LiveCluster(tmp_path_factory.mktemp("cluster") / "testnet")
    try:
        live.start()
        yield live
    finally:
        live.close()


def bftx(*arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bftx.cli", "swap", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    output, _ = process.communicate(timeout=CLI_TIMEOUT_S)
    return process.returncode, output


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_cli_swap_over_json_rpc_with_a_watcher_restart(
    anvil: tuple[str, list[str]], cluster: LiveCluster, tmp_path: Path
) -> None:
    url, private_keys = anvil
    alice_bftx, bob_bftx = cluster.fresh_traders(2)
    files: dict[str, Path] = {}
    for name, key in (("alice", alice_bftx), ("bob", bob_bftx)):
        files[name] = tmp_path / f"{name}.json"
        save_key(files[name], key)
    eth_keys = {name: tmp_path / f"{name}.eth" for name in ("alice", "bob")}
    eth_keys["alice"].write_text(private_keys[1] + "\n")
    eth_keys["bob"].write_text(private_keys[2] + "\n")
    bob_eth = Web3().eth.account.from_key(private_keys[2]).address

    status, output = finish(bftx("deploy", "--eth-rpc", url, "--eth-key", str(eth_keys["alice"])))
    assert status == 0, output
    contract = output.strip().splitlines()[-1]
    common = ["--url", cluster.api_url(), "--eth-rpc", url, "--htlc", contract]
    offer = tmp_path / "offer.json"

    alice = bftx(
        "initiate", "--state", str(tmp_path / "alice-swap.json"), "--offer", str(offer),
        *common, "--key", str(files["alice"]), "--eth-key", str(eth_keys["alice"]),
        "--bftx-amount", "0.5", "--eth-amount", "2", "--window-s", "120",
        "--counterparty-bftx", bob_bftx.address.hex(), "--counterparty-eth", bob_eth, *TIMING,
    )  # fmt: skip
    deadline = time.monotonic() + CLI_TIMEOUT_S
    while not offer.exists():
        assert alice.poll() is None, finish(alice)[1]
        assert time.monotonic() < deadline, "no offer"
        time.sleep(0.1)
    responder = [
        "--offer",
        str(offer),
        *common,
        "--key",
        str(files["bob"]),
        "--eth-key",
        str(eth_keys["bob"]),
        "--bftx-amount",
        "0.5",
        "--eth-amount",
        "2",
    ]
    bob_state = tmp_path / "bob-swap.json"

    # An offer that is not what Bob agreed to (he expects 0.6 BTC) is refused.
    status, output = finish(
        bftx("respond", "--state", str(bob_state), *responder, *TIMING, "--bftx-amount", "0.6")
    )
    assert status == 1 and "not the agreed" in output, output
    assert not bob_state.exists()

    # A responder who believes Ethereum needs 10 minutes to be final refuses these timelocks.
    status, output = finish(
        bftx("respond", "--state", str(bob_state), *responder, *TIMING, "--eth-finality-s", "600")
    )
    assert status == 1 and "must end at least" in output, output
    assert not bob_state.exists()

    # Bob locks and his watcher stops (--no-watch); Alice claims meanwhile; Bob's restarted
    # watcher reads the secret from Ethereum and claims on bftx.
    status, output = finish(
        bftx("respond", "--state", str(bob_state), *responder, *TIMING, "--no-watch")
    )
    assert status == 0 and "swap locked" in output, output
    status, output = finish(alice)
    assert status == 0 and "swap claimed" in output, output
    status, output = finish(bftx("watch", "--state", str(bob_state)))
    assert status == 0 and "the secret was revealed on ethereum" in output, output
    assert "swap claimed" in output

    status, output = finish(bftx("show", "--state", str(bob_state)))
    assert status == 0 and output.startswith("responder: claimed"), output
    alice_state = tmp_path / "alice-swap.json"
    secret = json.loads(alice_state.read_text())["secret"]
    status, output = finish(bftx("show", "--state", str(alice_state), "--json"))
    assert status == 0 and json.loads(output)["secret"] == "(hidden)"
    assert secret[2:] not in output
