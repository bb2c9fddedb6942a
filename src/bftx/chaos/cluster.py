"""The testnet a chaos run abuses: node processes it can kill, pause, stop and restart one by one.

Built on `bftx.node.launcher.NodeProcesses` (the same launcher as ``bftx testnet
start`` and ``bftx bench``). With `Namespaces`, node ``i`` runs inside its own
network namespace at its own address, so one validator can be partitioned.

Must never: leave a process behind or stopped (`close` resumes paused nodes,
then stops every process; the caller runs it on every way out).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path

from bftx.chaos.netns import Namespaces
from bftx.crypto import KeyPair, load_key
from bftx.node.launcher import STOP_TIMEOUT_S, NodeProcesses
from bftx.node.testnet import create_testnet


class ChaosCluster:
    def __init__(
        self,
        directory: Path,
        validators: int,
        traders: int,
        env: dict[str, str],
        namespaces: Namespaces | None = None,
    ) -> None:
        hosts = namespaces.addresses if namespaces is not None else None
        self.testnet = create_testnet(directory, validators, traders=traders, hosts=hosts)
        self.directory = directory
        self.namespaces = namespaces
        self.processes = NodeProcesses(
            directory,
            env=env,
            command_prefix=namespaces.exec_prefix if namespaces is not None else None,
        )
        self.names = [config.name for config in self.testnet.nodes]
        self.urls = [f"http://{c.api_host}:{c.api_port}" for c in self.testnet.nodes]
        self.paused: set[int] = set()
        self.exited_at_close: dict[str, int] = {}

    @property
    def size(self) -> int:
        return len(self.names)

    def trader_keys(self) -> list[KeyPair]:
        names = json.loads((self.directory / "accounts.json").read_text())
        traders = sorted(name for name in names if name.startswith("trader"))
        return [load_key(self.directory / "accounts" / f"{name}.json") for name in traders]

    def account_addresses(self) -> dict[str, str]:
        """Every account of the genesis and the testnet, by name: address hex."""
        addresses: dict[str, str] = json.loads((self.directory / "accounts.json").read_text())
        return addresses

    def supply(self) -> dict[str, int]:
        """Each asset's genesis supply: the sum of the genesis balances (no mints or burns run)."""
        document = json.loads((self.directory / "genesis.json").read_text())
        totals: dict[str, int] = {}
        for account in document["exchange"]["accounts"]:
            for asset, amount in account["balances"].items():
                totals[asset] = totals.get(asset, 0) + int(amount)
        return totals

    def start_all(self) -> None:
        self.processes.start()

    def running(self, index: int) -> bool:
        return self.processes.processes[index].poll() is None

    def kill(self, index: int) -> None:
        """kill -9: no shutdown, no flush."""
        process = self.processes.processes[index]
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()
        self.paused.discard(index)

    def pause(self, index: int) -> None:
        os.kill(self.processes.processes[index].pid, signal.SIGSTOP)
        self.paused.add(index)

    def resume(self, index: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.processes.processes[index].pid, signal.SIGCONT)
        self.paused.discard(index)

    def restart(self, index: int) -> None:
        self.processes.restart_node(index)

    def terminate_all(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM every node (a clean shutdown), wait; kill -9 what did not stop in time."""
        for index in sorted(self.paused):
            self.resume(index)
        processes = self.processes.processes
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def restart_all(self) -> None:
        for index in range(self.size):
            self.restart(index)

    def exited(self) -> dict[str, int]:
        """Nodes whose process ended by itself (not stopped by this tool), with the status."""
        return {
            name: code
            for name, process in zip(self.names, self.processes.processes, strict=False)
            if (code := process.poll()) is not None
        }

    def close(self) -> None:
        """Resume paused nodes, note which had exited by themselves, stop every process."""
        for index in sorted(self.paused):
            self.resume(index)
        self.exited_at_close = self.exited()
        self.processes.stop()
