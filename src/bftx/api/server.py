"""Serving the API inside the node's event loop (uvicorn, without its own signal handling)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator

import uvicorn

from bftx import limits
from bftx.api.rest import create_app
from bftx.errors import BftxError
from bftx.node.runtime import Node


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:  # the node process owns the signals
        yield


class ApiServer:
    def __init__(self, node: Node, host: str, port: int) -> None:
        config = uvicorn.Config(
            create_app(node),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws_max_size=limits.websocket_frame_bytes_max,  # larger frames: closed 1009, unread
        )
        self._server = _EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises why it could not start (a busy port, say)
                raise RuntimeError("the API server stopped while starting")
            await asyncio.sleep(0.01)

    async def _serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit:  # uvicorn exits when it cannot bind (it logged why): not in a task
            config = self._server.config
            raise BftxError(
                f"[api] host {config.host!r}, port {config.port}: cannot listen there "
                "(the port in use, or the host not this machine's; uvicorn's line above says which)"
            ) from None

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
