"""`bftx demo --exit`: the seed's trade on its own 4-validator testnet, every step printed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

STEPS = (
    "1 submit",
    "2 admit",
    "3 gossip",
    "4 propose",
    "5 agree",
    "6 execute",
    "7 persist",
    "8 notify",
    "Settlement",
)


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_demo_exit_prints_every_step_of_the_data_flow_and_exits_0() -> None:
    environment = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    finished = subprocess.run(
        [sys.executable, "-m", "bftx.cli", "demo", "--exit"],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )
    output = finished.stdout
    assert finished.returncode == 0, output + finished.stderr
    for step in STEPS:
        assert step in output, f"{step!r} missing from:\n{output}"
    assert output.count("3 gossip") == 4  # every node has the tx
    assert "(3 of 4, quorum 2f+1 = 3)" in output or "(4 of 4, quorum 2f+1 = 3)" in output
    assert "identical hash on all 4" in output
    assert "alice BTC:" in output and "bob   USD:" in output
    assert "/docs" in output and output.rstrip().endswith("stopped")
