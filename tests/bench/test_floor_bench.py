"""`python -m bftx.bench.floor`: every stage is measured, every tx executes, bad sizes are refused."""

from __future__ import annotations

import json

import pytest

from bftx.bench import floor


def test_every_stage_is_measured_and_every_tx_executes() -> None:
    result = floor.run(count=300, block_size=64, accounts=40, repeats=1, seed=3)
    assert result["executed_ok"] == 300
    stages = result["stages_us_per_tx"]
    assert set(stages) == set(floor.STAGES)
    assert all(us > 0 for us in stages.values()), stages
    assert result["floor_us_per_tx"] == pytest.approx(sum(stages.values()), abs=0.05)
    assert result["verify_us"] > 0
    assert result["floor_vs_verify"] == pytest.approx(
        result["floor_us_per_tx"] / result["verify_us"], abs=0.01
    )


def test_the_orders_cross_so_the_store_and_index_see_trades() -> None:
    result = floor.run(count=200, block_size=50, accounts=20, repeats=1, seed=5)
    assert result["trades"] > 0


def test_the_workload_is_the_same_for_the_same_seed() -> None:
    assert floor.signed_txs(50, 5, seed=9)[1] == floor.signed_txs(50, 5, seed=9)[1]
    assert floor.signed_txs(50, 5, seed=9)[1] != floor.signed_txs(50, 5, seed=10)[1]


def test_json_output_is_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--txs", "100", "--block", "50", "--accounts", "10", "--repeats", "1", "--json"]
    assert floor.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["txs"] == 100 and result["executed_ok"] == 100


@pytest.mark.parametrize("flag", ["--txs", "--block", "--accounts", "--repeats"])
def test_sizes_below_one_are_refused(flag: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        floor.main([flag, "0"])
    assert exit_info.value.code == 2
