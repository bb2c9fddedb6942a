"""`bftx ibc` refuses bad local input with a stable code before it asks any node."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bftx.cli import main
from bftx.crypto import KeyPair, save_key


def test_a_genesis_that_is_not_json_is_bad_input_in_text_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key.json"
    save_key(key, KeyPair.generate())
    genesis = tmp_path / "genesis.json"
    genesis.write_text("not json")
    command = ["ibc", "client", "create", "--url", "http://127.0.0.1:9", "--key", str(key)]
    assert main([*command, "--genesis", str(genesis)]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: {genesis}: not valid JSON") and error.endswith(
        " [bad_input]\n"
    )
    assert main([*command, "--genesis", str(genesis), "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["error"] == "bad_input" and "not valid JSON" in answer["message"]
