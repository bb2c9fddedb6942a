"""The quick start as a newcomer follows it: `bftx demo` keeps a network up, then the README's
SDK snippet, every command the demo printed, and every example of docs/sdk.md run as written.

One demo (4 validator processes, free ports: tests never take the fixed ones) serves the whole
module. The snippet and the examples run in the demo's working directory, where `testnet/` is,
exactly as after `make demo` in the repository.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "Ctrl-C stops every node"
START_TIMEOUT_S = 120.0
COMMAND_TIMEOUT_S = 60.0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


@dataclass
class Demo:
    directory: Path
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    directory = tmp_path_factory.mktemp("quickstart")
    process = subprocess.Popen(
        [sys.executable, "-m", "bftx.cli", "demo", "--random-ports"],
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "250", "NO_COLOR": "1"},
    )
    running = Demo(directory, process)
    reader = threading.Thread(target=running.read, daemon=True)
    reader.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while not any(READY_LINE in line for line in running.lines):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the demo did not come up:\n{running.output}")
            time.sleep(0.2)
        yield running
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(5)


def test_the_demo_prints_where_the_network_is_and_how_to_stop_it(demo: Demo) -> None:
    assert "testnet in testnet" in demo.output
    assert "The testnet keeps running in testnet until Ctrl-C here" in demo.output
    assert re.search(r"node0  REST API http://127\.0\.0\.1:\d+ \(docs /docs\)", demo.output)
    assert re.search(r"metrics http://127\.0\.0\.1:\d+/metrics", demo.output)
    assert (demo.directory / "testnet" / "accounts" / "alice.json").exists()


def test_every_command_the_demo_prints_runs_as_printed(demo: Demo) -> None:
    start = demo.lines.index("Try, in another terminal:")
    commands = [line.strip() for line in demo.lines[start + 1 :] if line.startswith("  ")]
    assert len(commands) >= 6, demo.output
    for command in commands:
        finished = subprocess.run(
            shlex.split(command),
            cwd=demo.directory,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        )
        assert finished.returncode == 0, f"{command}\n{finished.stdout}\n{finished.stderr}"
        assert "error" not in finished.stderr, f"{command}\n{finished.stderr}"


def test_the_readme_sdk_snippet_runs_as_pasted_after_the_demo(demo: Demo) -> None:
    snippet = python_blocks((ROOT / "README.md").read_text())[0]
    assert "from_testnet" in snippet or "127.0.0.1:8700" in snippet
    finished = run_python(snippet, demo.directory)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    lines = finished.stdout.splitlines()
    assert re.fullmatch(r"[0-9a-f]{40}:\d+ open 0 \d+ [0-9.e-]+", lines[0]), finished.stdout
    assert lines[1] == "open"


def test_every_example_of_the_sdk_guide_runs_in_order(demo: Demo) -> None:
    node0 = re.search(r"node0  REST API (http://127\.0\.0\.1:\d+)", demo.output)
    assert node0 is not None, demo.output
    # the guide assumes `make demo`'s fixed ports; this demo runs on free ones
    guide = (ROOT / "docs" / "sdk.md").read_text().replace("http://127.0.0.1:8700", node0[1])
    blocks = python_blocks(guide)
    assert len(blocks) >= 10
    script = "\n".join(
        f"print('--- example {number}', flush=True)\n{block}"
        for number, block in enumerate(blocks, start=1)
    )
    finished = run_python(script, demo.directory)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    output = finished.stdout
    assert "closed 0.2\n0.30000000\n" in output  # bob's IOC took 0.2 of alice's 0.5
    assert "maker True\ncanceled\n" in output
    assert "out of range for BTC/USD" in output
    assert "already committed at height" in output
    assert "key_file_missing" in output and "insufficient_funds" in output
    assert "unreachable" in output


def test_the_sdk_guide_shows_every_public_method_of_both_clients() -> None:
    from bftx.client import AsyncClient, Client

    guide = (ROOT / "docs" / "sdk.md").read_text()
    examples = "\n".join(python_blocks(guide))
    for client in (Client, AsyncClient):
        for name in (name for name in dir(client) if not name.startswith("_")):
            assert f"`{name}" in guide or f".{name}" in guide, f"{client.__name__}.{name}"
            assert name in examples, f"no example uses {client.__name__}.{name}"
