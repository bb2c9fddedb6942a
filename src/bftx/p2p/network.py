"""The validator links: listen, dial, authenticate, frame, queue, reconnect.

Owns: one mutually authenticated TLS 1.3 link per pinned peer, the bounded
send queue of each link, keepalives and idle detection, reconnecting with
exponential backoff, and the transport's counters. It moves opaque payloads
tagged with a channel number; what a payload means is the node's business.

Exactly one link per pair: of two peers that both listen, the one with the
smaller public key dials the other; a peer without an address only dials,
and is dialed by nobody. A listener refuses an authenticated peer that should
have been dialed instead (``wrong_direction``), and a new link from a peer
replaces that peer's old one (the peer restarted, or the old link is dead and
not yet noticed).

Send queues drop their *oldest* frames when full (by frames or bytes): the
newest consensus and gossip messages are the useful ones, and a peer that
fell that far behind recovers by state transfer, not by replay. A frame larger
than the byte bound (a state-transfer reply) is queued alone. A frame for a
peer without a link is dropped at once. Every drop is counted by reason.

Must never: block the caller of `send` or `broadcast`, hold more than the
configured bound of bytes for one peer (or one larger frame alone), let one
peer's bad bytes affect any other link, log once per frame, or accept a key
outside the pinned set.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import socket
import ssl
import types
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass

from bftx import limits
from bftx.errors import BftxError, ConfigError
from bftx.p2p.framing import (
    CONTROL_CHANNEL,
    HEADER_BYTES,
    KEEPALIVE_FRAME,
    FrameError,
    decode_body,
    decode_length,
    encode_frame,
)
from bftx.p2p.identity import Identity, Peer, client_context, peer_public_key, server_context

logger = logging.getLogger("bftx.p2p")

_STREAM_LIMIT_BYTES = 65_536
# The envelope adds at most 8 bytes (array, channel as uint8, bin32 header) to a payload.
_PAYLOAD_BYTES_MAX = limits.frame_bytes_max - 8
_ABORT_REASONS = frozenset(
    {"empty_frame", "oversized_frame", "malformed_frame", "idle_timeout", "write_stalled"}
)


class NetworkClosed(BftxError):
    """The network was closed; no more messages will arrive."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Bounds and timers of one `Network`. Defaults come from `bftx.limits`."""

    send_queue_frames_max: int = limits.peer_send_queue_frames_max
    send_queue_bytes_max: int = limits.peer_send_queue_bytes_max
    write_buffer_bytes_max: int = limits.peer_write_buffer_bytes_max
    received_queue_frames_max: int = limits.received_queue_frames_max
    received_queue_bytes_max: int = limits.received_queue_bytes_max
    inbound_handshakes_max: int = limits.inbound_handshakes_max
    handshake_timeout_ms: int = limits.handshake_timeout_ms
    keepalive_interval_ms: int = limits.keepalive_interval_ms
    idle_timeout_ms: int = limits.idle_timeout_ms
    write_stall_timeout_ms: int = limits.write_stall_timeout_ms
    reconnect_delay_ms_min: int = limits.reconnect_delay_ms_min
    reconnect_delay_ms_max: int = limits.reconnect_delay_ms_max
    link_stable_ms: int = limits.link_stable_ms
    close_flush_timeout_ms: int = limits.close_flush_timeout_ms
    rejection_logs_per_minute_max: int = limits.rejection_logs_per_minute_max

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) <= 0:
                raise ConfigError(f"p2p setting {name} must be positive")
        if self.keepalive_interval_ms * 2 > self.idle_timeout_ms:
            raise ConfigError("idle_timeout_ms must be at least twice keepalive_interval_ms")
        if self.reconnect_delay_ms_min > self.reconnect_delay_ms_max:
            raise ConfigError("reconnect_delay_ms_min exceeds reconnect_delay_ms_max")


@dataclass(frozen=True, slots=True)
class Message:
    """A payload received from an authenticated peer (its Ed25519 public key)."""

    peer: bytes
    channel: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class PeerStatus:
    public_key: bytes
    name: str
    connected: bool
    dialer: bool  # True when this node opens the link to the peer
    queued_frames: int
    queued_bytes: int


class Metrics:
    """Live counters of one network, for the node's metrics endpoint. Reasons are stable slugs."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "dial_failures",
        "disconnects",
        "drops",
        "frames_in",
        "frames_out",
        "frames_rejected",
        "handler_errors",
        "handshakes_rejected",
        "links_established",
    )

    def __init__(self) -> None:
        self.frames_in = 0
        self.frames_out = 0  # handed to the socket transport
        self.bytes_in = 0
        self.bytes_out = 0
        self.links_established = 0
        self.handler_errors = 0
        # Outgoing frames that never reached the socket: queue_full, not_connected, link_closed.
        self.drops: collections.Counter[str] = collections.Counter()
        # Connections refused before a link existed (both directions).
        self.handshakes_rejected: collections.Counter[str] = collections.Counter()
        # Dials that found nobody to talk to: unreachable, timeout.
        self.dial_failures: collections.Counter[str] = collections.Counter()
        # Frames that broke the format; each one closed its link.
        self.frames_rejected: collections.Counter[str] = collections.Counter()
        self.disconnects: collections.Counter[str] = collections.Counter()

    def as_dict(self) -> dict[str, int]:
        """Flat ``name -> value`` (``drops.queue_full``) for exporting."""
        flat = {
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "links_established": self.links_established,
            "handler_errors": self.handler_errors,
        }
        for group in ("drops", "handshakes_rejected", "dial_failures", "frames_rejected"):
            counter: collections.Counter[str] = getattr(self, group)
            flat.update({f"{group}.{reason}": count for reason, count in counter.items()})
        flat.update({f"disconnects.{r}": count for r, count in self.disconnects.items()})
        return flat


def dials(own_key: bytes, listening: bool, peer: Peer) -> bool:
    """True when this node is the one that opens the link to ``peer``."""
    if not peer.has_address:
        return False
    return not listening or own_key < peer.public_key


def accepts(own_key: bytes, listening: bool, peer: Peer) -> bool:
    """True when ``peer`` is the one that opens the link to this node."""
    return listening and (not peer.has_address or peer.public_key < own_key)


def reconnect_delay_ms(failures: int, settings: Settings, rng: random.Random) -> float:
    """Exponential backoff with jitter: uniform in [ceiling / 2, ceiling], ceiling doubling per failure."""
    exponent = min(max(failures - 1, 0), 30)
    ceiling = min(settings.reconnect_delay_ms_max, settings.reconnect_delay_ms_min * 2**exponent)
    return rng.uniform(ceiling / 2, ceiling)


class _Link:
    __slots__ = (
        "close_reason",
        "closed",
        "dialer",
        "last_received",
        "last_sent",
        "opened_at",
        "peer",
        "queue",
        "queued_bytes",
        "reader",
        "tasks",
        "waiting_for_node",
        "wakeup",
        "writer",
    )

    def __init__(
        self,
        peer: Peer,
        dialer: bool,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        now: float,
    ) -> None:
        self.peer = peer
        self.dialer = dialer
        self.reader = reader
        self.writer = writer
        self.queue: collections.deque[bytes] = collections.deque()
        self.queued_bytes = 0
        self.wakeup = asyncio.Event()
        self.last_received = now
        self.last_sent = now
        self.opened_at = now
        self.waiting_for_node = False
        self.close_reason: str | None = None
        self.closed = asyncio.Event()
        self.tasks: tuple[asyncio.Task[None], ...] = ()


class _Inbox:
    """Received messages waiting for the node, bounded by count and bytes (one larger frame alone).

    A full inbox makes the reading tasks wait, so the sockets stop being read
    and the peers' send queues absorb (and drop) the excess.
    """

    __slots__ = ("_bytes", "_bytes_max", "_closed", "_frames_max", "_items", "_ready", "_space")

    def __init__(self, frames_max: int, bytes_max: int) -> None:
        self._frames_max = frames_max
        self._bytes_max = bytes_max
        self._items: collections.deque[Message] = collections.deque()
        self._bytes = 0
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        self._closed = False

    async def put(self, message: Message) -> None:
        size = len(message.payload)
        while self._items and (
            len(self._items) >= self._frames_max or self._bytes + size > self._bytes_max
        ):
            self._space.clear()
            await self._space.wait()
        self._items.append(message)
        self._bytes += size
        self._ready.set()

    async def get(self) -> Message:
        while not self._items:
            if self._closed:
                raise NetworkClosed("the network is closed")
            self._ready.clear()
            await self._ready.wait()
        message = self._items.popleft()
        self._bytes -= len(message.payload)
        self._space.set()
        return message

    def close(self) -> None:
        self._closed = True
        self._ready.set()


class _RejectionLog:
    """At most ``per_minute`` warnings about refused connections, then one summary."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.window_start = -60.0
        self.logged = 0
        self.suppressed = 0

    def warning(self, now: float, message: str, *args: object) -> None:
        if now - self.window_start >= 60.0:
            if self.suppressed:
                logger.warning("%d more refused p2p connections were not logged", self.suppressed)
            self.window_start, self.logged, self.suppressed = now, 0, 0
        if self.logged < self.per_minute:
            self.logged += 1
            logger.warning(message, *args)
        else:
            self.suppressed += 1


class Network:
    """The P2P transport of one node.

    ``peers`` is the pinned set from genesis (this node's own entry, if present,
    is skipped). ``listen`` is ``(host, port)`` or an already bound socket, or
    None for a node that only dials. Received messages go to ``on_message``
    when given (called synchronously from the reading task; keep it short),
    otherwise to a bounded queue read with `receive` or ``async for``; a full
    queue stops reading from the sockets (backpressure), it never grows.

    An exception raised by ``on_message`` or ``on_link_change`` is a bug in the
    owner, not in the link: the link stays up, and the exception goes to
    ``on_handler_error`` (the node halts on it, DESIGN.md section 8); without
    that callback it is logged with its traceback and counted.
    """

    def __init__(
        self,
        identity: Identity,
        peers: Iterable[Peer],
        *,
        listen: tuple[str, int] | socket.socket | None = None,
        settings: Settings | None = None,
        on_message: Callable[[Message], None] | None = None,
        on_link_change: Callable[[bytes, bool], None] | None = None,
        on_handler_error: Callable[[BaseException], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.identity = identity
        self.settings = settings or Settings()
        self.metrics = Metrics()
        own_key = identity.public_key
        pinned: dict[bytes, Peer] = {}
        for peer in peers:
            peer.check()
            if peer.public_key == own_key:
                continue
            if peer.public_key in pinned:
                raise ConfigError(f"peer {peer.name!r} is pinned twice")
            pinned[peer.public_key] = peer
        self._pinned = pinned
        self._listen = listen
        self._listening = listen is not None
        self._server_context = server_context(identity, list(pinned.values()))
        self._client_context = client_context(identity, list(pinned.values()))
        self._on_message = on_message
        self._on_link_change = on_link_change
        self._on_handler_error = on_handler_error
        self._rng = rng or random.Random()
        self._received = _Inbox(
            self.settings.received_queue_frames_max, self.settings.received_queue_bytes_max
        )
        self._links: dict[bytes, _Link] = {}
        self._listener: socket.socket | None = None
        self._service_tasks: set[asyncio.Task[None]] = set()
        self._link_tasks: set[asyncio.Task[None]] = set()
        self._handshake_tasks: set[asyncio.Task[None]] = set()
        self._pending_handshakes = 0
        self._unreachable: set[bytes] = set()  # dialed peers in a streak of failed dials
        self._changed = asyncio.Event()
        self._closed = asyncio.Event()
        self._state = "new"
        self._rejections = _RejectionLog(self.settings.rejection_logs_per_minute_max)

    # --- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Bind the listener (if any) and start dialing. Returns once listening."""
        if self._state != "new":
            raise RuntimeError("a network starts once")
        if self._listen is not None:
            self._listener = _bind(self._listen)
        self._state = "running"
        if self._listener is not None:
            self._spawn(self._accept_loop(self._listener), self._service_tasks)
        for peer in self._pinned.values():
            if dials(self.identity.public_key, self._listening, peer):
                self._spawn(self._dial_loop(peer), self._service_tasks)
        self._spawn(self._keepalive_loop(), self._service_tasks)
        logger.info(
            "p2p started key=%s listen=%s peers=%d",
            self.identity.public_key.hex()[:16],
            self.listen_address,
            len(self._pinned),
        )

    async def close(self) -> None:
        """Stop accepting and dialing, give queued frames a moment to leave, then close every link."""
        if self._state in ("closing", "closed"):
            await self._closed.wait()
            return
        if self._state == "new":
            self._state = "closed"
            self._received.close()
            self._closed.set()
            return
        self._state = "closing"
        stopping = self._service_tasks | self._handshake_tasks
        for task in stopping:
            task.cancel()
        await asyncio.gather(*stopping, return_exceptions=True)
        if self._listener is not None:
            self._listener.close()
        flush_deadline = asyncio.get_running_loop().time() + (
            self.settings.close_flush_timeout_ms / 1000
        )
        while (
            any(link.queue for link in self._links.values())
            and asyncio.get_running_loop().time() < flush_deadline
        ):
            await asyncio.sleep(0.01)
        for link in list(self._links.values()):
            self._close_link(link, "shutdown")
        while self._link_tasks:
            await asyncio.gather(*self._link_tasks, return_exceptions=True)
        self._state = "closed"
        self._received.close()
        self._closed.set()
        logger.info("p2p closed key=%s", self.identity.public_key.hex()[:16])

    @property
    def listen_address(self) -> tuple[str, int] | None:
        if self._listener is None:
            return None
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    # --- sending -----------------------------------------------------------------

    def send(self, peer: bytes, channel: int, payload: bytes) -> bool:
        """Queue ``payload`` for ``peer``. False (and counted) when the peer has no link."""
        if peer not in self._pinned:
            raise ValueError(f"{peer.hex()} is not a pinned peer")
        link = self._links.get(peer)
        if link is None:
            _check_channel(channel)
            self.metrics.drops["not_connected"] += 1
            return False
        frame = self._user_frame(channel, payload)
        return frame is not None and self._enqueue(link, frame)

    def broadcast(self, channel: int, payload: bytes) -> int:
        """Queue ``payload`` for every connected peer (encoded once); the number of peers."""
        frame = self._user_frame(channel, payload)
        if frame is None:
            return 0
        queued = 0
        for link in self._links.values():
            queued += self._enqueue(link, frame)
        return queued

    def _user_frame(self, channel: int, payload: bytes) -> bytes | None:
        _check_channel(channel)
        if len(payload) > _PAYLOAD_BYTES_MAX:
            # Data-dependent (a reply of many large blocks): drop it, loudly, and carry on.
            self.metrics.drops["frame_too_large"] += 1
            logger.error(
                "p2p payload of %d bytes on channel %d exceeds frame_bytes_max; dropped",
                len(payload),
                channel,
            )
            return None
        return encode_frame(channel, payload)

    def _enqueue(self, link: _Link, frame: bytes) -> bool:
        size = len(frame)
        queue = link.queue
        while queue and (
            len(queue) >= self.settings.send_queue_frames_max
            or link.queued_bytes + size > self.settings.send_queue_bytes_max
        ):
            link.queued_bytes -= len(queue.popleft())
            self.metrics.drops["queue_full"] += 1
        queue.append(frame)
        link.queued_bytes += size
        link.wakeup.set()
        return True

    # --- receiving ---------------------------------------------------------------

    async def receive(self) -> Message:
        """The next received message; raises `NetworkClosed` once the network is closed."""
        if self._on_message is not None:
            raise RuntimeError("this network delivers messages to on_message")
        return await self._received.get()

    async def messages(self) -> AsyncIterator[Message]:
        """``async for message in network.messages()``; ends when the network closes."""
        while True:
            try:
                yield await self.receive()
            except NetworkClosed:
                return

    # --- status ------------------------------------------------------------------

    @property
    def peers(self) -> Mapping[bytes, Peer]:
        """The pinned peers by public key (this node excluded), read-only."""
        return types.MappingProxyType(self._pinned)

    def connected_peers(self) -> frozenset[bytes]:
        return frozenset(self._links)

    def expected_peers(self) -> frozenset[bytes]:
        """The pinned peers this node has a link with when everything is up."""
        own, listening = self.identity.public_key, self._listening
        return frozenset(
            key
            for key, peer in self._pinned.items()
            if dials(own, listening, peer) or accepts(own, listening, peer)
        )

    def peer_statuses(self) -> tuple[PeerStatus, ...]:
        statuses = []
        for key, peer in sorted(self._pinned.items()):
            link = self._links.get(key)
            statuses.append(
                PeerStatus(
                    public_key=key,
                    name=peer.name,
                    connected=link is not None,
                    dialer=dials(self.identity.public_key, self._listening, peer),
                    queued_frames=len(link.queue) if link else 0,
                    queued_bytes=link.queued_bytes if link else 0,
                )
            )
        return tuple(statuses)

    async def wait_connected(
        self, peers: Iterable[bytes] | None = None, timeout_ms: int = 10_000
    ) -> None:
        """Wait until every peer in ``peers`` (default: `expected_peers`) has a link."""
        wanted = set(self.expected_peers() if peers is None else peers)
        async with asyncio.timeout(timeout_ms / 1000):
            while not wanted <= self._links.keys():
                await self._changed.wait()

    # --- accepting ---------------------------------------------------------------

    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                connection, address = await loop.sock_accept(listener)
            except OSError as error:  # e.g. out of file descriptors: keep serving
                logger.warning("p2p accept failed: %s", error)
                await asyncio.sleep(0.1)
                continue
            where = f"{address[0]}:{address[1]}"
            if self._pending_handshakes >= self.settings.inbound_handshakes_max:
                connection.close()
                self._reject(where, "too_many_handshakes", "")
                continue
            self._spawn(self._accept(connection, where), self._handshake_tasks)

    async def _accept(self, connection: socket.socket, where: str) -> None:
        loop = asyncio.get_running_loop()
        timeout_s = self.settings.handshake_timeout_ms / 1000
        reader = asyncio.StreamReader(limit=_STREAM_LIMIT_BYTES)
        protocol = asyncio.StreamReaderProtocol(reader)
        self._pending_handshakes += 1
        try:
            async with asyncio.timeout(timeout_s + 1):
                # uvloop returns its own SSL protocol here: keep ours.
                transport, _ = await loop.connect_accepted_socket(
                    lambda: protocol,
                    connection,
                    ssl=self._server_context,
                    ssl_handshake_timeout=timeout_s,
                )
        except ssl.SSLCertVerificationError as error:
            connection.close()
            self._reject(where, "certificate_rejected", error.verify_message)
            return
        except ssl.SSLError as error:
            connection.close()
            self._reject(where, "tls_error", error.reason or str(error))
            return
        except (TimeoutError, ConnectionAbortedError):
            connection.close()
            self._reject(where, "handshake_timeout", "")
            return
        except OSError as error:
            connection.close()
            self._reject(where, "connection_error", str(error))
            return
        except asyncio.CancelledError:
            connection.close()
            raise
        finally:
            self._pending_handshakes -= 1
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        key = peer_public_key(writer.get_extra_info("ssl_object"))
        peer = self._pinned.get(key) if key is not None else None
        if peer is None or self._state != "running":
            reason = "unpinned_key" if self._state == "running" else "shutting_down"
            transport.abort()
            self._reject(where, reason, key.hex() if key else "no certificate")
            return
        if not accepts(self.identity.public_key, self._listening, peer):
            transport.abort()
            self._reject(where, "wrong_direction", peer.name)
            return
        link = self._install(peer, reader, writer, dialer=False)
        # The first frame tells the dialer its certificate was accepted.
        self._enqueue(link, KEEPALIVE_FRAME)

    # --- dialing -----------------------------------------------------------------

    async def _dial_loop(self, peer: Peer) -> None:
        failures = 0
        while True:
            try:
                link = await self._dial(peer)
            except Exception:  # a bug: keep the other links and this loop alive
                logger.exception("p2p dial failed unexpectedly peer=%s", peer.name)
                link = None
            if link is not None:
                await link.closed.wait()
                lived_ms = (asyncio.get_running_loop().time() - link.opened_at) * 1000
                if lived_ms >= self.settings.link_stable_ms:
                    failures = 0
            failures += 1
            delay_ms = reconnect_delay_ms(failures, self.settings, self._rng)
            await asyncio.sleep(delay_ms / 1000)

    async def _dial(self, peer: Peer) -> _Link | None:
        assert peer.host is not None and peer.port is not None
        loop = asyncio.get_running_loop()
        timeout_s = self.settings.handshake_timeout_ms / 1000
        where = f"{peer.name}@{peer.host}:{peer.port}"
        reader = asyncio.StreamReader(limit=_STREAM_LIMIT_BYTES)
        protocol = asyncio.StreamReaderProtocol(reader)
        writer: asyncio.StreamWriter | None = None
        stage = "connect"
        try:
            async with asyncio.timeout(timeout_s):
                transport, _ = await loop.create_connection(
                    lambda: protocol,
                    peer.host,
                    peer.port,
                    ssl=self._client_context,
                    server_hostname=peer.host,
                    ssl_handshake_timeout=timeout_s,
                )
                writer = asyncio.StreamWriter(transport, protocol, reader, loop)
                stage = "confirm"
                key = peer_public_key(writer.get_extra_info("ssl_object"))
                if key != peer.public_key:
                    writer.transport.abort()
                    shown = key.hex()[:16] if key else "none"
                    self._reject(where, "unexpected_peer", f"key {shown}")
                    return None
                # TLS 1.3 completes on the client before the server has checked
                # our certificate: the listener's first frame is the confirmation.
                channel, _payload = decode_body(
                    await reader.readexactly(decode_length(await reader.readexactly(HEADER_BYTES)))
                )
                if channel != CONTROL_CHANNEL:
                    raise FrameError("malformed_frame", "the first frame is not a keepalive")
        except ssl.SSLCertVerificationError as error:
            self._reject(where, "certificate_rejected", error.verify_message)
            return None
        except ssl.SSLError as error:
            self._abort(writer)
            self._reject(where, "tls_error", error.reason or str(error))
            return None
        except FrameError as error:
            self._abort(writer)
            self.metrics.frames_rejected[error.reason] += 1
            self._reject(where, error.reason, str(error))
            return None
        except (TimeoutError, ConnectionAbortedError):
            self._abort(writer)
            if stage == "connect":
                self._dial_failed(peer, where, "timeout")
            else:
                self._reject(where, "handshake_timeout", "no confirmation from the listener")
            return None
        except (OSError, asyncio.IncompleteReadError) as error:
            self._abort(writer)
            if stage == "connect":
                self._dial_failed(peer, where, "unreachable", str(error))
            else:
                self._reject(where, "refused_by_peer", "closed during the handshake")
            return None
        except asyncio.CancelledError:
            self._abort(writer)
            raise
        assert writer is not None
        if self._state != "running":
            self._abort(writer)
            return None
        return self._install(peer, reader, writer, dialer=True)

    def _dial_failed(self, peer: Peer, where: str, reason: str, detail: str = "") -> None:
        self.metrics.dial_failures[reason] += 1
        # A peer that is down is normal during rolling restarts: one line per streak.
        level = logging.DEBUG if peer.public_key in self._unreachable else logging.INFO
        self._unreachable.add(peer.public_key)
        logger.log(level, "p2p dial failed peer=%s reason=%s %s", where, reason, detail)

    # --- links -------------------------------------------------------------------

    def _install(
        self,
        peer: Peer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        dialer: bool,
    ) -> _Link:
        old = self._links.get(peer.public_key)
        if old is not None:
            # A live link (it received within two keepalive intervals) replaced by another with
            # the same key: a peer that restarted closed its old link first. Two processes
            # with one key take turns holding the link, and both vote: say so loudly.
            live_s = 2 * self.settings.keepalive_interval_ms / 1000
            if asyncio.get_running_loop().time() - old.last_received <= live_s:
                logger.error(
                    "p2p live link replaced peer=%s old_remote=%s new_remote=%s: "
                    "two processes may hold validator %s's key",
                    peer.name,
                    old.writer.get_extra_info("peername"),
                    writer.get_extra_info("peername"),
                    peer.name,
                )
            self._close_link(old, "replaced")
        self._unreachable.discard(peer.public_key)
        transport = writer.transport
        transport.set_write_buffer_limits(high=self.settings.write_buffer_bytes_max)
        link = _Link(peer, dialer, reader, writer, asyncio.get_running_loop().time())
        self._links[peer.public_key] = link
        self.metrics.links_established += 1
        logger.info(
            "p2p link up peer=%s key=%s direction=%s",
            peer.name,
            peer.public_key.hex()[:16],
            "out" if dialer else "in",
        )
        self._spawn(self._run_link(link), self._link_tasks)
        self._notify_link_change(peer.public_key, True)
        return link

    async def _run_link(self, link: _Link) -> None:
        reading = asyncio.create_task(self._read(link))
        writing = asyncio.create_task(self._write(link))
        link.tasks = (reading, writing)
        try:
            await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in link.tasks:
                task.cancel()
            await asyncio.gather(*link.tasks, return_exceptions=True)
            await self._teardown(link)

    async def _teardown(self, link: _Link) -> None:
        reason = link.close_reason or "closed"
        self.metrics.drops["link_closed"] += len(link.queue)
        link.queue.clear()
        link.queued_bytes = 0
        self.metrics.disconnects[reason] += 1
        key = link.peer.public_key
        if self._links.get(key) is link:
            del self._links[key]
            self._notify_link_change(key, False)
        logger.info("p2p link down peer=%s reason=%s", link.peer.name, reason)
        if reason in _ABORT_REASONS:
            link.writer.transport.abort()
        else:
            link.writer.close()
            try:
                async with asyncio.timeout(1.0):
                    await link.writer.wait_closed()
            except (TimeoutError, OSError, ssl.SSLError):
                link.writer.transport.abort()
        link.closed.set()

    def _close_link(self, link: _Link, reason: str) -> None:
        if link.close_reason is None:
            link.close_reason = reason
        for task in link.tasks:
            task.cancel()

    async def _read(self, link: _Link) -> None:
        reader = link.reader
        metrics = self.metrics
        loop = asyncio.get_running_loop()
        peer_key = link.peer.public_key
        try:
            while True:
                header = await reader.readexactly(HEADER_BYTES)
                length = decode_length(header)
                channel, payload = decode_body(await reader.readexactly(length))
                link.last_received = loop.time()
                metrics.frames_in += 1
                metrics.bytes_in += HEADER_BYTES + length
                if channel == CONTROL_CHANNEL:
                    continue
                message = Message(peer_key, channel, payload)
                if self._on_message is not None:
                    self._deliver(message)
                else:
                    link.waiting_for_node = True
                    await self._received.put(message)
                    link.waiting_for_node = False
                    link.last_received = loop.time()
        except FrameError as error:
            metrics.frames_rejected[error.reason] += 1
            self._set_reason(link, error.reason)
            self._rejections.warning(
                loop.time(), "p2p frame rejected peer=%s: %s", link.peer.name, error
            )
        except asyncio.IncompleteReadError:
            self._set_reason(link, "peer_closed")
        except ssl.SSLError:
            self._set_reason(link, "tls_error")
        except OSError:
            self._set_reason(link, "connection_error")

    def _deliver(self, message: Message) -> None:
        assert self._on_message is not None
        try:
            self._on_message(message)
        except Exception as error:
            self._handler_failed(error, f"on_message failed channel={message.channel}")

    def _handler_failed(self, error: Exception, what: str) -> None:
        """The owner's handler raised: hand the error to the owner, or log it with its traceback."""
        self.metrics.handler_errors += 1
        if self._on_handler_error is not None:
            self._on_handler_error(error)
        else:
            logger.error("p2p %s", what, exc_info=error)

    async def _write(self, link: _Link) -> None:
        writer = link.writer
        transport = writer.transport
        queue = link.queue
        metrics = self.metrics
        loop = asyncio.get_running_loop()
        buffer_max = self.settings.write_buffer_bytes_max
        stall_s = self.settings.write_stall_timeout_ms / 1000
        try:
            while True:
                if not queue:
                    link.wakeup.clear()
                    await link.wakeup.wait()
                    continue
                frame = queue.popleft()
                link.queued_bytes -= len(frame)
                writer.write(frame)
                link.last_sent = loop.time()
                metrics.frames_out += 1
                metrics.bytes_out += len(frame)
                if transport.get_write_buffer_size() > buffer_max:
                    async with asyncio.timeout(stall_s):
                        await writer.drain()
        except TimeoutError:
            self._set_reason(link, "write_stalled")
        except ssl.SSLError:
            self._set_reason(link, "tls_error")
        except OSError:
            self._set_reason(link, "connection_error")

    @staticmethod
    def _set_reason(link: _Link, reason: str) -> None:
        if link.close_reason is None:
            link.close_reason = reason

    async def _keepalive_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval_s = self.settings.keepalive_interval_ms / 1000
        idle_s = self.settings.idle_timeout_ms / 1000
        while True:
            await asyncio.sleep(interval_s / 2)
            now = loop.time()
            for link in list(self._links.values()):
                if now - link.last_received > idle_s and not link.waiting_for_node:
                    self._close_link(link, "idle_timeout")
                elif now - link.last_sent >= interval_s and not link.queue:
                    self._enqueue(link, KEEPALIVE_FRAME)

    # --- helpers -----------------------------------------------------------------

    def _reject(self, where: str, reason: str, detail: str) -> None:
        self.metrics.handshakes_rejected[reason] += 1
        self._rejections.warning(
            asyncio.get_running_loop().time(),
            "p2p connection refused peer=%s reason=%s %s",
            where,
            reason,
            detail,
        )

    @staticmethod
    def _abort(writer: asyncio.StreamWriter | None) -> None:
        if writer is not None:
            writer.transport.abort()

    def _spawn(self, coroutine: Coroutine[None, None, None], into: set[asyncio.Task[None]]) -> None:
        task = asyncio.create_task(coroutine)
        into.add(task)
        task.add_done_callback(into.discard)
        task.add_done_callback(_log_failure)

    def _notify_link_change(self, peer: bytes, up: bool) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
        if self._on_link_change is not None:
            try:
                self._on_link_change(peer, up)
            except Exception as error:
                self._handler_failed(error, "on_link_change failed")


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.error("p2p task %s failed", task.get_coro(), exc_info=error)


def _check_channel(channel: int) -> None:
    if not CONTROL_CHANNEL < channel <= limits.frame_channel_max:
        raise ValueError(f"channel {channel} is outside [1, {limits.frame_channel_max}]")


def _bind(listen: tuple[str, int] | socket.socket) -> socket.socket:
    if isinstance(listen, socket.socket):
        listener = listen
        listener.listen()
    else:
        try:
            listener = socket.create_server(listen, backlog=128)
        except OSError as error:
            raise ConfigError(f"cannot listen on {listen[0]}:{listen[1]}: {error}") from error
    listener.setblocking(False)
    return listener
