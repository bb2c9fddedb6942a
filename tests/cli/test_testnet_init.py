"""``bftx testnet init``: what it writes, and the ports the README promises."""

from __future__ import annotations

import socket
import stat
import tomllib
from pathlib import Path

from bftx.chain import Genesis
from bftx.cli import main
from bftx.node import testnet
from bftx.node.testnet import free_ports


def api_ports(directory: Path) -> list[int]:
    return [
        tomllib.loads((directory / f"node{i}" / "config.toml").read_text())["api"]["port"]
        for i in range(4)
    ]


def test_init_writes_a_testnet_with_the_documented_ports(tmp_path: Path) -> None:
    assert (
        main(
            [
                "testnet",
                "init",
                "--validators",
                "4",
                "--followers",
                "1",
                "--dir",
                str(tmp_path / "t"),
            ]
        )
        == 0
    )
    directory = tmp_path / "t"
    assert api_ports(directory) == [8700, 8701, 8702, 8703]
    genesis = Genesis.load(directory / "genesis.json")
    assert len(genesis.validators) == 4 and len(genesis.followers) == 1
    assert all(member.certificate for member in genesis.validators + genesis.followers)
    assert stat.S_IMODE((directory / "node0" / "key.json").stat().st_mode) == 0o600
    assert (directory / "accounts" / "alice.json").exists()


def test_random_ports_differ_from_the_fixed_ones(tmp_path: Path) -> None:
    assert main(["testnet", "init", "--random-ports", "--dir", str(tmp_path / "t")]) == 0
    assert api_ports(tmp_path / "t") != [8700, 8701, 8702, 8703]


def test_init_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "something").write_text("x")
    assert main(["testnet", "init", "--dir", str(tmp_path / "t")]) == 1


def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    """Ports the kernel gives outgoing connections are never handed to a node: a client that
    connected anywhere in between could take one first ("address already in use")."""
    ports = free_ports(40)
    assert len(set(ports)) == 40
    assert all(10_000 <= port < testnet._ephemeral_low() for port in ports)
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
            listener.bind(("127.0.0.1", port))
