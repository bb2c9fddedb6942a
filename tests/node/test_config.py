"""The node configuration: the admission budget is a setting, checked and written back."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from bftx import limits
from bftx.api.intake import intake_for
from bftx.chain import Genesis
from bftx.crypto import load_key
from bftx.errors import ConfigError
from bftx.node.config import load_config, parse_config, render_config
from bftx.node.runtime import Node
from bftx.node.testnet import create_testnet

BASE = {"name": "n", "p2p": {"port": 1}, "api": {"port": 2}, "metrics": {"port": 3}}


def test_the_intake_budget_defaults_to_the_limit_and_round_trips() -> None:
    config = parse_config(Path("/home"), BASE, "config.toml")
    assert config.intake_queue_ms == limits.intake_queue_ms
    changed = replace(config, intake_queue_ms=750)
    text = render_config(changed)
    assert "intake_queue_ms = 750" in text
    assert parse_config(Path("/home"), tomllib.loads(text), "x").intake_queue_ms == 750


@pytest.mark.parametrize("value", [0, 99, 60_001, "1000", True, 1.5])
def test_an_intake_budget_out_of_range_or_not_an_integer_is_refused(value: object) -> None:
    document = {**BASE, "api": {"port": 2, "intake_queue_ms": value}}
    with pytest.raises(ConfigError, match="intake_queue_ms must be an integer in \\[100, 60000\\]"):
        parse_config(Path("/home"), document, "config.toml")


def test_the_nodes_admission_control_uses_the_configured_budget(tmp_path: Path) -> None:
    testnet = create_testnet(tmp_path / "testnet", validators=1, traders=1)
    home = testnet.nodes[0].home
    text = (home / "config.toml").read_text()
    assert "intake_queue_ms = 1000" in text  # a new testnet writes the default down
    (home / "config.toml").write_text(
        text.replace("intake_queue_ms = 1000", "intake_queue_ms = 500")
    )
    config = load_config(home)
    node = Node(config, Genesis.load(config.genesis_file), load_key(config.key_file))
    assert intake_for(node).queue_budget_s == 0.5
