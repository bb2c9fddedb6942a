"""`bftx demo --scenario interchain --exit`: two networks, a relayer process, six checked steps."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_interchain_demo_checks_every_step_and_exits_zero() -> None:
    environment = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    finished = subprocess.run(
        [sys.executable, "-m", "bftx.cli", "demo", "--scenario", "interchain", "--exit"],
        capture_output=True,
        text=True,
        timeout=180,
        env=environment,
    )
    output = finished.stdout
    assert finished.returncode == 0, output + finished.stderr
    for heading in (
        "1. Alice sends 1.5 BTC from A to Bob on B",
        "2. On B the voucher is an ordinary asset",
        "3. Carol sends 0.5 back home to Alice on A",
        "4. The relayer is killed mid-flight",
        "5. Chain B stops; a transfer times out and A refunds",
        "6. A forged packet is refused",
    ):
        assert heading in output, f"{heading!r} missing from:\n{output}"
    assert "Bob holds 1.5 client-0/BTC" in output
    assert "all 8 arrived exactly once" in output
    assert "A refunded Alice's 0.25 BTC" in output
    assert "B refused it (invalid_proof)" in output
    assert "all six steps checked" in output
