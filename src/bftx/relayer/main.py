"""The relayer process: the loop of `bftx.relayer.relay` with signals, progress and metrics."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from bftx.relayer.config import RelayerConfig
from bftx.relayer.metrics import RelayerMetrics
from bftx.relayer.relay import Relayer


def line_reporter(stream: TextIO, as_json: bool) -> Callable[[str, dict[str, Any]], None]:
    """Progress as one JSON object per line (``--json``) or as short readable lines."""

    def report(event: str, fields: dict[str, Any]) -> None:
        if as_json:
            stream.write(json.dumps({"time_ms": int(time.time() * 1000), "event": event, **fields}))
        else:
            details = " ".join(f"{name}={_plain(value)}" for name, value in fields.items())
            stream.write(f"{time.strftime('%H:%M:%S')} {event:<15} {details}")
        stream.write("\n")
        stream.flush()

    return report


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def run(config: RelayerConfig, as_json: bool, once_timeout_s: float | None = None) -> int:
    """Relay until SIGINT or SIGTERM; with ``once_timeout_s``, until nothing is pending (exit
    status 0) or that many seconds passed (1: packets are left)."""
    report = line_reporter(sys.stdout, as_json)
    metrics = RelayerMetrics()
    if config.metrics_port is not None:
        port = metrics.serve(config.metrics_host, config.metrics_port)
        report("metrics", {"url": f"http://{config.metrics_host}:{port}/metrics"})
    left = asyncio.run(_main(config, report, metrics, once_timeout_s))
    return 0 if left == 0 else 1


async def _main(
    config: RelayerConfig,
    report: Callable[[str, dict[str, Any]], None],
    metrics: RelayerMetrics,
    once_timeout_s: float | None,
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    relayer = Relayer(config, report, metrics)
    try:
        if once_timeout_s is not None:
            await relayer.check_path()
            left = await relayer.clear(once_timeout_s)
            report("pending", {"left": left})
            return left
        await relayer.run(stop)
        return 0
    finally:
        await relayer.close()
        report("stopped", {"passes": relayer.passes})
