"""``bftx sim``: run the deterministic simulator over many seeds and judge the results.

Prints a summary table (or one JSON object with ``--json``) and exits non-zero
when any seed broke safety, liveness or the memory bounds; each failing seed
is printed with the exact command that replays it. The summary holds no
wall-clock values, so a replay prints identical output; the wall time goes to
standard error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from bftx.cli.output import print_warning, progress
from bftx.sim import APPS, BEHAVIOURS, FAULT_KINDS, MUTANTS, RunSettings, Summary, run_seed


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "sim",
        help="run the deterministic consensus simulator",
        description=(
            "Run N real replicas under a virtual clock with network faults, crashes, clock "
            "skew and byzantine validators, once per seed, and check safety, liveness and "
            "bounded memory. Exit status 1 when any seed fails."
        ),
    )
    parser.add_argument("--nodes", type=int, default=4, help="validators (default 4)")
    parser.add_argument(
        "--byzantine", type=int, default=None, help="byzantine validators (default f=(n-1)//3)"
    )
    parser.add_argument(
        "--seeds", type=int, default=100, help="how many seeds to run (default 100)"
    )
    parser.add_argument("--seed-start", type=int, default=0, help="first seed (default 0)")
    parser.add_argument(
        "--mutant",
        choices=MUTANTS,
        default=None,
        help="run with a deliberate protocol bug; the checkers must catch it",
    )
    parser.add_argument(
        "--duration-ms",
        type=int,
        default=None,
        help="simulated time per seed (default: the scenario's own)",
    )
    parser.add_argument(
        "--heal-ms",
        type=int,
        default=None,
        help="when network faults and crashes end (default: the scenario's own)",
    )
    parser.add_argument(
        "--app",
        choices=APPS,
        default="counter",
        help="replicated application: a hash-chained counter (default) or the real exchange",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_run)


def _run(arguments: argparse.Namespace) -> int:
    nodes: int = arguments.nodes
    byzantine = (nodes - 1) // 3 if arguments.byzantine is None else arguments.byzantine
    if nodes < 1 or not 0 <= byzantine < nodes or arguments.seeds < 1:
        print("error: need nodes >= 1, 0 <= byzantine < nodes and seeds >= 1", file=sys.stderr)
        return 2
    for warning in fault_warnings(nodes, byzantine):
        print_warning(warning)
    settings = RunSettings(
        nodes=nodes,
        byzantine=byzantine,
        seeds=arguments.seeds,
        seed_start=arguments.seed_start,
        mutant=arguments.mutant,
        duration_ms=arguments.duration_ms,
        heal_ms=arguments.heal_ms,
        app=arguments.app,
    )
    started = time.monotonic()
    summary = Summary(settings)
    with progress(f"simulating {settings.seeds} seeds", settings.seeds) as advance:
        for seed in range(settings.seed_start, settings.seed_start + settings.seeds):
            summary.add(run_seed(settings, seed))
            advance()
    elapsed = time.monotonic() - started
    if arguments.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        print(format_table(summary))
    print(f"wall time: {elapsed:.1f}s", file=sys.stderr)
    return 1 if summary.is_failure else 0


def fault_warnings(nodes: int, byzantine: int) -> list[str]:
    """What a person should know before trusting a run with these numbers (n >= 3f + 1)."""
    tolerated = (nodes - 1) // 3
    warnings = []
    if tolerated == 0:
        warnings.append(
            f"{nodes} validator{'s' if nodes != 1 else ''} tolerate no faulty validator "
            "(f = 0: PBFT needs n >= 3f + 1, so 4 validators for one fault)"
        )
    if byzantine > tolerated:
        warnings.append(
            f"{byzantine} byzantine validators is more than f = {tolerated}, the most {nodes} "
            f"validators tolerate (n >= 3f + 1); the protocol promises neither safety nor "
            "liveness here, so expect failures"
        )
    return warnings


def _tolerated(nodes: int, byzantine: int) -> str:
    tolerated = (nodes - 1) // 3
    if byzantine > tolerated:
        return f"f = {tolerated}, exceeded: failures are expected, not a bug"
    return f"f = {tolerated}"


def format_table(summary: Summary) -> str:
    settings = summary.settings
    rows = [
        ("nodes / byzantine", f"{settings.nodes} / {settings.byzantine}"),
        ("faults tolerated", _tolerated(settings.nodes, settings.byzantine)),
        ("mutant", settings.mutant or "none"),
        ("application", settings.app),
        ("seeds", f"{summary.seeds} (from {settings.seed_start})"),
        ("simulated seconds", f"{summary.simulated_ms / 1000:.1f}"),
        ("blocks committed", str(summary.blocks_committed)),
        ("view changes", str(summary.view_changes)),
        ("messages per block", str(summary.messages_per_block)),
        ("safety violations", str(summary.safety_violations)),
        ("liveness failures", str(summary.liveness_failures)),
        ("memory violations", str(summary.memory_violations)),
    ]
    lines = [f"{name:<22} {value}" for name, value in rows]
    lines.append("faults injected:")
    for kind in (*FAULT_KINDS, *BEHAVIOURS):
        lines.append(f"  {kind:<20} {summary.faults_injected.get(kind, 0)}")
    if summary.dropped_messages:
        lines.append("messages dropped by honest replicas:")
        for reason, count in sorted(summary.dropped_messages.items()):
            lines.append(f"  {reason:<20} {count}")
    for failure in summary.failures:
        lines.append(f"FAILED seed {failure['seed']}; replay: {failure['replay']}")
        for kind in ("safety", "liveness", "memory"):
            for message in failure[kind]:  # type: ignore[attr-defined]
                lines.append(f"  {kind}: {message}")
    return "\n".join(lines)
