"""``bftx chaos``: a local testnet under load and faults, then a check of every node."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bftx.errors import BftxError, ConfigError


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "chaos",
        help="faults under load on a local testnet; checks exactly-once, agreement, signing",
        description=(
            "Starts a local testnet (random ports), sends crossing limit orders and cancels "
            "through every node (REST batches and SDK calls that wait for finality), and "
            "injects faults one at a time: kill -9 and restart, kill -9 of the primary, "
            "SIGSTOP/SIGCONT, kill -9 and a quick restart, SIGTERM of every node and restart, "
            "and a partition of one validator where network namespaces are available. Then "
            "it lets the nodes settle and checks every node through its API: lost and "
            "duplicated txs, divergent blocks, tx status and balance disagreements, "
            "conservation, crossed books, validators missing from recent certificates. "
            "Exit status: 0 all checks passed, 1 a check failed, 2 bad usage. "
            "See docs/chaos.md for the exact definitions."
        ),
    )
    parser.add_argument("--validators", type=int, default=4, help="validators (default 4)")
    parser.add_argument(
        "--duration", type=float, default=120.0, help="seconds of load and faults (default 120)"
    )
    parser.add_argument("--rate", type=float, default=300.0, help="target tx/s (default 300)")
    parser.add_argument(
        "--seed", type=int, default=1, help="fixes the fault order, the victims and the load"
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=40,
        help="trading accounts: one SDK trader per validator, the rest send batches (default 40)",
    )
    parser.add_argument(
        "--partition",
        choices=("auto", "on", "off"),
        default="auto",
        help="partition faults: auto (when network namespaces are available: root and "
        "`ip netns`), on (fail if unavailable), off",
    )
    parser.add_argument(
        "--signing-window",
        type=int,
        default=16,
        help="validators absent from every certificate of this many last blocks fail the run "
        "(default 16)",
    )
    parser.add_argument(
        "--status-sample",
        type=int,
        default=200,
        help="ask every node the status of up to this many txs of each group (txs at two "
        "heights, acknowledged txs in no block, SDK receipts, txs in a block some node lacks, "
        "any acknowledged txs), drawn with --seed (default 200; a large number asks about all)",
    )
    parser.add_argument(
        "--node-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an environment variable for every node process (repeat); the nodes also inherit "
        "this command's environment",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        help="write the testnet (configs, data, node logs) here and keep it; a new or empty "
        "directory (default: a temporary one, removed after a run that passed)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.set_defaults(handler=_chaos)


def _chaos(arguments: argparse.Namespace) -> int:
    from bftx.chaos.run import ChaosSettings, partition_skip_reason, run_chaos

    try:
        settings = ChaosSettings(
            validators=arguments.validators,
            duration_s=arguments.duration,
            rate_tps=arguments.rate,
            seed=arguments.seed,
            accounts=arguments.accounts,
            partition=arguments.partition,
            directory=arguments.dir,
            node_env=_parse_env(arguments.node_env),
            signing_window=arguments.signing_window,
            status_sample=arguments.status_sample,
        )
        settings.check()
        partition_skip_reason(settings.partition)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from rich.console import Console

    console = Console(stderr=True)
    try:
        result = run_chaos(settings, progress=lambda message: console.log(message))
    except BftxError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; every node was stopped", file=sys.stderr)
        return 130
    if arguments.json:
        print(json.dumps(result.fields, sort_keys=True))
    else:
        _print_report(result.fields)
    if result.directory is not None:
        print(f"testnet and node logs: {result.directory}", file=sys.stderr)
    return 0 if result.ok else 1


def _parse_env(items: list[str]) -> dict[str, str]:
    env = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not key.replace("_", "a").isalnum():
            raise ConfigError(f"--node-env {item!r}: expected KEY=VALUE")
        env[key] = value
    return env


def _print_report(fields: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="bftx chaos", show_header=True)
    table.add_column("check")
    table.add_column("result", justify="right")
    table.add_column("", justify="center")

    def row(name: str, value: object, good: bool) -> None:
        table.add_row(name, str(value), "[green]ok[/]" if good else "[bold red]FAIL[/]")

    row("acknowledged txs", f"{fields['txs_acknowledged']:,}", True)
    row("lost", fields["lost"], fields["lost"] == 0)
    row("duplicated", fields["duplicated"], fields["duplicated"] == 0)
    row("divergent heights", len(fields["divergent_heights"]), not fields["divergent_heights"])
    row("tx status mismatches", fields["tx_status_mismatches"], not fields["tx_status_mismatches"])
    row("balance mismatches", fields["balance_mismatches"], not fields["balance_mismatches"])
    row(
        "account trade mismatches",
        fields["account_trade_mismatches"],
        not fields["account_trade_mismatches"],
    )
    row("conservation", "ok" if fields["conservation_ok"] else "broken", fields["conservation_ok"])
    row("crossed books", fields["crossed_books"], fields["crossed_books"] == 0)
    missing = sum(fields["missing_blocks"].values())
    row("missing blocks", missing, missing == 0)
    row(
        "SDK receipt mismatches",
        fields["sdk_receipt_mismatches"],
        not fields["sdk_receipt_mismatches"],
    )
    not_signing = fields["validators_not_signing"]
    row("validators not signing", ", ".join(not_signing) or "none", not not_signing)
    console.print(table)
    faults = ", ".join(f"{kind} {count}" for kind, count in fields["faults_injected"].items())
    console.print(f"faults: {faults}; partition: {fields['partition']}")
    recovery = fields["primary_recovery_s"]
    console.print(
        f"duration {fields['duration_s']} s, max height {fields['max_height']}, "
        f"primary recovery {'-' if recovery is None else f'{recovery:.2f} s'}"
    )
    for failure in fields["failures"]:
        console.print(f"[bold red]FAIL[/] {failure}")
    if not fields["failures"]:
        console.print("[bold green]all checks passed[/]")
