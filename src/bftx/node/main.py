"""Running one node as a process: load its home, start, stop cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

import uvloop

from bftx.api.grpc.server import GrpcServer
from bftx.api.server import ApiServer
from bftx.chain import Genesis
from bftx.crypto import load_key
from bftx.errors import BftxError
from bftx.node.collection import tune_collector
from bftx.node.config import load_config
from bftx.node.logs import configure_logging
from bftx.node.runtime import Node

logger = logging.getLogger("bftx.node")


def load_node(home: Path) -> Node:
    """A node from its home directory; `ConfigError` or `StoreError` say what is wrong."""
    config = load_config(home)
    configure_logging(config.name, config.log_level)
    return Node(config, Genesis.load(config.genesis_file), load_key(config.key_file))


async def serve(node: Node) -> None:
    """Start the node and its APIs, serve until SIGTERM or SIGINT, stop.

    A start that fails (a busy port, say) stops what it started, the node
    included (its saved pending txs stay on disk), and raises `BftxError` or
    `OSError`.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    api = ApiServer(node, node.config.api_host, node.config.api_port)
    grpc_port = node.config.grpc_port
    grpc_api = None if grpc_port is None else GrpcServer(node, node.config.api_host, grpc_port)
    started = False
    try:
        await node.start(listeners_follow=True)
        await api.start()
        logger.info(
            "api listening",
            extra={"url": f"http://{node.config.api_host}:{node.config.api_port}/docs"},
        )
        if grpc_api is not None:
            await grpc_api.start()
            logger.info("grpc listening", extra={"port": grpc_port})
        node.confirm_started()
        started = True
        await stop.wait()
        logger.info("shutting down")
    except BaseException as error:
        if not started:
            logger.error("start failed", extra={"error": str(error) or type(error).__name__})
        raise
    finally:
        try:
            if grpc_api is not None:
                await grpc_api.stop()
        finally:
            try:
                with contextlib.suppress(BftxError):  # its failed start, raised already
                    await api.stop()
            finally:
                await node.stop()


def run(home: Path) -> None:
    """Run the node at ``home`` in this process until SIGTERM or SIGINT."""
    tune_collector()  # process-wide, so here and not in `Node`
    node = load_node(home)
    uvloop.run(serve(node))
