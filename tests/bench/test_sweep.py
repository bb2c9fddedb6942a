"""The sweep's rules and its plot, on synthetic results (a real sweep takes minutes)."""

from __future__ import annotations

from pathlib import Path

from bftx.bench.cluster import is_saturated, write_sweep_outputs


def result(offered: float, committed: float, p99_accepted: float) -> dict[str, float]:
    return {
        "rate_tps": offered,
        "tps_offered": offered,
        "tps_committed": committed,
        "latency_ms_p50": p99_accepted / 3,
        "latency_ms_p99": p99_accepted * 1.2,
        "latency_ms_p99_accepted": p99_accepted,
    }


def test_a_step_is_saturated_when_commits_lag_or_accepted_txs_wait() -> None:
    assert not is_saturated(result(1_000, 990, 400))
    assert is_saturated(result(1_000, 850, 400))  # under 90% committed
    assert is_saturated(result(1_000, 1_000, 2_500))  # accepted txs waited over 2 s


def test_the_sweep_writes_its_json_and_curve(tmp_path: Path) -> None:
    steps = [
        {"fraction": fraction, "refused": {}, "lost": 0, **result(2_000 * fraction, c, p)}
        for fraction, c, p in (
            (0.25, 500, 90),
            (0.5, 1_000, 120),
            (1.0, 1_900, 800),
            (2.0, 1_950, 1_900),
        )
    ]
    sweep = {
        "validators": 4,
        "saturation_tps": 2_000.0,
        "saturation_vs_verify_limit": 0.4,
        "verify_limit_tps": 5_000,
        "steps": steps,
    }
    plot = write_sweep_outputs(tmp_path, sweep)
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "sweep.json").stat().st_size > 0
