"""Real sockets on 127.0.0.1 for p2p tests: identities, pinned peers, networks, raw TLS clients."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import uvloop

from bftx.crypto import KeyPair
from bftx.p2p import Identity, Message, Network, Peer, Settings
from bftx.p2p.framing import HEADER_BYTES, decode_body, decode_length
from bftx.p2p.identity import client_context

HOST = "127.0.0.1"

FAST_TIMERS = {
    "handshake_timeout_ms": 2_000,
    "keepalive_interval_ms": 200,
    "idle_timeout_ms": 2_000,
    "reconnect_delay_ms_min": 20,
    "reconnect_delay_ms_max": 200,
    "link_stable_ms": 5_000,
    "close_flush_timeout_ms": 500,
}
FAST = Settings(**FAST_TIMERS)


def run(test: Callable[[], Awaitable[None]], timeout_s: float = 20.0) -> None:
    """Run an async test body on uvloop (what the node runs on), with a deadline.

    ``BFTX_TEST_LOOP=asyncio`` runs it on the standard event loop instead.
    """

    async def bounded() -> None:
        async with asyncio.timeout(timeout_s):
            await test()

    if os.environ.get("BFTX_TEST_LOOP") == "asyncio":
        asyncio.run(bounded())
    else:
        uvloop.run(bounded())


def identities(count: int, start: int = 1) -> list[Identity]:
    """Deterministic identities, sorted by public key (the first dials all the others)."""
    keys = [KeyPair.from_seed(bytes([start + index]) * 32) for index in range(count)]
    keys.sort(key=lambda key: key.public_key)
    return [Identity.create(key, f"node{index}") for index, key in enumerate(keys)]


def listening_socket(port: int = 0) -> socket.socket:
    return socket.create_server((HOST, port), backlog=64)


def peer_of(identity: Identity, port: int | None) -> Peer:
    name = f"peer-{identity.public_key.hex()[:8]}"
    host = HOST if port is not None else None
    return Peer(identity.public_key, name, host, port, identity.certificate_pem)


@dataclass
class Cluster:
    """Nodes that pin each other; each owns a socket bound before any network starts."""

    members: list[Identity]
    sockets: list[socket.socket]
    ports: list[int]
    networks: list[Network] = field(default_factory=list)

    @staticmethod
    def create(count: int) -> Cluster:
        members = identities(count)
        sockets = [listening_socket() for _ in members]
        return Cluster(members, sockets, [int(s.getsockname()[1]) for s in sockets])

    def port(self, index: int) -> int:
        return self.ports[index]

    def peers(self) -> list[Peer]:
        return [peer_of(member, self.port(index)) for index, member in enumerate(self.members)]

    def key(self, index: int) -> bytes:
        return self.members[index].public_key

    async def start(self, settings: Settings = FAST) -> list[Network]:
        self.networks = [
            Network(member, self.peers(), listen=self.sockets[index], settings=settings)
            for index, member in enumerate(self.members)
        ]
        for network in self.networks:
            await network.start()
        for network in self.networks:
            await network.wait_connected(timeout_ms=5_000)
        return self.networks

    async def close(self) -> None:
        for network in self.networks:
            await network.close()
        for listener in self.sockets:
            listener.close()


async def eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Poll ``check`` until it holds (for counters that move on another task)."""
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.01)


async def receive(network: Network, timeout_s: float = 5.0) -> Message:
    async with asyncio.timeout(timeout_s):
        return await network.receive()


async def raw_tls_client(
    identity: Identity,
    trusted: list[Peer],
    port: int,
    tls_version_max: ssl.TLSVersion | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A hand-driven TLS client presenting ``identity``'s certificate."""
    context = client_context(identity, trusted)
    if tls_version_max is not None:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.maximum_version = tls_version_max
    return await asyncio.open_connection(HOST, port, ssl=context, server_hostname=HOST)


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await reader.readexactly(HEADER_BYTES)
    return decode_body(await reader.readexactly(decode_length(header)))
