"""The ``bftx`` command. Each subcommand lives in its own module with a ``register`` function."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from bftx import __version__
from bftx.cli import (
    bench,
    chaos,
    contracts,
    demo,
    interchain,
    keys,
    node,
    relayer,
    sim,
    swap,
    testnet,
    trade,
)
from bftx.cli.output import BftxParser

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

COMMANDS: list[Register] = [
    keys.register,
    node.register,
    testnet.register,
    trade.register,
    contracts.register,
    interchain.register,
    demo.register,
    swap.register,
    relayer.register,
    sim.register,
    bench.register,
    chaos.register,
]


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = BftxParser(  # its subcommands' parsers are BftxParsers too
        prog="bftx",
        description="bftx: a Byzantine-fault-tolerant exchange (validators, simulator, tools).",
        epilog=(
            "New here? `bftx demo` starts a local 4-validator network, shows one trade from "
            "submission to finality and keeps the network up for the other commands. "
            "Every command has --help."
        ),
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
    try:
        result: int = handler(arguments)
    except BrokenPipeError:  # the reader went away (`bftx ... | head`): not an error worth a trace
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
