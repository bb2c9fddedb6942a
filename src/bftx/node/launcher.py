"""Local clusters: every node of a testnet directory as a child process.

Used by ``bftx testnet start``, ``bftx demo``, ``bftx bench`` and ``bftx chaos``. Each node
runs ``python -m bftx.cli node start --home HOME`` in its own session with its
log in ``HOME/node.log``; `NodeProcesses.stop` sends SIGTERM, waits, and kills
what did not stop.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bftx.errors import ConfigError
from bftx.node.testnet import CHAIN_ID, create_testnet

STOP_TIMEOUT_S = 10.0


def node_homes(directory: Path) -> list[Path]:
    """The node home directories of a testnet, in node order."""
    return sorted(
        (path for path in directory.glob("node*") if (path / "config.toml").exists()),
        key=_node_number,
    )


def api_urls(directory: Path) -> list[str]:
    """The REST API URL of each node of a testnet, in node order."""
    import tomllib

    urls = []
    for home in node_homes(directory):
        api = tomllib.loads((home / "config.toml").read_text())["api"]
        urls.append(f"http://{api['host']}:{api['port']}")
    return urls


def _node_number(path: Path) -> int:
    digits = path.name.removeprefix("node")
    return int(digits) if digits.isdigit() else 1_000_000


class NodeProcesses:
    """``env``: extra environment variables for every node; ``command_prefix(i)``: what runs
    node ``i``'s command (``ip netns exec NAME`` for a node in its own network namespace)."""

    def __init__(
        self,
        testnet: Path,
        env: dict[str, str] | None = None,
        command_prefix: Callable[[int], list[str]] | None = None,
    ) -> None:
        self.testnet = testnet
        self.homes = node_homes(testnet)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.env = {**os.environ, **env} if env else None
        self.command_prefix = command_prefix

    def start(self) -> None:
        if not self.homes:
            raise ConfigError(
                f"{self.testnet}: no node directories; run `bftx testnet init --dir {self.testnet}` first"
            )
        self.processes = [self._spawn(index) for index in range(len(self.homes))]

    def restart_node(self, index: int) -> None:
        """Start node ``index`` again after its process ended (killed or stopped)."""
        assert self.processes[index].poll() is not None, "the node is still running"
        self.processes[index] = self._spawn(index)

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        home = self.homes[index]
        prefix = self.command_prefix(index) if self.command_prefix else []
        command = [sys.executable, "-m", "bftx.cli", "node", "start", "--home", str(home)]
        with open(home / "node.log", "ab") as log:
            return subprocess.Popen(
                [*prefix, *command],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.env,
            )

    def exited(self) -> list[tuple[Path, int]]:
        """The homes of nodes whose process ended, with its exit status."""
        return [
            (home, process.returncode)
            for home, process in zip(self.homes, self.processes, strict=False)
            if process.poll() is not None
        ]

    def check_running(self) -> None:
        for home, status in self.exited():
            log = home / "node.log"
            raise ConfigError(f"{home.name} exited with status {status}; see {log}:\n{tail(log)}")

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the node processes used so far; None where /proc is missing."""
        ticks_per_s = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        total = 0
        for process in self.processes:
            try:
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks_per_s

    def rss_bytes(self) -> int | None:
        """Resident memory of the node processes now, summed; None where /proc is missing."""
        page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        total = 0
        for process in self.processes:
            try:
                total += int(Path(f"/proc/{process.pid}/statm").read_text().split()[1]) * page
            except (OSError, IndexError, ValueError):
                return None
        return total

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []


class LocalCluster(NodeProcesses):
    """A fresh testnet in a temporary directory, removed on `stop` unless ``keep``; two
    clusters that exchange packets (`bftx.exchange.interchain`) need distinct ``chain_id``s."""

    def __init__(
        self,
        validators: int,
        traders: int,
        keep: bool = False,
        prefix: str = "bftx-",
        chain_id: str = CHAIN_ID,
    ) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix=prefix))
        self.keep = keep
        create_testnet(self.directory / "testnet", validators, traders=traders, chain_id=chain_id)
        super().__init__(self.directory / "testnet")

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        super().stop(timeout_s)
        if not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def local_cluster(
    validators: int,
    traders: int,
    keep: bool = False,
    prefix: str = "bftx-",
    chain_id: str = CHAIN_ID,
) -> Iterator[LocalCluster]:
    """Start a cluster and stop it however the block ends (errors, Ctrl-C, SIGTERM)."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_terminate(_signal: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_terminate)
    cluster = LocalCluster(validators, traders, keep, prefix, chain_id)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        signal.signal(signal.SIGTERM, previous)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
