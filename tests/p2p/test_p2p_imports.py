"""bftx.p2p is a transport: it imports the foundations and nothing above them (DESIGN.md section 2)."""

from __future__ import annotations

from pathlib import Path

from tests.test_import_rules import imported_modules

P2P = Path(__file__).resolve().parents[2] / "src" / "bftx" / "p2p"
FOUNDATIONS = ("bftx.crypto", "bftx.codec", "bftx.limits", "bftx.errors")


def test_p2p_imports_only_the_foundations_and_itself() -> None:
    broken = {}
    for path in sorted(P2P.rglob("*.py")):
        outside = {
            name
            for name in imported_modules(path.read_text())
            if name.startswith("bftx")
            and name not in ("bftx", "bftx.p2p")
            and not name.startswith("bftx.p2p.")
            and not name.startswith(FOUNDATIONS)
            and name not in {"bftx.codec", "bftx.limits"}
        }
        if outside:
            broken[path.name] = sorted(outside)
    assert broken == {}
