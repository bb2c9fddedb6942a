"""Network namespaces for ``bftx chaos --partition``: each node on its own "host", one bridge.

Layout (nothing in the caller's own namespace is changed):

    hub namespace:   br0 (10.78.0.254/24), and v0, v1, ... enslaved to br0
    node namespace:  eth0 (10.78.0.<index + 1>/24), the other end of v<index>

The chaos process itself talks to the nodes from inside the hub namespace
(`entered`), where every node is reachable, partitioned or not. A partition is
made of blackhole routes (``tc netem`` is not available in our kernels): the
cut node drops what it would send to the others and they drop what they would
send to it.

Names carry the process id and a counter, so runs never collide. `close`
deletes every namespace that was created, and is called on every way out.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator

SUBNET = "10.78.0"
PREFIX_BITS = 24
HUB_ADDRESS = f"{SUBNET}.254"
IP_TIMEOUT_S = 30
_CLONE_NEWNET = 0x40000000

_counter = itertools.count()


class NamespaceError(Exception):
    """Namespaces cannot be created or changed here (not root, no ``ip``, no kernel support)."""


def ip(*arguments: str) -> None:
    completed = subprocess.run(
        ["ip", *arguments], capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=False
    )
    if completed.returncode != 0:
        raise NamespaceError(f"ip {' '.join(arguments)}: {completed.stderr.strip()}")


def unavailable_reason() -> str | None:
    """Why namespaces cannot be used here, or None when they can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "network namespaces need iproute2's ip command"
    if not os.path.exists("/proc/self/ns/net"):
        return "this kernel has no network namespaces"
    return None


class Namespaces:
    """A hub namespace with a bridge, and one namespace per node plugged into it."""

    def __init__(self, count: int) -> None:
        tag = f"{os.getpid()}-{next(_counter)}"
        self.hub = f"bftx-chaos-{tag}-hub"
        self.names = [f"bftx-chaos-{tag}-n{index}" for index in range(count)]
        self.addresses = [f"{SUBNET}.{index + 1}" for index in range(count)]
        self._created: list[str] = []
        self._blackholes: set[tuple[str, str]] = set()  # (namespace, address)

    def create(self) -> None:
        """Build the network; on failure, delete what was built and raise `NamespaceError`."""
        try:
            self._add(self.hub)
            ip("-n", self.hub, "link", "set", "lo", "up")
            ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
            ip("-n", self.hub, "addr", "add", f"{HUB_ADDRESS}/{PREFIX_BITS}", "dev", "br0")
            ip("-n", self.hub, "link", "set", "br0", "up")
            for index, (name, address) in enumerate(zip(self.names, self.addresses, strict=True)):
                self._add(name)
                ip("-n", name, "link", "set", "lo", "up")
                port = f"v{index}"
                ip("-n", self.hub, "link", "add", port, "type", "veth", "peer", "name", "eth0")
                ip("-n", self.hub, "link", "set", "eth0", "netns", name)
                ip("-n", self.hub, "link", "set", port, "master", "br0", "up")
                ip("-n", name, "addr", "add", f"{address}/{PREFIX_BITS}", "dev", "eth0")
                ip("-n", name, "link", "set", "eth0", "up")
        except (NamespaceError, OSError, subprocess.SubprocessError) as error:
            self.close()
            raise NamespaceError(str(error)) from error

    def close(self) -> None:
        """Delete every namespace created here (their interfaces go with them)."""
        for name in reversed(self._created):
            with contextlib.suppress(NamespaceError, OSError, subprocess.SubprocessError):
                ip("netns", "delete", name)
        self._created.clear()
        self._blackholes.clear()

    def exec_prefix(self, index: int) -> list[str]:
        """The command prefix that runs a program inside node ``index``'s namespace."""
        return ["ip", "netns", "exec", self.names[index]]

    def partition(self, index: int) -> None:
        """Cut node ``index`` off from every other node (both directions)."""
        for other, address in enumerate(self.addresses):
            if other != index:
                self._blackhole(self.names[index], address)
                self._blackhole(self.names[other], self.addresses[index])

    def heal(self) -> None:
        """Remove every blackhole route."""
        for name, address in sorted(self._blackholes):
            with contextlib.suppress(NamespaceError):
                ip("-n", name, "route", "delete", "blackhole", f"{address}/32")
        self._blackholes.clear()

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Run the calling thread inside the hub namespace, and return it to where it was.

        Sockets opened meanwhile (and threads started meanwhile) live in the hub,
        where every node's API is reachable.
        """
        libc = ctypes.CDLL(None, use_errno=True)
        original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _setns(libc, os.open(f"/var/run/netns/{self.hub}", os.O_RDONLY))
            try:
                yield
            finally:
                _setns(libc, original, close=False)
        finally:
            os.close(original)

    def _blackhole(self, name: str, address: str) -> None:
        ip("-n", name, "route", "add", "blackhole", f"{address}/32")
        self._blackholes.add((name, address))

    def _add(self, name: str) -> None:
        ip("netns", "add", name)
        self._created.append(name)


def _setns(libc: ctypes.CDLL, descriptor: int, close: bool = True) -> None:
    try:
        if libc.setns(descriptor, _CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise NamespaceError(f"setns: {os.strerror(error)}")
    finally:
        if close:
            os.close(descriptor)
