"""The ``bftx`` command. Each subcommand lives in its own module with a ``register`` function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from bftx import __version__
from bftx.cli import bench, contracts, demo, keys, node, sim, swap, testnet, trade

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

COMMANDS: list[Register] = [
    keys.register,
    node.register,
    testnet.register,
    trade.register,
    contracts.register,
    demo.register,
    swap.register,
    sim.register,
    bench.register,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bftx",
        description="bftx: a Byzantine-fault-tolerant exchange (validators, simulator, tools).",
    )
    parser.add_argument("--version", action="version", version=f"bftx {__version__}")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in COMMANDS:
        register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    handler = getattr(arguments, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    result: int = handler(arguments)
    return result


if __name__ == "__main__":
    sys.exit(main())
