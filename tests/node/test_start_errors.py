"""`bftx node start` with bad inputs: one ``error: ...`` line naming the file or the config key,
a non-zero exit, never a traceback; a mistyped or unknown config key is refused, not ignored."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bftx.chain import Genesis
from bftx.cli import main
from bftx.errors import ConfigError
from bftx.node.config import load_config
from bftx.node.testnet import create_testnet
from bftx.store import Store

BINARY = bytes(range(128, 256)) + b"\xff\xfe\x00\x80" * 16  # not UTF-8


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The home of a one-validator testnet (free ports)."""
    return create_testnet(tmp_path / "testnet", validators=1, traders=1).nodes[0].home


def start(home: Path) -> tuple[int, str]:
    """Run ``bftx node start --home HOME`` in a process; its exit code and its output."""
    finished = subprocess.run(
        [sys.executable, "-m", "bftx.cli", "node", "start", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=120,  # a guard against a node that starts after all, not a measurement
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return finished.returncode, finished.stdout + finished.stderr


def plain_error(home: Path, *names: str) -> str:
    """Start the node at ``home``; expect one ``error:`` line naming every one of ``names``."""
    code, output = start(home)
    assert code != 0, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, output
    for name in names:
        assert name in errors[0], output
    return errors[0]


def set_config(home: Path, old: str, new: str) -> None:
    path = home / "config.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_binary_key_file_is_a_plain_error(home: Path) -> None:
    (home / "key.json").write_bytes(BINARY)
    plain_error(home, str(home / "key.json"), "not a bftx key file")


def test_a_binary_config_file_is_a_plain_error(home: Path) -> None:
    (home / "config.toml").write_bytes(BINARY)
    plain_error(home, str(home / "config.toml"), "not valid TOML")


def test_a_binary_genesis_file_is_a_plain_error(home: Path) -> None:
    (home / "genesis.json").write_bytes(BINARY)
    plain_error(home, str(home / "genesis.json"), "not valid JSON")


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something else is listening on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_a_metrics_port_in_use_is_a_plain_error_naming_it(home: Path, taken_port: int) -> None:
    port = load_config(home).metrics_port
    set_config(
        home,
        f'[metrics]\nhost = "127.0.0.1"\nport = {port}',
        f'[metrics]\nhost = "127.0.0.1"\nport = {taken_port}',
    )
    plain_error(home, f"[metrics] port {taken_port} is in use")


@pytest.mark.parametrize("data_dir", ["config.toml", "/proc/opaudit"])
def test_a_data_dir_that_cannot_be_made_is_a_plain_error(home: Path, data_dir: str) -> None:
    set_config(home, 'data_dir = "data"', f'data_dir = "{data_dir}"')
    plain_error(home, "data_dir", str(home / data_dir))


@pytest.mark.parametrize(
    ("old", "new", "key", "section"),
    [
        ("grpc_port =", "grpc_prot =", "grpc_prot", "[api]"),
        ("intake_queue_ms =", "intake_queue_msx =", "intake_queue_msx", "[api]"),
        ('name = "node0"', 'name = "node0"\nbogus_top = 1', "bogus_top", "top level"),
        ("[p2p]\n", "[p2p]\nprot = 1\n", "prot", "[p2p]"),
        ("[metrics]\n", "[metrics]\nhots = 1\n", "hots", "[metrics]"),
    ],
)
def test_an_unknown_config_key_is_refused_naming_it(
    home: Path, old: str, new: str, key: str, section: str
) -> None:
    set_config(home, old, new)
    with pytest.raises(ConfigError, match="unknown key") as refused:
        load_config(home)
    message = str(refused.value)
    assert repr(key) in message and section in message and "valid keys: " in message
    plain_error(home, repr(key), section, str(home / "config.toml"))


def test_an_unknown_peer_key_is_refused(tmp_path: Path) -> None:
    home = create_testnet(tmp_path / "testnet", validators=2, traders=1).nodes[0].home
    set_config(home, "[[p2p.peers]]\n", "[[p2p.peers]]\npubkey = 1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'pubkey' in \[\[p2p.peers\]\]"):
        load_config(home)


def test_every_key_a_testnet_writes_is_known(tmp_path: Path) -> None:
    testnet = create_testnet(tmp_path / "testnet", validators=2, followers=1, traders=1)
    for node in testnet.nodes:
        load_config(node.home)  # no unknown key


def test_any_other_os_error_at_start_is_a_plain_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The last resort: an OSError no check names is still one ``error:`` line, exit 1."""
    import bftx.node.main

    def fail(home: Path) -> None:
        raise PermissionError(13, "Permission denied", str(home / "data" / "pending.bin"))

    monkeypatch.setattr(bftx.node.main, "run", fail)
    capsys.readouterr()
    assert main(["node", "start", "--home", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert "Permission denied" in captured.err and "pending.bin" in captured.err


def test_a_damaged_vote_journal_record_is_named(home: Path) -> None:
    loaded = load_config(home)
    genesis = Genesis.load(loaded.genesis_file)
    store = Store.open(loaded.database_path, genesis.chain_id, genesis.compute_hash())
    try:
        store.append_journal([b"\xde\xad\xbe\xef"])
    finally:
        store.close()
    line = plain_error(home, str(loaded.database_path), "vote journal record 1 is damaged")
    assert "will not start without the votes it signed" in line
