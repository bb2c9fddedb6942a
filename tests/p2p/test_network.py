"""The Network on real sockets (127.0.0.1, ephemeral ports): links, refusals, bad frames, queues."""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl

import pytest

from bftx import codec, limits
from bftx.errors import ConfigError
from bftx.p2p import Message, Network, Settings
from bftx.p2p.network import reconnect_delay_ms
from tests.p2p.support import (
    FAST,
    FAST_TIMERS,
    HOST,
    Cluster,
    eventually,
    identities,
    listening_socket,
    peer_of,
    raw_tls_client,
    read_frame,
    receive,
    run,
)

CHANNEL = 7


def test_three_pinned_nodes_exchange_messages_in_both_directions() -> None:
    async def body() -> None:
        cluster = Cluster.create(3)
        networks = await cluster.start()
        try:
            for sender in range(3):
                for target in range(3):
                    if sender != target:
                        payload = f"{sender}->{target}".encode()
                        assert networks[sender].send(cluster.key(target), CHANNEL, payload)
            for target in range(3):
                got = {await receive(networks[target]) for _ in range(2)}
                assert got == {
                    Message(cluster.key(sender), CHANNEL, f"{sender}->{target}".encode())
                    for sender in range(3)
                    if sender != target
                }
            assert networks[1].broadcast(9, b"to all") == 2
            for target in (0, 2):
                assert await receive(networks[target]) == Message(cluster.key(1), 9, b"to all")
            for network in networks:
                # exactly one link per pair, established once
                assert len(network.connected_peers()) == 2
                assert network.metrics.links_established == 2
                assert network.metrics.handshakes_rejected == {}
        finally:
            await cluster.close()

    run(body)


def test_unpinned_dialer_is_refused_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        networks = await cluster.start()
        stranger_identity = identities(1, start=100)[0]
        # The stranger pins node 0 (so it would trust it), but node 0 does not pin it.
        stranger = Network(
            stranger_identity,
            [peer_of(cluster.members[0], cluster.port(0))],
            listen=None,
            settings=FAST,
        )
        await stranger.start()
        try:
            await eventually(
                lambda: networks[0].metrics.handshakes_rejected["certificate_rejected"] >= 1
            )
            await eventually(lambda: stranger.metrics.handshakes_rejected["refused_by_peer"] >= 1)
            assert stranger.connected_peers() == frozenset()
            assert networks[0].connected_peers() == {cluster.key(1)}
        finally:
            await stranger.close()
            await cluster.close()

    run(body)
    assert "reason=certificate_rejected" in caplog.text


def test_unpinned_listener_is_refused_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        impostor_identity = identities(1, start=100)[0]
        # An impostor holds node 1's address; node 0 dials it and must refuse it.
        impostor = Network(
            impostor_identity,
            [peer_of(cluster.members[0], cluster.port(0))],
            listen=cluster.sockets[1],
            settings=FAST,
        )
        await impostor.start()
        node = Network(
            cluster.members[0], cluster.peers(), listen=cluster.sockets[0], settings=FAST
        )
        await node.start()
        try:
            await eventually(lambda: node.metrics.handshakes_rejected["certificate_rejected"] >= 1)
            assert node.connected_peers() == frozenset()
            assert impostor.connected_peers() == frozenset()
        finally:
            await node.close()
            await impostor.close()

    run(body)
    assert "reason=certificate_rejected" in caplog.text


def test_pinned_peer_at_another_peers_address_is_refused() -> None:
    async def body() -> None:
        cluster = Cluster.create(3)
        peers = cluster.peers()
        # Node 2 (pinned) listens on the address genesis gives to node 1.
        wrong = Network(cluster.members[2], peers, listen=cluster.sockets[1], settings=FAST)
        node = Network(cluster.members[0], peers, listen=cluster.sockets[0], settings=FAST)
        await wrong.start()
        await node.start()
        try:
            await eventually(lambda: node.metrics.handshakes_rejected["unexpected_peer"] >= 1)
            assert cluster.key(1) not in node.connected_peers()
        finally:
            await node.close()
            await wrong.close()

    run(body)


def test_tls12_client_is_refused() -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        networks = await cluster.start()
        try:
            with pytest.raises((ssl.SSLError, ConnectionError)):
                reader, _writer = await raw_tls_client(
                    cluster.members[1], cluster.peers(), cluster.port(0), ssl.TLSVersion.TLSv1_2
                )
                await reader.read(1)
            await eventually(lambda: networks[0].metrics.handshakes_rejected["tls_error"] >= 1)
            assert networks[0].connected_peers() == {cluster.key(1)}
        finally:
            await cluster.close()

    run(body)


def test_plaintext_bytes_and_silence_are_refused_before_tls() -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        networks = await cluster.start(Settings(handshake_timeout_ms=300))
        try:
            reader, writer = await asyncio.open_connection(HOST, cluster.port(0))
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert await reader.read() == b""
            writer.close()
            await eventually(lambda: networks[0].metrics.handshakes_rejected["tls_error"] >= 1)
            _silent_reader, silent = await asyncio.open_connection(HOST, cluster.port(0))
            await eventually(
                lambda: networks[0].metrics.handshakes_rejected["handshake_timeout"] >= 1
            )
            silent.close()
            assert networks[0].connected_peers() == {cluster.key(1)}
        finally:
            await cluster.close()

    run(body)


def test_wrong_direction_is_refused() -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        networks = await cluster.start()
        try:
            # Node 1 has an address and the larger key: node 0 dials it, never the reverse.
            reader, writer = await raw_tls_client(
                cluster.members[1], cluster.peers(), cluster.port(0)
            )
            assert await reader.read() == b""
            writer.close()
            await eventually(
                lambda: networks[0].metrics.handshakes_rejected["wrong_direction"] >= 1
            )
        finally:
            await cluster.close()

    run(body)


BAD_FRAMES = {
    "oversized_frame": (limits.frame_bytes_max + 1).to_bytes(4, "big"),
    "empty_frame": (0).to_bytes(4, "big"),
    "malformed_frame": (5).to_bytes(4, "big") + b"\xc1\xff\x00\x13\x37",
}


def _body_frame(value: codec.Value) -> bytes:
    body = codec.encode(value)
    return len(body).to_bytes(4, "big") + body


BAD_BODIES = {
    "not_a_pair": _body_frame((1,)),
    "channel_out_of_range": _body_frame((limits.frame_channel_max + 1, b"x")),
    "payload_not_bytes": _body_frame((1, "text")),
    "unknown_control": _body_frame((0, b"hello")),
    "not_canonical": (4).to_bytes(4, "big") + b"\x92\xcc\x01\xc0",  # 1 as uint8, nil
}


@pytest.mark.parametrize(
    ("reason", "frame"),
    [*BAD_FRAMES.items(), *(("malformed_frame", frame) for frame in BAD_BODIES.values())],
    ids=[*BAD_FRAMES, *BAD_BODIES],
)
def test_bad_frame_drops_only_that_connection(reason: str, frame: bytes) -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        # A third pinned member without an address: it dials node 0 by hand.
        rogue = identities(1, start=50)[0]
        peers = [*cluster.peers(), peer_of(rogue, None)]
        networks = [
            Network(member, peers, listen=cluster.sockets[index], settings=FAST)
            for index, member in enumerate(cluster.members)
        ]
        for network in networks:
            await network.start()
        try:
            await networks[0].wait_connected([cluster.key(1)])
            reader, writer = await raw_tls_client(rogue, peers, cluster.port(0))
            assert await read_frame(reader) == (0, b"")  # accepted: the keepalive
            await eventually(lambda: rogue.public_key in networks[0].connected_peers())
            writer.write(frame)
            assert await reader.read() == b""  # node 0 closed the connection
            writer.close()
            await eventually(lambda: rogue.public_key not in networks[0].connected_peers())
            assert networks[0].metrics.frames_rejected == {reason: 1}
            assert networks[0].metrics.disconnects[reason] == 1
            # ... and keeps serving the others.
            networks[1].send(cluster.key(0), CHANNEL, b"still here")
            assert await receive(networks[0]) == Message(cluster.key(1), CHANNEL, b"still here")
            assert networks[0].connected_peers() == {cluster.key(1)}
        finally:
            for network in networks:
                await network.close()

    run(body)


def test_slow_peer_never_grows_the_send_queue_past_its_bound() -> None:
    settings = Settings(
        send_queue_frames_max=64,
        send_queue_bytes_max=256 * 1024,
        write_buffer_bytes_max=64 * 1024,
        keepalive_interval_ms=1_000,
        idle_timeout_ms=60_000,
        write_stall_timeout_ms=60_000,
    )
    frame_payload = b"x" * 16_384
    frames = 3_000  # 48 MiB: far more than the socket buffers hold

    async def body() -> None:
        cluster = Cluster.create(1)
        slow = identities(1, start=60)[0]
        peers = [*cluster.peers(), peer_of(slow, None)]
        node = Network(cluster.members[0], peers, listen=cluster.sockets[0], settings=settings)
        await node.start()
        try:
            _reader, writer = await raw_tls_client(slow, peers, cluster.port(0))
            # The slow peer never reads another byte.
            await eventually(lambda: slow.public_key in node.connected_peers())
            link = node._links[slow.public_key]
            buffered_max = 0
            for index in range(frames):
                assert node.send(slow.public_key, CHANNEL, frame_payload)
                if index % 16 == 0:
                    await asyncio.sleep(0)
                    (status,) = [s for s in node.peer_statuses() if s.public_key == slow.public_key]
                    assert status.queued_frames <= settings.send_queue_frames_max
                    assert status.queued_bytes <= settings.send_queue_bytes_max
                    buffered = link.writer.transport.get_write_buffer_size()
                    buffered_max = max(buffered_max, buffered)
            assert node.metrics.drops["queue_full"] > frames // 2
            assert buffered_max <= settings.write_buffer_bytes_max + 2 * len(frame_payload)
            assert slow.public_key in node.connected_peers()
            writer.transport.abort()
        finally:
            await node.close()

    run(body)


def test_send_to_a_peer_without_a_link_is_dropped_and_counted() -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        node = Network(
            cluster.members[0], cluster.peers(), listen=cluster.sockets[0], settings=FAST
        )
        await node.start()
        try:
            assert not node.send(cluster.key(1), CHANNEL, b"nobody home")
            assert node.metrics.drops["not_connected"] == 1
            with pytest.raises(ValueError):
                node.send(cluster.key(1), 0, b"the transport's own channel")
            with pytest.raises(ValueError):
                node.send(b"\x01" * 32, CHANNEL, b"not pinned")
        finally:
            await node.close()

    run(body)


def test_dialer_reconnects_after_the_listener_restarts() -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        networks = await cluster.start()
        port = cluster.port(1)
        await networks[1].close()
        await eventually(lambda: networks[0].connected_peers() == frozenset())
        restarted = Network(
            cluster.members[1], cluster.peers(), listen=listening_socket(port), settings=FAST
        )
        await restarted.start()
        try:
            await networks[0].wait_connected(timeout_ms=5_000)
            networks[0].send(cluster.key(1), CHANNEL, b"welcome back")
            assert await receive(restarted) == Message(cluster.key(0), CHANNEL, b"welcome back")
            assert networks[0].metrics.links_established == 2
        finally:
            await restarted.close()
            await networks[0].close()

    run(body)


def test_listener_takes_the_dialer_back_after_it_restarts() -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        networks = await cluster.start()
        port = cluster.port(0)
        await networks[0].close()
        await eventually(lambda: networks[1].connected_peers() == frozenset())
        restarted = Network(
            cluster.members[0], cluster.peers(), listen=listening_socket(port), settings=FAST
        )
        await restarted.start()
        try:
            await restarted.wait_connected(timeout_ms=5_000)
            await networks[1].wait_connected(timeout_ms=5_000)
            networks[1].send(cluster.key(0), CHANNEL, b"hello again")
            assert await receive(restarted) == Message(cluster.key(1), CHANNEL, b"hello again")
        finally:
            await restarted.close()
            await networks[1].close()

    run(body)


def test_a_silent_link_is_closed_after_the_idle_timeout() -> None:
    settings = Settings(keepalive_interval_ms=100, idle_timeout_ms=400)

    async def body() -> None:
        cluster = Cluster.create(1)
        mute = identities(1, start=70)[0]
        peers = [*cluster.peers(), peer_of(mute, None)]
        node = Network(cluster.members[0], peers, listen=cluster.sockets[0], settings=settings)
        await node.start()
        try:
            reader, writer = await raw_tls_client(mute, peers, cluster.port(0))
            await eventually(lambda: mute.public_key in node.connected_peers())
            await eventually(lambda: node.metrics.disconnects["idle_timeout"] == 1, timeout_s=3)
            writer.transport.abort()
            del reader
        finally:
            await node.close()

    run(body)


def test_queued_frames_leave_before_a_graceful_close() -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        networks = await cluster.start()
        try:
            for index in range(200):
                networks[0].send(cluster.key(1), CHANNEL, index.to_bytes(2, "big"))
            await networks[0].close()
            got = [await receive(networks[1]) for _ in range(200)]
            assert [int.from_bytes(m.payload, "big") for m in got] == list(range(200))
        finally:
            await cluster.close()

    run(body)


def test_messages_iterator_ends_when_the_network_closes() -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        networks = await cluster.start()
        networks[0].send(cluster.key(1), CHANNEL, b"one")

        async def collect() -> list[bytes]:
            return [message.payload async for message in networks[1].messages()]

        collector = asyncio.create_task(collect())
        await eventually(lambda: networks[1].metrics.frames_in >= 2)
        await cluster.close()
        assert await collector == [b"one"]

    run(body)


def test_reconnect_delay_doubles_with_jitter_up_to_the_maximum() -> None:
    settings = Settings(reconnect_delay_ms_min=100, reconnect_delay_ms_max=1_000)
    rng = random.Random(4)
    for failures, ceiling in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1_000), (500, 1_000)]:
        for _ in range(50):
            assert ceiling / 2 <= reconnect_delay_ms(failures, settings, rng) <= ceiling


def test_a_slow_consumer_pushes_back_instead_of_buffering() -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        networks = await cluster.start(Settings(received_queue_frames_max=4, **FAST_TIMERS))
        try:
            for index in range(100):
                assert networks[0].send(cluster.key(1), CHANNEL, index.to_bytes(1, "big"))
            await asyncio.sleep(0.2)
            # node 1 holds four waiting messages and stopped reading: nothing is lost
            assert networks[1].metrics.frames_in <= 4 + 2
            got = [(await receive(networks[1])).payload[0] for _ in range(100)]
            assert got == list(range(100))
            assert networks[0].metrics.drops == {}
        finally:
            await cluster.close()

    run(body)


def test_link_changes_are_reported_to_the_node() -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        changes: list[tuple[bytes, bool]] = []

        def record(peer: bytes, up: bool) -> None:
            changes.append((peer, up))

        networks = [
            Network(
                cluster.members[0],
                cluster.peers(),
                listen=cluster.sockets[0],
                settings=FAST,
                on_link_change=record,
                on_message=lambda message: None,
            ),
            Network(cluster.members[1], cluster.peers(), listen=cluster.sockets[1], settings=FAST),
        ]
        cluster.networks = networks
        for network in networks:
            await network.start()
        await networks[0].wait_connected()
        await networks[1].close()
        await eventually(lambda: len(changes) == 2)
        assert changes == [(cluster.key(1), True), (cluster.key(1), False)]
        with pytest.raises(RuntimeError):
            await networks[0].receive()
        await cluster.close()
        await networks[0].close()  # closing twice is harmless

    run(body)


def test_a_failing_message_handler_is_reported_to_the_node_and_the_link_stays_up() -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        errors: list[BaseException] = []
        delivered: list[bytes] = []

        def handle(message: Message) -> None:
            delivered.append(message.payload)
            if message.payload == b"bad":
                raise KeyError("a bug in the node")

        networks = [
            Network(
                cluster.members[0],
                cluster.peers(),
                listen=cluster.sockets[0],
                settings=FAST,
                on_message=handle,
                on_handler_error=errors.append,
            ),
            Network(cluster.members[1], cluster.peers(), listen=cluster.sockets[1], settings=FAST),
        ]
        cluster.networks = networks
        for network in networks:
            await network.start()
        await networks[1].wait_connected()
        networks[1].send(cluster.key(0), 1, b"bad")
        networks[1].send(cluster.key(0), 1, b"good")
        await eventually(lambda: len(delivered) == 2)
        assert [type(error) for error in errors] == [KeyError]
        assert networks[0].metrics.handler_errors == 1
        assert cluster.key(1) in networks[0].connected_peers()
        await cluster.close()

    run(body)


def test_a_busy_port_is_a_configuration_error() -> None:
    async def body() -> None:
        cluster = Cluster.create(1)
        network = Network(cluster.members[0], cluster.peers(), listen=(HOST, cluster.port(0)))
        with pytest.raises(ConfigError, match="cannot listen"):
            await network.start()
        await network.close()
        cluster.sockets[0].close()

    run(body)


def test_a_peer_that_starts_late_is_reached_with_backoff() -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        dialer = Network(
            cluster.members[0], cluster.peers(), listen=cluster.sockets[0], settings=FAST
        )
        await dialer.start()
        # node 1's port is bound but not accepting yet: connections are refused or time out
        cluster.sockets[1].close()
        await eventually(lambda: sum(dialer.metrics.dial_failures.values()) >= 2)
        late = Network(
            cluster.members[1],
            cluster.peers(),
            listen=listening_socket(cluster.port(1)),
            settings=FAST,
        )
        await late.start()
        try:
            await dialer.wait_connected(timeout_ms=5_000)
            assert set(dialer.peers) == {cluster.key(1)}
            assert dialer.metrics.links_established == 1
        finally:
            await late.close()
            await dialer.close()

    run(body)


def test_a_payload_too_large_for_one_frame_is_dropped_and_counted() -> None:
    async def body() -> None:
        cluster = Cluster.create(2)
        networks = await cluster.start()
        try:
            too_large = b"\x00" * (limits.frame_bytes_max - 7)
            assert not networks[0].send(cluster.key(1), CHANNEL, too_large)
            assert networks[0].broadcast(CHANNEL, too_large) == 0
            assert networks[0].metrics.drops["frame_too_large"] == 2
            assert networks[0].connected_peers() == {cluster.key(1)}
        finally:
            await cluster.close()

    run(body)


class Partition:
    """A TCP relay in front of a node that can silently swallow traffic, like a blackhole route."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.blackhole = False
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, HOST, 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(HOST, self.target_port)
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self.tasks.add(task)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65_536):
                if not self.blackhole:
                    sink.write(data)
        if not self.blackhole:  # a blackhole does not carry the close either
            sink.close()

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def test_a_partitioned_link_is_noticed_and_restored_after_healing() -> None:
    settings = Settings(
        keepalive_interval_ms=100,
        idle_timeout_ms=500,
        reconnect_delay_ms_min=20,
        reconnect_delay_ms_max=100,
        handshake_timeout_ms=300,
    )

    async def body() -> None:
        cluster = Cluster.create(2)
        partition = Partition(cluster.port(1))
        relay_port = await partition.start()
        # Node 0 reaches node 1 only through the relay.
        peers = cluster.peers()
        peers[1] = peer_of(cluster.members[1], relay_port)
        networks = [
            Network(member, peers, listen=cluster.sockets[index], settings=settings)
            for index, member in enumerate(cluster.members)
        ]
        for network in networks:
            await network.start()
        try:
            await networks[0].wait_connected()
            partition.blackhole = True
            await eventually(lambda: networks[0].connected_peers() == frozenset(), timeout_s=3)
            assert networks[0].metrics.disconnects["idle_timeout"] >= 1, networks[
                0
            ].metrics.disconnects
            await eventually(lambda: networks[1].connected_peers() == frozenset(), timeout_s=3)
            partition.blackhole = False
            await networks[0].wait_connected(timeout_ms=5_000)
            networks[0].send(cluster.key(1), CHANNEL, b"healed")
            assert await receive(networks[1]) == Message(cluster.key(0), CHANNEL, b"healed")
        finally:
            for network in networks:
                await network.close()
            await partition.close()

    run(body)


def test_unauthenticated_connections_cannot_hold_more_than_their_handshake_slots() -> None:
    settings = Settings(inbound_handshakes_max=4, **{**FAST_TIMERS, "handshake_timeout_ms": 500})

    async def body() -> None:
        cluster = Cluster.create(2)
        listener = Network(
            cluster.members[1], cluster.peers(), listen=cluster.sockets[1], settings=settings
        )
        await listener.start()
        silent = [await asyncio.open_connection(HOST, cluster.port(1)) for _ in range(10)]
        await eventually(lambda: listener.metrics.handshakes_rejected["too_many_handshakes"] >= 6)
        dialer = Network(
            cluster.members[0], cluster.peers(), listen=cluster.sockets[0], settings=settings
        )
        await dialer.start()
        try:
            # once the silent ones time out, the pinned peer gets in
            await dialer.wait_connected(timeout_ms=5_000)
            assert listener.metrics.handshakes_rejected["handshake_timeout"] >= 4
        finally:
            for _reader, writer in silent:
                writer.close()
            await dialer.close()
            await listener.close()

    run(body)
