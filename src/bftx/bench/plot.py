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


def plot_sweep(sweep: dict[str, Any], path: Path) -> None:
    """Committed throughput against latency, one point per offered rate (CometBFT-QA style)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = sweep["steps"]
    throughput = [step["tps_committed"] for step in steps]
    figure, axes = plt.subplots(figsize=(8, 5))
    for name, label in (
        ("latency_ms_p50", "p50"),
        ("latency_ms_p99", "p99 (from first submission)"),
        ("latency_ms_p99_accepted", "p99 of accepted txs"),
    ):
        axes.plot(throughput, [step[name] for step in steps], marker="o", label=label)
    for step, x in zip(steps, throughput, strict=True):
        axes.annotate(f"{step['rate_tps']:.0f}", (x, step["latency_ms_p50"]), fontsize=7)
    axes.axvline(sweep["saturation_tps"], color="grey", linestyle="--", label="saturation")
    axes.set_yscale("log")
    axes.set_xlabel("committed tx/s (labels: offered tx/s)")
    axes.set_ylabel("submit to finality (ms)")
    axes.legend(loc="upper left")
    axes.set_title(
        f"bftx bench --sweep: {sweep['validators']} validators, saturation "
        f"{sweep['saturation_tps']:.0f} tx/s ({sweep['saturation_vs_verify_limit']:.0%} of the "
        f"verify limit {sweep['verify_limit_tps']})"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
