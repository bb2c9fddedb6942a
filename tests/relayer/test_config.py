"""The relayer's configuration file: what it accepts, and a clear error for each mistake."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bftx.errors import ConfigError
from bftx.relayer.config import (
    EXAMPLE,
    ChainEndpoint,
    RelayerConfig,
    load_config,
    parse_config,
    render_config,
)


def _document(**relay: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "key": "relayer.json",
        "chain": [
            {"urls": ["http://127.0.0.1:8700", "http://127.0.0.1:8701/"], "client_id": "client-0"},
            {"url": "http://127.0.0.1:8800", "client_id": "client-3", "identity": "/keys/r.json"},
        ],
    }
    if relay:
        document["relay"] = relay
    return document


def test_a_complete_config_is_read_with_paths_from_its_directory() -> None:
    config = parse_config(_document(poll_interval_ms=50, metrics_port=0), Path("/etc/bftx"))
    assert config.key == Path("/etc/bftx/relayer.json")
    assert config.chains[0].urls == ("http://127.0.0.1:8700", "http://127.0.0.1:8701")
    assert config.chains[1] == ChainEndpoint(
        ("http://127.0.0.1:8800",), "client-3", Path("/keys/r.json")
    )
    assert config.poll_interval_ms == 50 and config.metrics_port == 0


def test_the_example_config_parses() -> None:
    config = parse_config(tomllib.loads(EXAMPLE), Path("/x"))
    assert [chain.client_id for chain in config.chains] == ["client-0", "client-0"]


def test_a_rendered_config_reads_back_the_same(tmp_path: Path) -> None:
    config = RelayerConfig(
        key=tmp_path / 'odd "name".json',
        chains=(
            ChainEndpoint(("http://a:1",), "client-0"),
            ChainEndpoint(("http://b:2", "http://b:3"), "client-1", tmp_path / "id.json"),
        ),
        poll_interval_ms=100,
        metrics_port=9100,
    )
    path = tmp_path / "relayer.toml"
    path.write_text(render_config(config))
    assert load_config(path) == config


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("key"), "key is missing"),
        (lambda d: d["chain"].pop(), "exactly two [[chain]]"),
        (lambda d: d["chain"][0].pop("client_id"), "chain 1: client_id is missing"),
        (lambda d: d["chain"][1].update(url="ftp://x"), "not an http:// or https:// URL"),
        (lambda d: d["chain"][0].update(urls=[]), "at least one node"),
        (lambda d: d["chain"][1].update(urls=["http://x"]), "url or urls, not both"),
        (lambda d: d["chain"][0].update(clientid="x"), "unknown field clientid"),
        (lambda d: d.update(relay={"poll_interval_ms": 0}), "poll_interval_ms must be a positive"),
        (lambda d: d.update(relay={"refresh_fraction": 1.5}), "between 0 and 1"),
        (lambda d: d.update(relay={"metrics_port": 70_000}), "metrics_port must be 0..65535"),
        (
            lambda d: d.update(relay={"poll_interval_ms": 500, "clear_interval_ms": 100}),
            "at least poll_interval_ms",
        ),
    ],
)
def test_each_mistake_is_a_config_error_naming_the_field(change: Any, message: str) -> None:
    document = _document()
    change(document)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config(document, Path("/x"), "relayer.toml")


def test_a_missing_or_broken_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--example-config"):
        load_config(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("key = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


def test_the_command_prints_the_example_and_refuses_a_bad_config(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bftx.cli", "relayer"]
    example = subprocess.run([*command, "--example-config"], capture_output=True, text=True)
    assert example.returncode == 0 and example.stdout == EXAMPLE
    bad = tmp_path / "bad.toml"
    bad.write_text('key = "k.json"\n')
    refused = subprocess.run([*command, "--config", str(bad)], capture_output=True, text=True)
    assert refused.returncode == 1
    assert "exactly two [[chain]]" in refused.stderr
