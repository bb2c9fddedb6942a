"""`bftx demo --scenario swap --exit`: a bftx testnet and eth-tester, three swap outcomes."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_swap_demo_shows_success_and_both_refund_paths_with_balances() -> None:
    environment = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    finished = subprocess.run(
        [sys.executable, "-m", "bftx.cli", "demo", "--scenario", "swap", "--exit"],
        capture_output=True,
        text=True,
        timeout=180,
        env=environment,
    )
    output = finished.stdout
    assert finished.returncode == 0, output + finished.stderr
    for heading in ("1. The swap succeeds", "2. Bob never locks", "3. Alice never claims"):
        assert heading in output, f"{heading!r} missing from:\n{output}"
    assert "bob   claimed 0.5 BTC on bftx" in output
    assert "alice claimed 2 ETH on ethereum" in output
    assert output.count("alice refunded 0.5 BTC on bftx") == 2
    assert "bob   refunded 2 ETH on ethereum" in output
    # balances on both chains after every step: Alice ends with 0.5 BTC less, Bob with 0.5 more
    assert output.count("  balances ") == 4
    rows = re.findall(r"(alice|bob)\s+bftx\s+([\d.]+) BTC\s+ethereum\s+([\d.]+) ETH", output)
    assert len(rows) == 8
    final = dict((name, (btc, eth)) for name, btc, eth in rows[-2:])
    assert final["alice"][0] == "99.50000000" and final["bob"][0] == "100.50000000"
    assert float(final["alice"][1]) > 2.99 and float(final["bob"][1]) < 8.0
