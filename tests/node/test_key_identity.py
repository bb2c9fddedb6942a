"""A validator key in use twice is refused at start: another node's key.json, or a peer entry
that is this node's own key (two processes signing as one validator could equivocate)."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bftx.chain import Genesis
from bftx.crypto import load_key
from bftx.errors import ConfigError
from bftx.node.config import PeerConfig, load_config
from bftx.node.runtime import Node
from bftx.node.testnet import create_testnet
from bftx.p2p import Network
from tests.p2p.support import FAST, HOST, Cluster, eventually, listening_socket, peer_of, run

pytestmark = pytest.mark.timeout(60)


def test_another_nodes_key_is_refused(tmp_path: Path) -> None:
    testnet = create_testnet(tmp_path / "testnet", validators=4, traders=1)
    node0, node1 = testnet.nodes[0].home, testnet.nodes[1].home
    config = load_config(node0)
    shutil.copyfile(load_config(node1).key_file, config.key_file)
    with pytest.raises(ConfigError, match=r"'node1'.*'node0'"):
        Node(config, Genesis.load(config.genesis_file), load_key(config.key_file))

    started = subprocess.run(
        [sys.executable, "-m", "bftx.cli", "node", "start", "--home", str(node0)],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert started.returncode != 0
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "'node1'" in lines[0]
    assert not (config.data_dir / "node.db").exists()  # refused before anything was opened


def test_a_peer_with_the_nodes_own_key_is_refused(tmp_path: Path) -> None:
    testnet = create_testnet(tmp_path / "testnet", validators=4, traders=1)
    config = load_config(testnet.nodes[0].home)
    key = load_key(config.key_file)
    itself = PeerConfig("node0-again", key.public_key, config.p2p_host, config.p2p_port + 1)
    config = dataclasses.replace(config, peers=(*config.peers, itself))
    with pytest.raises(ConfigError, match=r"'node0-again'.*own key"):
        Node(config, Genesis.load(config.genesis_file), key)


def test_the_nodes_own_key_and_name_start(tmp_path: Path) -> None:
    testnet = create_testnet(tmp_path / "testnet", validators=4, followers=1, traders=1)
    for node in testnet.nodes:  # validators and the follower: every generated home is accepted
        config = load_config(node.home)
        Node(config, Genesis.load(config.genesis_file), load_key(config.key_file))


def test_a_second_process_with_a_peers_key_is_logged_as_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two processes with one key take turns holding its links: the replacement of a live link
    is an ERROR naming the key's owner and both remote addresses (a restart is not)."""

    async def body() -> None:
        cluster = Cluster.create(2)
        networks = await cluster.start()
        dialer = 0 if cluster.key(0) < cluster.key(1) else 1  # the lower key dials
        listener = 1 - dialer
        name = peer_of(cluster.members[dialer], None).name
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="bftx.p2p"):
            second = Network(
                cluster.members[dialer], cluster.peers(), listen=listening_socket(), settings=FAST
            )
            await second.start()
            try:
                await eventually(
                    lambda: any(record.levelno == logging.ERROR for record in caplog.records)
                )
            finally:
                await second.close()
                await cluster.close()
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert f"two processes may hold validator {name}'s key" in errors[0]
        assert errors[0].count(HOST) == 2  # the old link's remote address and the new one's
        assert networks[listener].metrics.links_established >= 2

    run(body)
