"""One chaos run: a local testnet, load through the public API, faults, then every check.

The phases, each bounded in time:
1. write a testnet (random ports) and start every node (in network namespaces
   when partitions are on); wait until every node sees every other;
2. load (`bftx.chaos.load`) for ``duration_s`` while the injector
   (`bftx.chaos.faults`) runs its plan;
3. settle: no new txs; resend until every signed tx committed, every node
   answers at one height with an empty mempool;
4. signing window: let the chain grow ``signing_window`` blocks (idle blocks
   suffice), so the certificates of the last blocks show who is signing now;
5. read every node (`bftx.chaos.collect`) and run every check
   (`bftx.chaos.checks`).

Must never: leave a process, a paused node or a namespace behind (everything
is undone in ``finally``, also on Ctrl-C and SIGTERM), or report a check as
passed when the data it needs was not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bftx.chaos.checks import compute_status_sample, evaluate
from bftx.chaos.cluster import ChaosCluster
from bftx.chaos.collect import fetch_statuses, read_tx_statuses, read_view
from bftx.chaos.faults import (
    FaultKind,
    Injector,
    available_kinds,
    compute_fault_plan,
    count_kinds,
)
from bftx.chaos.load import MARKET, Load
from bftx.chaos.netns import NamespaceError, Namespaces, unavailable_reason
from bftx.errors import ConfigError

READY_TIMEOUT_S = 90.0
SETTLE_TIMEOUT_S = 60.0  # for every signed tx to commit
REST_TIMEOUT_S = 15.0  # then for the nodes to agree on the height with empty mempools
STABLE_POLLS = 5  # settled: this many status polls in a row agree on the height
HEIGHT_LAG_MAX = 4  # at the end, a node this many blocks behind the highest is behind
WINDOW_BLOCK_S = 1.0  # allowance per block of the signing window (idle blocks come every 0.5 s)
TRADERS_PER_SDK_CLIENT = 1

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ChaosSettings:
    validators: int = 4
    duration_s: float = 120.0
    rate_tps: float = 300.0
    seed: int = 1
    accounts: int = 40  # batch accounts plus one SDK account per validator
    partition: str = "auto"  # auto | on | off
    directory: Path | None = None  # keep the testnet here (a new or empty directory)
    node_env: dict[str, str] = field(default_factory=dict)
    signing_window: int = 16
    status_sample: int = 200  # per group of txs whose status every node is asked for
    warmup_s: float = 4.0

    def check(self) -> None:
        """A `ConfigError` naming the first setting that cannot work."""
        if self.validators < 4:
            raise ConfigError(
                "--validators must be at least 4 (one fault needs n >= 3f + 1, f >= 1)"
            )
        if self.duration_s < 10:
            raise ConfigError("--duration must be at least 10 seconds")
        if not 1 <= self.rate_tps <= 5_000:
            raise ConfigError("--rate must be between 1 and 5000 tx/s")
        if self.accounts < self.validators + 1:
            raise ConfigError(f"--accounts must be more than --validators ({self.validators})")
        if self.partition not in ("auto", "on", "off"):
            raise ConfigError("--partition must be auto, on or off")
        if self.status_sample < 0:
            raise ConfigError("--status-sample must be 0 or more")
        if self.signing_window < 1:
            raise ConfigError("--signing-window must be at least 1 block")
        if self.directory is not None and self.directory.exists() and any(self.directory.iterdir()):
            raise ConfigError(f"{self.directory}: not empty; choose a new directory")


@dataclass(slots=True)
class ChaosResult:
    fields: dict[str, Any]
    failures: list[str]
    directory: Path | None  # where the testnet and its logs are (None once removed)

    @property
    def ok(self) -> bool:
        return not self.failures


def run_chaos(settings: ChaosSettings, progress: Progress = lambda _message: None) -> ChaosResult:
    """The whole run; the testnet directory is removed afterwards unless kept or the run failed."""
    settings.check()
    partition_note = partition_skip_reason(settings.partition)
    namespaces = Namespaces(settings.validators) if partition_note is None else None
    temporary = settings.directory is None
    directory = (
        Path(tempfile.mkdtemp(prefix="bftx-chaos-")) / "testnet"
        if settings.directory is None
        else settings.directory
    )
    result: ChaosResult | None = None
    with _sigterm_as_interrupt():
        try:
            if namespaces is not None:
                try:
                    namespaces.create()
                except NamespaceError as error:
                    if settings.partition == "on":
                        raise ConfigError(f"cannot create network namespaces: {error}") from error
                    partition_note = f"skipped: cannot create network namespaces ({error})"
                    namespaces = None
            cluster = ChaosCluster(
                directory, settings.validators, settings.accounts, settings.node_env, namespaces
            )
            try:
                progress(f"testnet of {settings.validators} validators in {directory}")
                cluster.start_all()
                with namespaces.entered() if namespaces else contextlib.nullcontext():
                    result = asyncio.run(_drive(settings, cluster, progress))
            finally:
                cluster.close()
            result.fields["partition"] = "on" if namespaces is not None else partition_note
            result.fields["nodes_exited"] = cluster.exited_at_close
            if cluster.exited_at_close:
                result.failures.append(f"nodes exited by themselves: {cluster.exited_at_close}")
                result.fields["ok"] = False
        finally:
            if namespaces is not None:
                namespaces.heal()
                namespaces.close()
            if temporary and result is not None and result.ok:
                shutil.rmtree(directory.parent, ignore_errors=True)
    result.directory = directory if directory.exists() else None
    return result


def partition_skip_reason(partition: str) -> str | None:
    """None when partitions run, else the note that says why they are skipped."""
    if partition == "off":
        return "skipped: --partition off"
    reason = unavailable_reason()
    if reason is None:
        return None
    if partition == "on":
        raise ConfigError(f"--partition on: {reason}")
    return f"skipped: {reason}"


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every ``finally`` runs."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_terminate(_signal: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


async def _drive(settings: ChaosSettings, cluster: ChaosCluster, progress: Progress) -> ChaosResult:
    pool = httpx.Limits(max_connections=128, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=pool, timeout=10.0) as client:
        await _wait_ready(client, cluster)
        keys = cluster.trader_keys()
        sdk_count = settings.validators * TRADERS_PER_SDK_CLIENT
        load = Load(
            cluster.urls,
            cluster.names,
            cluster.testnet.genesis.chain_id,
            keys[sdk_count:],
            keys[:sdk_count],
            settings.rate_tps,
            settings.seed,
            client,
        )
        kinds = available_kinds(partition=cluster.namespaces is not None)
        plan = compute_fault_plan(kinds, settings.seed)
        started = time.monotonic()
        injector = Injector(cluster, client, plan, settings.seed, started, settings.duration_s)
        injector.on_fault = lambda r: progress(
            f"{r.at_s:6.1f} s  {r.kind.value} {', '.join(r.victims)}"
        )
        progress(
            f"load at {settings.rate_tps:g} tx/s for {settings.duration_s:g} s; faults in order "
            + ", ".join(kind.value for kind in plan)
        )
        load.start()
        faults = asyncio.create_task(injector.run(settings.warmup_s))
        try:
            while time.monotonic() - started < settings.duration_s:
                await asyncio.sleep(0.5)
                if faults.done():
                    faults.result()  # a node that cannot start again ends the run here
            load.stop_generating()
            load_s = time.monotonic() - started
            progress(f"load stopped after {load_s:.1f} s")
            await faults  # the fault under way ends, and its victims catch up (bounded)
            progress("settling")
            settle_s = await _settle(client, cluster, load, progress)
            await load.close()
            progress(f"settled in {settle_s:.1f} s; waiting {settings.signing_window} blocks")
            await _signing_window(client, cluster, settings.signing_window)
            await _stable_heights(client, cluster, 10.0)
            progress("reading every node: blocks, balances, books")
            read_started = time.monotonic()
            accounts = sorted(cluster.account_addresses().values())
            views = await asyncio.gather(
                *(
                    read_view(client, name, url, accounts, [MARKET])
                    for name, url in zip(cluster.names, cluster.urls, strict=True)
                )
            )
            asked = compute_status_sample(
                views,
                load.stats.acknowledged,
                [receipt.tx_hash for receipt in load.stats.sdk_receipts],
                settings.status_sample,
                settings.seed,
            )
            progress(f"asking every node for the status of {len(asked):,} txs")
            await asyncio.gather(
                *(
                    read_tx_statuses(client, url, view, asked)
                    for url, view in zip(cluster.urls, views, strict=True)
                )
            )
            read_s = time.monotonic() - read_started
            progress(f"read in {read_s:.1f} s")
        finally:
            faults.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await faults
            await load.close()
    validators = [member.name for member in cluster.testnet.genesis.validators]
    checks, failures = evaluate(
        views,
        load.stats.acknowledged,
        cluster.supply(),
        validators,
        settings.signing_window,
        load.stats.sdk_receipts,
    )
    heights = {view.name: view.height for view in views}
    top = max(heights.values(), default=0)
    behind = {name: height for name, height in heights.items() if height < top - HEIGHT_LAG_MAX}
    if behind:
        failures.append(f"nodes behind at the end (highest {top}): {behind}")
    records = injector.records
    recoveries = [r.recovery_s for r in records if r.kind is FaultKind.KILL_PRIMARY]
    not_recovered = sum(1 for value in recoveries if value is None)
    if not_recovered:
        failures.append(f"{not_recovered} primary kills without a new view within the timeout")
    stuck = [r for r in records if r.caught_up_s is None]
    if stuck:
        failures.append(
            "victims that did not catch up: "
            + ", ".join(f"{r.kind.value} {'/'.join(r.victims)} at {r.at_s:.0f} s" for r in stuck)
        )
    stats = load.stats
    fields: dict[str, Any] = {
        "ok": not failures,
        "duration_s": round(load_s, 1),
        "txs_acknowledged": len(stats.acknowledged),
        "tx_statuses_checked": len(asked),
        **checks,
        "faults_injected": count_kinds(records),
        "primary_recovery_s": max((v for v in recoveries if v is not None), default=None),
        "max_height": max(heights.values(), default=0),
        "heights": heights,
        "failures": failures,
        "faults": [record.to_json() for record in records],
        "load": {
            "rate_tps": settings.rate_tps,
            "submitted": stats.submitted,
            "resent": stats.resent,
            "replaced": stats.replaced,
            "request_errors": stats.request_errors,
            "rejections": stats.rejections,
            "sdk_receipts": len(stats.sdk_receipts),
            "sdk_errors": stats.sdk_errors,
        },
        "settle_s": round(settle_s, 1),
        "read_s": round(read_s, 1),
        "signing_window": settings.signing_window,
        "seed": settings.seed,
        "validators": settings.validators,
    }
    return ChaosResult(fields, failures, None)


async def _wait_ready(client: httpx.AsyncClient, cluster: ChaosCluster) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        cluster.processes.check_running()
        statuses = await fetch_statuses(client, cluster.urls)
        if all(s and len(s["peers_connected"]) >= cluster.size - 1 for s in statuses):
            return
        await asyncio.sleep(0.2)
    raise ConfigError(f"the testnet was not ready within {READY_TIMEOUT_S:.0f} s")


async def _settle(
    client: httpx.AsyncClient, cluster: ChaosCluster, load: Load, progress: Progress
) -> float:
    """Until every signed tx committed and every node rests at one height (bounded)."""
    started = time.monotonic()
    deadline = started + SETTLE_TIMEOUT_S
    reported = started
    while time.monotonic() < deadline and load.uncommitted() > 0:
        await asyncio.sleep(0.2)
        if time.monotonic() - reported > 10:
            reported = time.monotonic()
            progress(
                f"settling: {load.uncommitted()} txs not committed yet; {load.describe_stuck()}"
            )
    if not await _stable_heights(client, cluster, REST_TIMEOUT_S):
        statuses = await fetch_statuses(client, cluster.urls)
        described = [
            f"{name} no answer"
            if s is None
            else f"{name} height {s['height']} mempool {s['mempool_txs']}"
            for name, s in zip(cluster.names, statuses, strict=True)
        ]
        progress("not settled: " + ", ".join(described))
    return time.monotonic() - started


async def _stable_heights(
    client: httpx.AsyncClient, cluster: ChaosCluster, timeout_s: float
) -> bool:
    """Until every node answers at one height with an empty mempool, `STABLE_POLLS` polls in a row.

    Idle chains still grow (an empty block every half view timeout), so "one
    height" is per poll, not forever.
    """
    deadline = time.monotonic() + timeout_s
    streak = 0
    while time.monotonic() < deadline:
        statuses = await fetch_statuses(client, cluster.urls)
        if all(statuses):
            heights = {int(s["height"]) for s in statuses if s}
            empty = all(int(s["mempool_txs"]) == 0 for s in statuses if s)
            streak = streak + 1 if max(heights) - min(heights) <= 1 and empty else 0
            if streak >= STABLE_POLLS:
                return True
        else:
            streak = 0
        await asyncio.sleep(0.2)
    return False


async def _signing_window(client: httpx.AsyncClient, cluster: ChaosCluster, window: int) -> None:
    """Until the chain is ``window`` blocks past its height now (bounded)."""
    statuses = await fetch_statuses(client, cluster.urls)
    top = max((int(s["height"]) for s in statuses if s), default=0)
    deadline = time.monotonic() + 5.0 + window * WINDOW_BLOCK_S
    while time.monotonic() < deadline:
        statuses = await fetch_statuses(client, cluster.urls)
        if max((int(s["height"]) for s in statuses if s), default=0) >= top + window:
            return
        await asyncio.sleep(0.2)
