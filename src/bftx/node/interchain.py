"""Two local bftx networks joined by light clients, and relayer processes between them.

What the interchain demo, the interchain benchmark and the relayer's tests
share: two testnets with distinct chain ids (``bftx-a``, ``bftx-b``) in one
directory, every node a process on free ports (`bftx.node.launcher`), the
relayer's key registered on both chains, each chain's light client of the
other created from the other's genesis, the relayer configuration written to
``relayer.toml``, and relayer processes (``bftx relayer --json``) started,
killed with SIGKILL and restarted on demand. Everything it starts is stopped
when the ``with`` block ends, however it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bftx.chain import Genesis
from bftx.client import Client
from bftx.crypto import KeyPair, load_key, save_key
from bftx.errors import ConfigError
from bftx.exchange.transactions import Register, sign_tx
from bftx.node.launcher import NodeProcesses, api_urls, tail
from bftx.node.testnet import create_testnet
from bftx.relayer.config import ChainEndpoint, RelayerConfig, render_config

CHAIN_IDS = ("bftx-a", "bftx-b")
VALIDATORS = 4
READY_TIMEOUT_S = 60.0
TRUSTING_PERIOD_MS = 600_000  # ten minutes: far beyond any local run; the relayer refreshes at half
RELAYER_STOP_TIMEOUT_S = 5.0
START_ATTEMPTS = 3  # a chain whose port was taken before its node bound it is made again


@dataclass(slots=True)
class LocalChain:
    """One of the two testnets: its directory, node processes and REST URLs."""

    chain_id: str
    directory: Path
    nodes: NodeProcesses
    urls: list[str] = field(default_factory=list)
    client_id: str = ""  # this chain's light client of the other one

    def genesis(self) -> Genesis:
        return Genesis.load(self.directory / "genesis.json")

    def key(self, account: str) -> Path:
        return self.directory / "accounts" / f"{account}.json"

    def client(self, account: str | None = None, node: int = 0, timeout: float = 30.0) -> Client:
        return Client(
            self.urls[node],
            key=self.key(account) if account is not None else None,
            timeout=timeout,
        )

    def start(self) -> None:
        self.nodes.start()

    def stop(self) -> None:
        self.nodes.stop()

    def restart(self) -> None:
        """Start every node again (after `stop`), on the same ports and data."""
        self.nodes.start()


@dataclass(slots=True)
class RelayerProcess:
    process: subprocess.Popen[bytes]
    log: Path


class Interchain:
    """Two running testnets, a path of light clients between them, and relayer processes."""

    def __init__(
        self,
        directory: Path,
        traders: int = 0,
        validators: int = VALIDATORS,
        trusting_period_ms: int = TRUSTING_PERIOD_MS,
    ) -> None:
        self.directory = directory
        self.trusting_period_ms = trusting_period_ms
        self._shape: dict[str, tuple[str, int, int]] = {}  # chain id -> (name, validators, traders)
        self.chains: tuple[LocalChain, LocalChain] = (
            self._create(CHAIN_IDS[0], "chain-a", validators, traders),
            self._create(CHAIN_IDS[1], "chain-b", validators, traders),
        )
        self.relayer_key_file = directory / "relayer.json"
        save_key(self.relayer_key_file, KeyPair.generate())
        self.config_file = directory / "relayer.toml"
        self.relayers: list[RelayerProcess] = []

    @property
    def a(self) -> LocalChain:
        return self.chains[0]

    @property
    def b(self) -> LocalChain:
        return self.chains[1]

    def _create(self, chain_id: str, name: str, validators: int, traders: int) -> LocalChain:
        directory = self.directory / name
        self._shape[chain_id] = (name, validators, traders)
        create_testnet(directory, validators, traders=traders, chain_id=chain_id)
        chain = LocalChain(chain_id, directory, NodeProcesses(directory))
        chain.urls = api_urls(directory)
        return chain

    # --- setting up --------------------------------------------------------------------

    def start(self) -> None:
        """Start both chains. A port picked free may be taken by another process before a node
        binds it (an outgoing connection's ephemeral port): that chain is made again on new
        ports, a few times at most."""
        for chain in self.chains:
            chain.start()
        chains = list(self.chains)
        for index, chain in enumerate(chains):
            for attempt in range(1, START_ATTEMPTS + 1):
                try:
                    wait_until_ready(chain)
                    break
                except ConfigError as error:
                    if (
                        "address already in use" not in str(error).lower()
                        or attempt == START_ATTEMPTS
                    ):
                        raise
                chain.stop()
                shutil.rmtree(chain.directory)
                chain = self._create(chain.chain_id, *self._shape[chain.chain_id])
                chains[index] = chain
                chain.start()
        self.chains = (chains[0], chains[1])

    def connect(self) -> None:
        """Register the relayer on both chains, create both light clients, write the config."""
        relayer = load_key(self.relayer_key_file)
        for chain in self.chains:
            register_account(chain, relayer.address)
        for chain, other in (self.chains, self.chains[::-1]):
            with Client(chain.urls[0], key=self.relayer_key_file, timeout=30.0) as client:
                created = client.ibc_create_client(other.genesis(), self.trusting_period_ms)
            chain.client_id = str(created["id"])
        self.write_config()

    def add_relayer_identity(self) -> Path:
        """Another relayer's own key, registered on both chains; the path of its config file
        (two relayers sharing one key would fight over its nonces)."""
        index = len(list(self.directory.glob("relayer-key-*.json"))) + 1
        key_file = self.directory / f"relayer-key-{index}.json"
        key = KeyPair.generate()
        save_key(key_file, key)
        for chain in self.chains:
            register_account(chain, key.address)
        config_file = self.directory / f"relayer-{index}.toml"
        self.write_config(key_file=key_file, path=config_file)
        return config_file

    def write_config(
        self,
        poll_interval_ms: int = 100,
        clear_interval_ms: int = 5_000,
        key_file: Path | None = None,
        path: Path | None = None,
    ) -> None:
        config = RelayerConfig(
            key=key_file or self.relayer_key_file,
            chains=(
                ChainEndpoint(tuple(self.a.urls), self.a.client_id),
                ChainEndpoint(tuple(self.b.urls), self.b.client_id),
            ),
            poll_interval_ms=poll_interval_ms,
            clear_interval_ms=clear_interval_ms,
        )
        (path or self.config_file).write_text(render_config(config))

    # --- relayer processes ---------------------------------------------------------------

    def start_relayer(
        self, config_file: Path | None = None, arguments: tuple[str, ...] = ()
    ) -> RelayerProcess:
        """A ``bftx relayer --json`` process (with ``relayer.toml`` unless ``config_file``);
        its progress lines go to ``relayer-N.log``, N counting the processes started."""
        log = self.directory / f"relayer-{len(self.relayers)}.log"
        command = [
            sys.executable,
            "-m",
            "bftx.cli",
            "relayer",
            "--config",
            str(config_file or self.config_file),
            "--json",
            *arguments,
        ]
        with log.open("ab") as output:
            process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        relayer = RelayerProcess(process, log)
        self.relayers.append(relayer)
        return relayer

    def kill_relayer(self, relayer: RelayerProcess) -> None:
        """SIGKILL: no chance to finish what it was doing."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(relayer.process.pid, signal.SIGKILL)
        relayer.process.wait()

    def check_relayers(self) -> None:
        for relayer in self.relayers:
            status = relayer.process.poll()
            if status is not None and status not in (0, -signal.SIGKILL, -signal.SIGTERM):
                raise ConfigError(
                    f"the relayer exited with status {status}; see {relayer.log}:\n"
                    f"{tail(relayer.log)}"
                )

    def stop_relayers(self) -> None:
        for relayer in self.relayers:
            if relayer.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(relayer.process.pid, signal.SIGTERM)
        for relayer in self.relayers:
            try:
                relayer.process.wait(timeout=RELAYER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                relayer.process.kill()
                relayer.process.wait()

    def relayer_events(self, relayer: RelayerProcess) -> list[dict[str, Any]]:
        """The JSON progress lines a relayer process wrote so far."""
        events = []
        for line in relayer.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                document = json.loads(line)
                if isinstance(document, dict):
                    events.append(document)
        return events

    def stop(self) -> None:
        self.stop_relayers()
        for chain in self.chains:
            chain.stop()


@contextlib.contextmanager
def interchain(
    directory: Path | None = None,
    traders: int = 0,
    keep: bool = False,
    trusting_period_ms: int = TRUSTING_PERIOD_MS,
) -> Iterator[Interchain]:
    """Two started, connected testnets (no relayer yet); everything stopped at the end.

    Without ``directory`` they live in a temporary directory, removed at the end
    unless ``keep``."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_terminate(_signal: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_terminate)
    temporary = directory is None
    root = Path(tempfile.mkdtemp(prefix="bftx-interchain-")) if directory is None else directory
    root.mkdir(parents=True, exist_ok=True)
    network: Interchain | None = None
    try:
        network = Interchain(root, traders=traders, trusting_period_ms=trusting_period_ms)
        network.start()
        network.connect()
        yield network
    finally:
        if network is not None:
            network.stop()
        signal.signal(signal.SIGTERM, previous)
        if temporary and not keep:
            shutil.rmtree(root, ignore_errors=True)


def register_account(chain: LocalChain, address: bytes) -> None:
    """Register ``address`` on ``chain`` with its registrar's key (permissioned chains)."""
    registrar = load_key(chain.key("registrar"))
    with Client(chain.urls[0], key=registrar, timeout=30.0) as client:
        nonce = int(client._get(f"/v1/accounts/{client.address}")["nonce"])
        receipt = client.submit(sign_tx(registrar, chain.chain_id, nonce, Register(address)), True)
    code = getattr(receipt, "code", "ok")
    if code not in ("ok", "already_registered"):
        raise ConfigError(f"{chain.chain_id}: registering {address.hex()} failed: {code}")


def wait_until_ready(chain: LocalChain, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Every node answers, is connected to every other validator, and committed a block."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=5) as http:
        while True:
            chain.nodes.check_running()
            try:
                statuses = [http.get(f"{url}/v1/status").json() for url in chain.urls]
                if all(
                    len(status["peers_connected"]) == len(chain.urls) - 1 and status["height"] > 0
                    for status in statuses
                ):
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"{chain.chain_id}: the validators did not come up within {timeout_s:g} s; "
                    f"see {chain.directory}/nodeN/node.log"
                )
            time.sleep(0.1)
