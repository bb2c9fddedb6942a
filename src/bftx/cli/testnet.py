"""``bftx testnet``: create and run a local cluster on 127.0.0.1."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from bftx.cli.output import bftx_command, display_path, print_warning
from bftx.cli.sim import fault_warnings
from bftx.errors import BftxError


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser("testnet", help="create and run a local testnet")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    init = actions.add_parser(
        "init", help="write genesis, keys, certificates and node configs into a new directory"
    )
    init.add_argument("--validators", type=int, default=4, help="voting validators (default 4)")
    init.add_argument("--followers", type=int, default=0, help="non-voting followers (default 0)")
    init.add_argument(
        "--traders",
        type=int,
        default=20,
        help="funded trading accounts besides alice and bob (default 20)",
    )
    init.add_argument("--dir", type=Path, required=True, help="a new or empty directory")
    init.add_argument(
        "--chain-id",
        default="bftx-testnet",
        help="the chain's id (default bftx-testnet); two networks that exchange packets "
        "(bftx ibc) need different ids",
    )
    init.add_argument(
        "--random-ports",
        action="store_true",
        help="pick free ports instead of the fixed ones (p2p 26600+i, API 8700+i, metrics 9700+i, gRPC 50600+i)",
    )
    init.add_argument(
        "--permissioned-reads",
        action="store_true",
        help="the API needs signed requests; an account is visible to its owner and to "
        "accounts/auditor.json only (default: open reads)",
    )
    init.set_defaults(handler=_init)

    start = actions.add_parser("start", help="start every node of a testnet; Ctrl-C stops them all")
    start.add_argument(
        "--dir", type=Path, required=True, help="a directory made by `bftx testnet init`"
    )
    start.set_defaults(handler=_start)


def _init(arguments: argparse.Namespace) -> int:
    from bftx.node.testnet import create_testnet

    if not arguments.chain_id or len(arguments.chain_id.encode()) > 64:
        print("error: --chain-id must be 1 to 64 bytes", file=sys.stderr)
        return 2
    if arguments.validators < 1 or arguments.followers < 0 or arguments.traders < 0:
        print(
            "error: --validators must be at least 1; --followers and --traders not negative",
            file=sys.stderr,
        )
        return 2
    try:
        testnet = create_testnet(
            arguments.dir,
            arguments.validators,
            arguments.followers,
            arguments.traders,
            fixed_ports=not arguments.random_ports,
            permissioned_reads=arguments.permissioned_reads,
            chain_id=arguments.chain_id,
        )
    except BftxError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"testnet {testnet.genesis.chain_id} written to {arguments.dir}")
    for config in testnet.nodes:
        print(
            f"  {config.name:<7} {config.mode:<9} p2p {config.p2p_host}:{config.p2p_port}  "
            f"api {config.api_host}:{config.api_port}  metrics {config.metrics_host}:{config.metrics_port}"
        )
    for warning in fault_warnings(arguments.validators, 0):
        print_warning(warning)
    print(f"start it with: {bftx_command()} testnet start --dir {display_path(arguments.dir)}")
    return 0


def _start(arguments: argparse.Namespace) -> int:
    from bftx.node.launcher import NodeProcesses

    nodes = NodeProcesses(arguments.dir)
    try:
        nodes.start()
    except BftxError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for home, process in zip(nodes.homes, nodes.processes, strict=True):
        print(f"started {home.name} (pid {process.pid}), log: {home / 'node.log'}")
    print("the testnet is running; Ctrl-C stops every node")
    stopping = False

    def stop(_signal: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    reported: set[Path] = set()
    try:
        while not stopping:
            for home, status in nodes.exited():
                if home not in reported:
                    reported.add(home)
                    print(f"{home.name} exited with status {status}; see {home / 'node.log'}")
            if len(reported) == len(nodes.homes):
                return 1
            time.sleep(0.2)
    finally:
        nodes.stop()
        print("every node stopped")
    return 0
