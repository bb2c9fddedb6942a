"""The cluster benchmark's plot: committed throughput and latency over time (matplotlib, Agg)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def plot_timeline(
    timeline: list[dict[str, float | None]], result: dict[str, Any], path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(name: str) -> list[float]:  # a second without commits is a gap, not a zero
        return [math.nan if point[name] is None else float(point[name] or 0) for point in timeline]

    seconds = series("t_s")
    figure, (throughput, latency) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    throughput.plot(seconds, series("tps_committed"), color="tab:blue")
    throughput.axhline(result["rate_tps"], color="grey", linestyle="--", label="target rate")
    throughput.set_ylabel("committed tx/s")
    throughput.legend(loc="lower right")
    latency.plot(seconds, series("latency_ms_p50"), label="p50")
    latency.plot(seconds, series("latency_ms_p99"), label="p99")
    latency.set_ylabel("submit to finality (ms)")
    latency.set_xlabel("time since the load began (s)")
    latency.legend(loc="upper right")
    figure.suptitle(
        f"bftx bench: {result['validators']} validators, {result['tps_committed']:.0f} tx/s committed, "
        f"p99 {result['latency_ms_p99']:.0f} ms, lost {result['lost']}"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
