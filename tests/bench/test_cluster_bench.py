"""`bftx bench` end to end on a small 4-validator cluster: the JSON result is complete and
nothing accepted is lost. No assertion on speed (benchmarks are never timed tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bftx.bench.cluster import percentile
from bftx.cli import main

REQUIRED_FIELDS = (
    "validators",
    "duration_s",
    "submitted",
    "committed",
    "lost",
    "tps_committed",
    "latency_ms_p50",
    "latency_ms_p90",
    "latency_ms_p99",
    "latency_ms_max",
    "verify_limit_tps",
)


def test_bench_json_on_a_four_validator_cluster_loses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "bench",
            "--validators",
            "4",
            "--duration",
            "5",
            "--rate",
            "100",
            "--accounts",
            "40",
            "--json",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    for name in REQUIRED_FIELDS:
        assert name in result, name
    assert result["validators"] == 4
    assert result["duration_s"] == 5
    assert result["submitted"] == 500
    assert result["accepted"] == result["submitted"]
    assert result["committed"] == result["submitted"]
    assert result["lost"] == 0
    assert 0 < result["latency_ms_p50"] <= result["latency_ms_p90"] <= result["latency_ms_p99"]
    assert result["latency_ms_p99"] <= result["latency_ms_max"]
    assert result["verify_limit_tps"] > 0
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert saved["committed"] == result["committed"] and saved["timeline"]
    assert (tmp_path / "bench.png").read_bytes().startswith(b"\x89PNG")


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([7.0], 0.99) == 7
    assert percentile([], 0.5) == 0
