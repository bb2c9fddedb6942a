"""Importing web3 must not leave a process that a deep JSON body can crash.

py_ecc, which web3 imports, raises the recursion limit to 100,000; at that limit
the C JSON decoder recurses past the C stack on a body of 100,000 brackets and the
process dies. Every module of bftx that imports web3 goes through `bftx.ethereum`,
which brings the limit back to what py-evm asks for.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bftx.ethereum import EVM_RECURSION_LIMIT

PROBE = """
import json, sys
import {module}
print(sys.getrecursionlimit())
try:
    json.loads("[" * 100_000 + "]" * 100_000)
except RecursionError:
    print("refused")
"""


@pytest.mark.parametrize("module", ["bftx.ethereum", "bftx.swap.legs", "bftx.cli.swap"])
def test_a_deep_json_body_is_refused_not_a_crash(module: str) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)], capture_output=True, text=True
    )
    assert probe.returncode == 0, probe.stderr[-500:]
    limit, outcome = probe.stdout.split()
    assert int(limit) <= EVM_RECURSION_LIMIT and outcome == "refused"
