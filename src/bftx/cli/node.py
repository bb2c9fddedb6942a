"""``bftx node``: run one validator or follower."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bftx.errors import BftxError


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser("node", help="run a validator or follower node")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = actions.add_parser(
        "start",
        help="start the node of a home directory (config.toml, key.json, genesis.json); stops on SIGTERM/SIGINT",
    )
    start.add_argument("--home", type=Path, required=True, help="the node's home directory")
    start.set_defaults(handler=_start)


def _start(arguments: argparse.Namespace) -> int:
    from bftx.node.main import run

    try:
        run(arguments.home)
    except BftxError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # last resort: a socket or file the checks above did not name
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
