"""`bftx bench` end to end on a small 4-validator cluster: the JSON result is complete and
nothing accepted is lost. No assertion on speed (benchmarks are never timed tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bftx.bench.cluster import (
    Observation,
    compute_breakdown,
    compute_minutes,
    count_lost_behind_unaccepted,
    percentile,
)
from bftx.cli import main

REQUIRED_FIELDS = (
    "validators",
    "duration_s",
    "submitted",
    "committed",
    "lost",
    "lost_behind_unaccepted",
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
    assert result["lost"] == 0 and result["lost_behind_unaccepted"] == 0
    assert 0 < result["latency_ms_p50"] <= result["latency_ms_p90"] <= result["latency_ms_p99"]
    assert result["latency_ms_p99"] <= result["latency_ms_max"]
    assert result["verify_limit_tps"] > 0
    assert result["node_rss_mb_max"] > 0 and result["minutes"] == []  # under a minute of load
    assert result["view_changes"] == 0  # 100 tx/s on a quiet cluster: one view throughout
    breakdown = result["latency_breakdown"]
    assert len(breakdown["accepted_to_proposal_ms_by_validator"]) == 4
    # Each tx's accepted latency is the sum of its two parts, and neither is negative (a few ms
    # of slack: block timestamps are whole milliseconds of another process's clock). So each
    # part's percentiles lie between 0 and the whole's; one validator's share of the txs may
    # hold the worst of them, so its percentiles are bounded only by the slowest tx.
    for part in (breakdown["accepted_to_proposal_ms"], breakdown["proposal_to_seen_ms"]):
        assert -5 <= part["p50"] <= part["p99"] <= result["latency_ms_p99_accepted"] + 5
    for part in breakdown["accepted_to_proposal_ms_by_validator"]:
        assert -5 <= part["p50"] <= part["p99"] <= result["latency_ms_max"] + 5
    assert breakdown["proposal_to_seen_ms"]["p50"] > 0  # consensus takes some time
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


def test_the_breakdown_splits_accepted_latency_at_the_proposal_per_validator() -> None:
    observation = Observation([0.0] * 4, [True] * 4, [0.0, 1.0, 0.0, 0.0], [2.0, 3.0, 2.5, -1.0])
    observation.proposed_s = [0.5, 1.5, 2.0, -1.0]  # the last one never seen committed
    observation.validator_of = [0, 1, 1, 0]
    breakdown = compute_breakdown(observation, 2)
    assert breakdown["accepted_to_proposal_ms"] == {"p50": 500.0, "p99": 2000.0}
    assert breakdown["proposal_to_seen_ms"] == {"p50": 1500.0, "p99": 1500.0}
    assert breakdown["accepted_to_proposal_ms_by_validator"] == [
        {"p50": 500.0, "p99": 500.0},
        {"p50": 500.0, "p99": 2000.0},
    ]


def test_lost_txs_behind_a_nonce_never_accepted_are_told_from_dropped_ones() -> None:
    # accounts 0 and 1 alternate; their txs are in nonce order
    observation = Observation(
        [0.0] * 6,
        accepted=[True, False, True, True, False, True],
        accept_s=[0.0] * 6,
        commit_s=[1.0, -1.0, -1.0, -1.0, -1.0, 2.0],
    )
    observation.account_of = [0, 1, 0, 1, 0, 1]
    # tx 2 (account 0) was dropped: nothing of account 0 before it is missing. Tx 3 (account 1)
    # waits behind tx 1, never accepted; tx 5 committed, so it is not lost at all.
    assert count_lost_behind_unaccepted(observation) == 1
    observation.accepted[1] = True  # now account 1 lacks nothing before tx 3: dropped as well
    assert count_lost_behind_unaccepted(observation) == 0


def test_minutes_report_each_whole_minutes_latency_and_the_memory_at_its_end() -> None:
    """A soak shows creep per minute: the txs submitted in a minute, and the nodes' RSS."""
    count = 4
    observation = Observation([-1.0] * count, [True] * count, [-1.0] * count, [-1.0] * count)
    observation.submit_s = [10.0, 50.0, 70.0, 125.0]  # minute 1, 1, 2, and one past the load
    observation.commit_s = [10.1, 50.3, 71.0, 125.2]
    observation.load_s = 121.0  # two whole minutes
    observation.node_rss = [(30.0, 100 * 2**20), (59.0, 110 * 2**20), (119.0, 121 * 2**20)]
    minutes = compute_minutes(observation)
    assert [row["minute"] for row in minutes] == [1, 2]
    assert minutes[0]["latency_ms_p99"] == pytest.approx(300.0)
    assert minutes[0]["latency_ms_p50"] == pytest.approx(100.0)
    assert minutes[1]["latency_ms_p99"] == pytest.approx(1000.0)
    assert [row["node_rss_mb"] for row in minutes] == [110.0, 121.0]
    assert minutes[0]["tps_committed"] == pytest.approx(2 / 60, abs=0.05)
