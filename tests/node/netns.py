"""Network namespaces for multi-host tests: each node on its own "host", all on one bridge.

Layout (every interface lives in a namespace created here; the test runner's own
namespace is never touched):

    hub namespace:   br0 (10.77.0.254/24), and v0, v1, ... enslaved to br0
    node namespace:  eth0 (10.77.0.<index + 1>/24), the other end of v<index>

Names carry a tag unique to the test process and the test, so parallel workers
(pytest-xdist) never collide, and the same subnet can be reused by every test:
each test's namespaces form their own, isolated network.

A partition is made of blackhole routes (DESIGN.md section 8: ``tc netem`` is
not available): the cut node drops whatever it would send to the others, and
they drop whatever they would send to it. The hub still reaches every node, so
the test can watch a partitioned node through its API.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess

SUBNET = "10.77.0"
PREFIX_BITS = 24
HUB_ADDRESS = f"{SUBNET}.254"

_counter = itertools.count()


class NamespaceError(Exception):
    """Namespaces cannot be created here (not root, no ``ip``, no kernel support)."""


def ip(*arguments: str) -> None:
    completed = subprocess.run(
        ["ip", *arguments], capture_output=True, text=True, timeout=30, check=False
    )
    if completed.returncode != 0:
        raise NamespaceError(f"ip {' '.join(arguments)}: {completed.stderr.strip()}")


def unavailable_reason() -> str | None:
    """Why namespace tests cannot run here, or None when they can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "network namespace tests need root (ip netns add)"
    if shutil.which("ip") is None:
        return "network namespace tests need iproute2's ip command"
    return None


class Namespaces:
    """A hub namespace with a bridge, and one namespace per node plugged into it."""

    def __init__(self, count: int) -> None:
        tag = f"{os.getpid()}-{next(_counter)}"
        self.hub = f"bftx-{tag}-hub"
        self.names = [f"bftx-{tag}-n{index}" for index in range(count)]
        self.addresses = [f"{SUBNET}.{index + 1}" for index in range(count)]
        self._created: list[str] = []
        self._blackholes: set[tuple[str, str]] = set()  # (namespace, address)

    def create(self) -> None:
        """Build the network; `NamespaceError` if the first namespace cannot be made."""
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

    def close(self) -> None:
        """Delete every namespace created here (their interfaces go with them)."""
        for name in reversed(self._created):
            with contextlib.suppress(NamespaceError):  # already gone: delete the others
                ip("netns", "delete", name)
        self._created.clear()

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
            ip("-n", name, "route", "delete", "blackhole", f"{address}/32")
        self._blackholes.clear()

    def _blackhole(self, name: str, address: str) -> None:
        ip("-n", name, "route", "add", "blackhole", f"{address}/32")
        self._blackholes.add((name, address))

    def _add(self, name: str) -> None:
        ip("netns", "add", name)
        self._created.append(name)
