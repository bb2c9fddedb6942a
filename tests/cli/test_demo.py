"""`bftx demo --exit`: the seed's trade on its own 4-validator testnet, every step printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bftx.cli import main

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
    # the network and its temporary directory are gone: print no command that needs them
    assert "Try, in another terminal" not in output and "bftx book" not in output


def test_demo_refuses_a_directory_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    assert main(["demo", "--dir", str(tmp_path), "--random-ports"]) == 1
    out = capsys.readouterr().out
    assert "was not written by bftx demo" in " ".join(out.split())
    assert (tmp_path / "notes.txt").read_text() == "mine\n"
