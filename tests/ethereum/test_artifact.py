"""The committed ABI and bytecode are what the pinned solc makes of HashedTimelock.sol.

Needs Node.js and npm: the pinned solc (contracts/ethereum/package-lock.json) is
installed once into a cache directory (~30 s, then reused). Skipped, with the
reason, where Node.js is missing or the npm registry cannot be reached.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts" / "ethereum"
ARTIFACT = ROOT / "src" / "bftx" / "ethereum" / "HashedTimelock.json"
NPM_TIMEOUT_S = 240


def solc_modules() -> Path:
    """node_modules holding the pinned solc: the contracts folder's own, or a cached install."""
    local = CONTRACTS / "node_modules"
    if (local / "solc").is_dir():
        return local
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: cannot recompile the contract")
    version = json.loads((CONTRACTS / "package.json").read_text())["dependencies"]["solc"]
    cache_home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    cache = cache_home / "bftx" / f"solc-{version}"
    if not (cache / "node_modules" / "solc").is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(CONTRACTS / name, cache / name)
        installed = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=cache,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
        )
        if installed.returncode != 0:
            pytest.skip(f"npm could not install solc {version}: {installed.stderr.strip()[-300:]}")
    return cache / "node_modules"


@pytest.mark.slow
def test_committed_artifact_matches_a_fresh_compile(tmp_path: Path) -> None:
    modules = solc_modules()
    output = tmp_path / "HashedTimelock.json"
    compiled = subprocess.run(
        ["node", str(CONTRACTS / "compile.js"), str(output)],
        env={**os.environ, "NODE_PATH": str(modules)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert compiled.returncode == 0, compiled.stderr
    assert json.loads(output.read_text()) == json.loads(ARTIFACT.read_text()), (
        "src/bftx/ethereum/HashedTimelock.json is stale: run `make contracts` and commit it"
    )


def test_artifact_names_the_pinned_compiler() -> None:
    version = json.loads((CONTRACTS / "package.json").read_text())["dependencies"]["solc"]
    artifact = json.loads(ARTIFACT.read_text())
    assert artifact["compiler"].startswith(f"solc {version}+")
    assert f"pragma solidity {version};" in (CONTRACTS / "HashedTimelock.sol").read_text()
