"""Intruders: keys outside genesis get no link, and bad frames cost a node nothing but that link.

The transport pins the genesis validators' certificates (DESIGN.md section 6).
A node whose key is not in genesis is refused in both directions, and bytes
that break the frame format close only the link they came on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
import socket
import ssl
import time
from pathlib import Path

import pytest

from bftx import codec
from bftx.chain import Validator
from bftx.crypto import KeyPair, save_key
from bftx.node.config import render_config
from bftx.p2p.framing import HEADER_BYTES, decode_body, decode_length, encode_frame
from bftx.p2p.identity import Identity, Peer, client_context, create_certificate
from tests.node.cluster import Cluster, Load, NodeProcess

pytestmark = pytest.mark.slow  # real node processes

REFUSED = re.compile(r"p2p connection refused peer=(\S+) reason=(\S+)")


def _write_home(
    cluster: Cluster, like: int, home: Path, key: KeyPair, impersonate: bool
) -> NodeProcess:
    """A node home with ``key``: node ``like``'s configuration (its ports and peers).

    ``impersonate`` forges the genesis so that ``key`` takes node ``like``'s
    validator slot; otherwise the home carries the real genesis.
    """
    genesis = cluster.testnet.genesis
    if impersonate:
        forged = Validator(
            genesis.validators[like].name,
            key.public_key,
            create_certificate(key, genesis.validators[like].name).decode(),
        )
        validators = list(genesis.validators)
        validators[like] = forged
        genesis = dataclasses.replace(genesis, validators=tuple(validators))
    home.mkdir()
    save_key(home / "key.json", key)
    genesis.save(home / "genesis.json")
    config = dataclasses.replace(
        cluster.testnet.nodes[like],
        home=home,
        key_file=home / "key.json",
        genesis_file=home / "genesis.json",
        data_dir=home / "data",
    )
    (home / "config.toml").write_text(render_config(config))
    return NodeProcess(like, home.name, home, cluster.nodes[like].api_url)


def _key_below(keys: list[bytes]) -> KeyPair:
    """A fresh key that sorts before every key in ``keys`` (so it dials all of them)."""
    while True:
        key = KeyPair.generate()
        if key.public_key < min(keys):
            return key


def _refusals(log: str) -> list[tuple[str, str]]:
    return REFUSED.findall(log)


@pytest.mark.timeout(120)
def test_a_node_whose_key_is_not_in_genesis_gets_no_link(cluster: Cluster, tmp_path: Path) -> None:
    keys = [validator.public_key for validator in cluster.testnet.genesis.validators]
    honest_keys = sorted(keys)

    # With the real genesis, a key that is in no member list cannot even start.
    stranger = _write_home(cluster, 0, tmp_path / "stranger", KeyPair.generate(), False)
    stranger.name = "stranger"
    cluster.launch(stranger)
    assert stranger.process is not None
    assert stranger.process.wait(30) == 1
    assert "this key is not a validator in genesis" in stranger.log()

    # A forged genesis that gives a fresh key the slot of the validator every other
    # one dials (the largest key), with a key that sorts first (so it dials everyone):
    # both ends of every link it could have are refused.
    slot = keys.index(honest_keys[-1])
    honest = [index for index in range(cluster.size) if index != slot]
    slot_name = cluster.nodes[slot].name
    assert cluster.stop(slot) == 0
    rogue = _write_home(cluster, slot, tmp_path / "rogue", _key_below(keys), True)
    rogue.name = "rogue"
    load = Load(cluster, targets=honest).start()
    cluster.launch(rogue)

    def refused_both_ways(index: int) -> bool:
        refusals = _refusals(cluster.nodes[index].log())
        dialed = any(where.startswith(f"{slot_name}@") for where, _reason in refusals)
        accepted = any("@" not in where for where, _reason in refusals)
        return dialed and accepted

    for index in honest:
        cluster.wait_for(
            functools.partial(refused_both_ways, index),
            30,
            f"node{index} to refuse the rogue as dialer and as listener",
        )
        reasons = {reason for _where, reason in _refusals(cluster.nodes[index].log())}
        assert reasons <= {"certificate_rejected", "tls_error"}, reasons
        status = cluster.status(index)
        assert slot_name not in status["peers_connected"]
    rogue_status = cluster.wait_for(lambda: cluster.try_status(slot), 30, "the rogue's API")
    assert rogue_status is not None and rogue_status["peers_connected"] == []
    assert rogue.running, "the rogue itself keeps running: it is refused, not crashed"
    assert "reason=refused_by_peer" in rogue.log(), "the rogue sees its dials refused"

    cluster.wait_committed(list(load.accepted), honest, timeout_s=60)
    assert cluster.terminate(rogue) == 0
    cluster.start(slot)
    cluster.wait_connected(range(cluster.size))
    submitted = load.stop()
    cluster.wait_committed(submitted, range(cluster.size), timeout_s=60)
    cluster.check_agreement()


# --- frames --------------------------------------------------------------------------


def _tls_link(cluster: Cluster, target: int, posing_as: int) -> ssl.SSLSocket:
    """A TLS 1.3 link to ``target``'s p2p port that authenticates with node ``posing_as``'s key."""
    genesis = cluster.testnet.genesis
    own = genesis.validators[posing_as]
    identity = Identity(cluster.node_key(posing_as), own.certificate.encode())
    other = genesis.validators[target]
    config = cluster.testnet.nodes[target]
    pinned = Peer(
        other.public_key, other.name, config.p2p_host, config.p2p_port, other.certificate.encode()
    )
    context = client_context(identity, [pinned])
    connection = socket.create_connection((config.p2p_host, config.p2p_port), timeout=10)
    link = context.wrap_socket(connection)
    header = _receive_exactly(link, HEADER_BYTES)
    channel, _payload = decode_body(_receive_exactly(link, decode_length(header)))
    assert channel == 0, "the listener confirms a link with a keepalive first"
    return link


def _receive_exactly(link: ssl.SSLSocket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = link.recv(size - len(data))
        assert chunk, "the link closed early"
        data += chunk
    return data


def _closed_by_peer(link: ssl.SSLSocket, timeout_s: float = 15.0) -> bool:
    """True once the other end closes the link; False if it is still open after ``timeout_s``.

    Whatever the node sends meanwhile (keepalives, consensus messages) is read and ignored.
    """
    deadline = time.monotonic() + timeout_s
    try:
        while (left := deadline - time.monotonic()) > 0:
            link.settimeout(left)
            if not link.recv(65_536):
                return True
    except TimeoutError:
        return False
    except (ConnectionError, ssl.SSLError):
        return True
    return False


def _raw(cluster: Cluster, target: int, data: bytes) -> None:
    """Plain TCP, no TLS: send ``data`` and wait for the node to hang up."""
    config = cluster.testnet.nodes[target]
    address = (config.p2p_host, config.p2p_port)
    with socket.create_connection(address, timeout=10) as connection, contextlib.suppress(OSError):
        connection.sendall(data)
        while connection.recv(65_536):
            pass


def _rejected(cluster: Cluster, index: int, reason: str) -> float:
    return cluster.metrics(index).get(f'bftx_p2p_total{{counter="frames_rejected.{reason}"}}', 0)


@pytest.mark.timeout(120)
def test_malformed_and_oversized_frames_are_dropped_without_crashing_the_node(
    cluster: Cluster,
) -> None:
    keys = [validator.public_key for validator in cluster.testnet.genesis.validators]
    target = keys.index(max(keys))  # it accepts links from every other validator
    posing_as = keys.index(min(keys))
    others = [index for index in range(cluster.size) if index != posing_as]
    # The real owner of the borrowed key would replace our link the moment it reconnected.
    assert cluster.stop(posing_as) == 0
    load = Load(cluster, targets=others).start()

    # Without TLS: garbage, an HTTP request, a huge length prefix. The handshake fails.
    _raw(cluster, target, b"\x16\x03\x01" + bytes(range(256)) * 4)
    _raw(cluster, target, b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
    _raw(cluster, target, b"\xff\xff\xff\xff" + b"\x00" * 65_536)

    # A flood of silent connections: handshakes beyond the bound are refused at once, and
    # the node keeps serving and committing while they hang.
    config = cluster.testnet.nodes[target]
    with contextlib.ExitStack() as stack:
        for _ in range(80):
            stack.enter_context(socket.create_connection((config.p2p_host, config.p2p_port), 10))
        height = cluster.height(target)
        cluster.wait_height([target], height + 2, timeout_s=30)
    counter = 'bftx_p2p_total{counter="handshakes_rejected.too_many_handshakes"}'
    assert cluster.metrics(target).get(counter, 0) >= 1

    # With TLS and a pinned validator key: each frame error closes the link it came on.
    bad_frames = {
        "oversized_frame": b"\xff\xff\xff\xff" + b"\x00" * 1_024,
        "empty_frame": b"\x00\x00\x00\x00",
        "malformed_frame": len(b"not msgpack!").to_bytes(4, "big") + b"not msgpack!",
    }
    for reason, data in bad_frames.items():
        before = _rejected(cluster, target, reason)
        link = _tls_link(cluster, target, posing_as)
        link.sendall(data)
        assert _closed_by_peer(link), f"a frame with {reason} should close the link"
        link.close()
        assert _rejected(cluster, target, reason) == before + 1

    # A non-canonical body (an extra field) and a control frame with a payload also close it.
    for body in (codec.encode((1, b"x", 3)), codec.encode((0, b"ping"))):
        link = _tls_link(cluster, target, posing_as)
        link.sendall(len(body).to_bytes(4, "big") + body)
        assert _closed_by_peer(link), f"the body {body!r} should close the link"
        link.close()

    # Well-formed frames whose payloads are garbage: consensus, gossip, sync, an unknown
    # channel. The node drops each payload and the link stays up.
    link = _tls_link(cluster, target, posing_as)
    for channel in (1, 2, 3, 200):
        link.sendall(encode_frame(channel, b"\xc1 garbage \xff" * 10))
    link.sendall(encode_frame(2, codec.encode((b"not a tx",) * 3)))
    assert not _closed_by_peer(link, timeout_s=1.0), "garbage payloads must not close the link"
    link.close()

    assert cluster.nodes[target].running
    height = cluster.height(target)
    cluster.wait_height(others, height + 5, timeout_s=30)
    cluster.wait_committed(list(load.accepted), others, timeout_s=60)

    cluster.start(posing_as)
    cluster.wait_connected(range(cluster.size))
    submitted = load.stop()
    cluster.wait_committed(submitted, range(cluster.size), timeout_s=60)
    cluster.check_agreement()
    assert "Traceback" not in cluster.nodes[target].log()
