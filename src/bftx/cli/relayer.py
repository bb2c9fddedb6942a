"""``bftx relayer``: relay packets, acks and timeouts between two bftx networks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bftx.client import ClientError
from bftx.errors import BftxError


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "relayer",
        help="relay cross-chain packets, acks and timeouts between two bftx networks",
        description=(
            "Run a relayer between the two chains named in --config: it keeps each chain's "
            "light client of the other fresh, proves every pending packet on its source "
            "and submits it to its destination, returns the acks, and times out packets "
            "whose timeout passed on the destination. It keeps no state (kill it and start "
            "it again at any time) and any number of relayers may serve one path: the "
            "chains check every proof and count each packet once. Its key must be a "
            "registered account on both chains. See docs/interchain.md."
        ),
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the relayer's TOML configuration (--example-config prints an annotated one)",
    )
    parser.add_argument(
        "--json", action="store_true", help="progress as one JSON object per line on stdout"
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="clear everything pending (update clients, relay, ack, time out) and exit: 0 once "
        "nothing is pending, 1 if packets are left after --once-timeout seconds",
    )
    parser.add_argument(
        "--once-timeout",
        type=float,
        metavar="S",
        default=60.0,
        help="with --once: seconds to keep trying (a packet is provable 4 blocks after it was sent)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics on this port (0: a free one; overrides the config)",
    )
    parser.add_argument(
        "--example-config", action="store_true", help="print an annotated configuration and exit"
    )
    parser.set_defaults(handler=_relayer)


def _relayer(arguments: argparse.Namespace) -> int:
    from dataclasses import replace

    from bftx.relayer import load_config
    from bftx.relayer.config import EXAMPLE
    from bftx.relayer.main import run

    if arguments.example_config:
        print(EXAMPLE, end="")
        return 0
    if arguments.config is None:
        print("error: --config FILE is required (--example-config prints one)", file=sys.stderr)
        return 2
    try:
        config = load_config(arguments.config)
        if arguments.metrics_port is not None:
            if not 0 <= arguments.metrics_port <= 65_535:
                print("error: --metrics-port must be 0..65535", file=sys.stderr)
                return 2
            config = replace(config, metrics_port=arguments.metrics_port)
        if arguments.once_timeout <= 0:
            print("error: --once-timeout must be positive", file=sys.stderr)
            return 2
        return run(
            config,
            as_json=arguments.json,
            once_timeout_s=arguments.once_timeout if arguments.once else None,
        )
    except (BftxError, ClientError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
