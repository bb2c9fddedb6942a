"""``bftx bench``: committed throughput and submit-to-finality latency of a local cluster."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bftx.cli.output import print_error, print_warning
from bftx.cli.sim import fault_warnings
from bftx.errors import BftxError

if TYPE_CHECKING:
    from bftx.bench.cluster import BenchSettings, ProgressCallback


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "bench",
        help="drive an open-loop load through a local cluster; measure tx/s and latency",
        description=(
            "Starts a local testnet (or targets a running one), pre-signs crossing limit "
            "orders from many accounts, submits them at --rate through the binary bulk API "
            "spread over every validator, follows the chain block by block and reports "
            "committed tx/s and each tx's submit-to-finality latency. The cluster it starts "
            "is always stopped."
        ),
    )
    parser.add_argument("--validators", type=int, default=4, help="validators to start (default 4)")
    parser.add_argument(
        "--duration",
        type=float,
        default=30.0,
        help="seconds of load (default 30); from 60 s on, the result has a row per minute "
        "(latency of the txs submitted in it, node memory at its end): a soak",
    )
    parser.add_argument(
        "--rate", type=float, default=2_500.0, help="target tx/s, open loop (default 2500)"
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=1_000,
        help="trading accounts to sign from (default 1000; raised when rate x duration needs more)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument(
        "--out", type=Path, help="write bench.json (with a per-second timeline) and bench.png here"
    )
    parser.add_argument(
        "--testnet",
        type=Path,
        help="target the running testnet of this directory (bftx testnet init/start) instead",
    )
    parser.add_argument(
        "--url",
        action="append",
        default=[],
        help="with --testnet: API base URL of a validator (repeat; default: from the configs)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the started testnet's directory (logs)"
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="find the cluster's saturation (rates growing by half, 8 s each), then run "
        "--duration seconds at 0.25, 0.5, 0.75, 1, 1.25, 1.5 and 2 times it in the same "
        "cluster; with --out, sweep.json and the throughput-latency curve sweep.png",
    )
    parser.add_argument(
        "--scenario",
        choices=("cluster", "interchain"),
        default="cluster",
        help="cluster: orders through one cluster (default); interchain: --transfers token "
        "transfers from one 4-validator network to another through a relayer process, "
        "measured from transfer_out submitted to voucher credited (transfers, "
        "transfers_per_s, latency_ms_p50/p99, lost, duplicated)",
    )
    parser.add_argument(
        "--transfers",
        type=int,
        default=1_000,
        help="--scenario interchain: transfers in the burst",
    )
    parser.set_defaults(handler=_bench)


def _bench(arguments: argparse.Namespace) -> int:
    from bftx.bench.cluster import BenchSettings, run_bench, write_outputs

    if arguments.scenario == "interchain":
        return _interchain(arguments)
    if arguments.validators < 1 or arguments.duration <= 0 or arguments.rate <= 0:
        print("error: --validators, --duration and --rate must be positive", file=sys.stderr)
        return 2
    if arguments.out is not None:  # refused now, not after minutes of load
        try:
            arguments.out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            print_error(f"--out {arguments.out}: cannot create the directory: {error.strerror}")
            return 2
    for warning in fault_warnings(arguments.validators, 0):
        print_warning(warning)
    if arguments.url and arguments.testnet is None:
        print("error: --url needs --testnet (the accounts' keys)", file=sys.stderr)
        return 2
    settings = BenchSettings(
        validators=arguments.validators,
        duration_s=arguments.duration,
        rate_tps=arguments.rate,
        accounts=arguments.accounts,
    )
    if arguments.sweep:
        return _sweep(arguments, settings)
    outcome = _with_progress(
        lambda progress: run_bench(
            settings,
            testnet=arguments.testnet,
            urls=tuple(arguments.url),
            progress=progress,
            keep=arguments.keep,
        )
    )
    if isinstance(outcome, int):
        return outcome
    result, observation = outcome
    if arguments.out is not None:
        plot = write_outputs(arguments.out, result, observation)
        if not arguments.json:
            print(f"wrote {arguments.out / 'bench.json'} and {plot}")
    if arguments.json:
        print(json.dumps(result))
    else:
        _print_table(result)
    return 0


def _interchain(arguments: argparse.Namespace) -> int:
    from bftx.bench.interchain import InterchainSettings, run_interchain_bench

    if arguments.transfers < 1:
        print("error: --transfers must be positive", file=sys.stderr)
        return 2
    if arguments.testnet is not None or arguments.sweep:
        print("error: --scenario interchain starts its own two networks", file=sys.stderr)
        return 2
    settings = InterchainSettings(transfers=arguments.transfers)
    try:
        result = run_interchain_bench(settings, keep=arguments.keep)
    except BftxError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; both networks were stopped", file=sys.stderr)
        return 130
    if arguments.json:
        print(json.dumps(result))
    else:
        _print_table(result)
    return 0 if result["lost"] == 0 and result["duplicated"] == 0 else 1


def _sweep(arguments: argparse.Namespace, settings: BenchSettings) -> int:
    from bftx.bench.cluster import run_sweep, write_sweep_outputs

    if arguments.testnet is not None:
        print("error: --sweep starts its own cluster (no --testnet)", file=sys.stderr)
        return 2
    sweep = _with_progress(
        lambda progress: run_sweep(settings, progress=progress, keep=arguments.keep)
    )
    if isinstance(sweep, int):
        return sweep
    if arguments.out is not None:
        plot = write_sweep_outputs(arguments.out, sweep)
        if not arguments.json:
            print(f"wrote {arguments.out / 'sweep.json'} and {plot}")
    if arguments.json:
        print(json.dumps(sweep))
        return 0
    print(
        f"saturation {sweep['saturation_tps']:.0f} tx/s "
        f"({sweep['saturation_vs_verify_limit']:.0%} of verify_limit_tps "
        f"{sweep['verify_limit_tps']})"
    )
    for step in sweep["steps"]:
        print(
            f"  {step['fraction']:>4.2f} x  offered {step['rate_tps']:>7.0f}  "
            f"committed {step['tps_committed']:>7.0f}  p50 {step['latency_ms_p50']:>7.0f} ms  "
            f"p99 {step['latency_ms_p99']:>7.0f} ms  p99 accepted "
            f"{step['latency_ms_p99_accepted']:>7.0f} ms  refused {sum(step['refused'].values())}  "
            f"lost {step['lost']}"
        )
    return 0


T = TypeVar("T")


def _with_progress(run: Callable[[ProgressCallback], T]) -> T | int:
    """``run`` with a progress bar; an exit status when it fails or is interrupted."""
    with _Progress(enabled=sys.stderr.isatty()) as progress:
        try:
            return run(progress.update)
        except BftxError as error:
            progress.close()
            print(f"error: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            progress.close()
            print("interrupted; the cluster was stopped", file=sys.stderr)
            return 130


class _Progress:
    """A rich progress bar on stderr (only on a terminal): the phase, then the load's seconds."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description:<34}"),
                BarColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("starting", total=1.0, detail="")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def update(self, phase: str, done: float, total: float, sent: int, committed: int) -> None:
        if self._progress is None:
            return
        detail = f"sent {sent:,}  committed {committed:,}" if sent or committed else ""
        self._progress.update(
            self._task, description=phase, completed=done, total=total, detail=detail
        )


def _print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="bftx bench", show_header=False)
    for key, value in result.items():
        if key != "minutes":
            table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)
    minutes = result.get("minutes") or []
    if minutes:
        by_minute = Table(title="per minute of load (txs submitted in it)")
        for column in minutes[0]:
            by_minute.add_column(column)
        for row in minutes:
            by_minute.add_row(*(str(value) for value in row.values()))
        console.print(by_minute)
