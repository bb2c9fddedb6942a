"""Running one node as a process: load its home, start, stop cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import uvloop

from bftx.api.grpc.server import GrpcServer
from bftx.api.server import ApiServer
from bftx.chain import Genesis
from bftx.crypto import load_key
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
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    await node.start()
    api = ApiServer(node, node.config.api_host, node.config.api_port)
    grpc_port = node.config.grpc_port
    grpc_api = None if grpc_port is None else GrpcServer(node, node.config.api_host, grpc_port)
    try:
        await api.start()
        logger.info(
            "api listening",
            extra={"url": f"http://{node.config.api_host}:{node.config.api_port}/docs"},
        )
        if grpc_api is not None:
            await grpc_api.start()
            logger.info("grpc listening", extra={"port": grpc_port})
        await stop.wait()
        logger.info("shutting down")
    finally:
        if grpc_api is not None:
            await grpc_api.stop()
        await api.stop()
        await node.stop()


def run(home: Path) -> None:
    """Run the node at ``home`` in this process until SIGTERM or SIGINT."""
    tune_collector()  # process-wide, so here and not in `Node`
    node = load_node(home)
    uvloop.run(serve(node))
