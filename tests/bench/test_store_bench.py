"""`python -m bftx.bench.store`: every run reports its figures, and bad sizes are refused."""

from __future__ import annotations

import pytest

from bftx.bench import store


def test_every_run_reports_positive_cpu_figures() -> None:
    results = store.run(blocks=128, txs=5, trades=4, accounts=50)
    runs = ["store", "store_with_trade_indexes"]
    runs += [f"index_every_{n}_blocks" for n in (1, 4, 16, 64)]
    for name in runs:
        figures = results[name]
        assert figures["save_us_per_tx"] > 0
        assert figures["save_us_per_tx_first_tenth"] > 0
        assert figures["save_us_per_tx_last_tenth"] > 0
        assert ("index_us_per_trade" in figures) == name.startswith("index_every")
    for n in (1, 4, 16, 64):
        figures = results[f"index_every_{n}_blocks"]
        assert figures["index_us_per_trade"] > 0
        assert figures["index_us_per_trade_first_tenth"] > 0
        assert figures["index_us_per_trade_last_tenth"] > 0


def test_sizes_below_one_are_refused() -> None:
    with pytest.raises(SystemExit) as exit_info:
        store.main(["--blocks", "0"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        store.main(["--accounts", "0"])
    assert exit_info.value.code == 2
