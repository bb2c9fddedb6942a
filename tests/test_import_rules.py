"""DESIGN.md section 2: who may import whom. Checked on the source, module by module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "bftx"

FOUNDATIONS = {
    "bftx",
    "bftx.access",
    "bftx.crypto",
    "bftx.codec",
    "bftx.chain",
    "bftx.limits",
    "bftx.errors",
    "bftx.lightblock",
}
IMPURE_STDLIB = {
    "asyncio",
    "socket",
    "sqlite3",
    "time",
    "random",
    "os",
    "threading",
    "datetime",
    "secrets",
    "uuid",
    "selectors",
    "subprocess",
}

# package -> (bftx packages it may import besides the foundations and itself, forbidden modules)
RULES: dict[str, tuple[set[str], set[str]]] = {
    "exchange": (set(), IMPURE_STDLIB),
    "consensus": (set(), IMPURE_STDLIB),
    # The simulator drives the real cores with fake time, network and disk; its
    # randomness is a seeded random.Random, so `random` is allowed there.
    "sim": ({"bftx.consensus", "bftx.exchange"}, IMPURE_STDLIB - {"random"}),
    # The API reads through the node's query surface; it never reaches into
    # consensus or the transport.
    "api": ({"bftx.api", "bftx.node", "bftx.exchange", "bftx.store", "bftx.mempool"}, set()),
    # The SDK is what users import: the tx format and nothing of a node.
    # The verifier (client/verify.py) checks commit certificates, so the SDK also reads the
    # consensus wire formats: pure code, nothing of a node.
    "client": ({"bftx.exchange", "bftx.consensus"}, set()),
    # The relayer is an SDK user of two networks, untrusted: it reaches a chain through
    # the SDK only, never through a node's, the exchange's or consensus's code.
    "relayer": ({"bftx.client"}, set()),
}


def imported_modules(source: str) -> set[str]:
    """Absolute names of every module a source file imports (relative imports are not used)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "use absolute imports"
            module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def violations(package: str, source: str) -> list[str]:
    """The imports in ``source`` (a module of bftx.<package>) that break the rules."""
    allowed_packages, forbidden = RULES[package]
    own = f"bftx.{package}"
    found = []
    for name in sorted(imported_modules(source)):
        root = name.split(".")[0]
        if root in forbidden or (root == "bftx" and not _allowed_bftx(name, own, allowed_packages)):
            found.append(name)
    return found


def _is_foundation(name: str) -> bool:
    # `from bftx import codec` yields "bftx.codec"; `from bftx.codec import X`, "bftx.codec.X".
    return name in FOUNDATIONS or any(name.startswith(f + ".") for f in FOUNDATIONS - {"bftx"})


def _allowed_bftx(name: str, own: str, allowed_packages: set[str]) -> bool:
    if name == own or name.startswith(own + ".") or _is_foundation(name):
        return True
    return any(name == p or name.startswith(p + ".") for p in allowed_packages)


def _modules(package: str) -> list[Path]:
    return sorted((SOURCE / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_respects_import_rules(package: str) -> None:
    files = _modules(package)
    if not files:
        pytest.skip(f"bftx.{package} does not exist yet")
    broken = {
        str(path.relative_to(SOURCE)): found
        for path in files
        if (found := violations(package, path.read_text()))
    }
    assert broken == {}, f"forbidden imports: {broken}"


def test_checker_catches_a_relayer_reaching_past_the_sdk() -> None:
    assert violations("relayer", "from bftx.client import AsyncClient\n") == []
    assert violations("relayer", "from bftx.node.runtime import Node\n") == [
        "bftx.node.runtime",
        "bftx.node.runtime.Node",
    ]


def test_foundations_import_no_subsystem() -> None:
    for name in ("crypto", "codec", "chain", "limits", "errors", "lightblock"):
        path = SOURCE / f"{name}.py"
        if not path.exists():
            continue
        bftx_imports = {m for m in imported_modules(path.read_text()) if m.startswith("bftx")}
        outside = {m for m in bftx_imports if not _is_foundation(m)}
        assert outside == set(), f"{name}.py imports {outside}"


def test_checker_catches_a_forbidden_import() -> None:
    assert violations("exchange", "import time\n") == ["time"]
    assert violations("exchange", "from asyncio import sleep\n") == ["asyncio", "asyncio.sleep"]
    assert violations("exchange", "from bftx.consensus import Replica\n") == [
        "bftx.consensus",
        "bftx.consensus.Replica",
    ]
    assert violations("consensus", "import bftx.exchange.state\n") == ["bftx.exchange.state"]
    assert violations("sim", "import socket\n") == ["socket"]
    assert violations("sim", "import random\nfrom bftx.consensus import Replica\n") == []
    assert violations("exchange", "from bftx import codec\nfrom bftx.crypto import sha256\n") == []
    assert violations("api", "from bftx.consensus import Replica\n") == [
        "bftx.consensus",
        "bftx.consensus.Replica",
    ]
    assert violations("client", "import bftx.node.runtime\n") == ["bftx.node.runtime"]
