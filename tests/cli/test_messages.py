"""Messages a newcomer meets without a running network: each says what is wrong, truthfully."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from bftx.cli import build_parser, main
from bftx.cli.output import HelpFormatter, bftx_command, human, human_number, seconds
from bftx.cli.sim import fault_warnings


def test_keys_show_of_a_document_says_it_is_not_a_key_file_and_not_chmod(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# bftx\n")
    os.chmod(readme, 0o644)
    assert main(["keys", "show", str(readme)]) == 1
    error = capsys.readouterr().err
    assert "not a bftx key file" in error and "chmod" not in error


def test_a_missing_key_file_is_labelled_with_its_own_code(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "alice.json"
    arguments = ["order", "place", "--url", "http://127.0.0.1:9", "--key", str(missing)]
    assert main([*arguments, "--side", "buy", "--amount", "1", "--price", "1"]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: {missing}: no such key file")
    assert "[key_file_missing]" in error and "(error)" not in error


def test_errors_are_one_unwrapped_line_on_stderr(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    deep = tmp_path / ("a-rather-long-directory-name-" * 4) / "key.json"
    assert main(["balance", "--url", "http://127.0.0.1:9", "--key", str(deep)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1


def test_sim_warns_that_more_byzantine_validators_than_f_break_the_promise(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["sim", "--nodes", "4", "--byzantine", "3", "--seeds", "1"])
    captured = capsys.readouterr()
    assert "3 byzantine validators is more than f = 1" in captured.err
    assert "faults tolerated       f = 1, exceeded: failures are expected" in captured.out


def test_fault_warnings_cover_too_few_validators_and_too_many_faults() -> None:
    assert fault_warnings(4, 1) == []
    assert fault_warnings(7, 2) == []
    (few,) = fault_warnings(2, 0)
    assert "2 validators tolerate no faulty validator" in few
    assert len(fault_warnings(3, 1)) == 2


def test_testnet_init_with_two_validators_warns_and_prints_a_runnable_hint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    directory = tmp_path / "net"
    assert main(["testnet", "init", "--validators", "2", "--dir", str(directory)]) == 0
    captured = capsys.readouterr()
    assert "warning: 2 validators tolerate no faulty validator" in captured.err
    hint = captured.out.strip().splitlines()[-1]
    assert hint == f"start it with: {bftx_command()} testnet start --dir {directory}"
    command = bftx_command().split()[0]
    assert command == "bftx" or Path(command).exists() or os.path.exists(command)


def _every_parser(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += _every_parser(child)
    return found


def test_every_option_has_help_and_every_default_is_shown() -> None:
    for parser in _every_parser(build_parser()):
        assert parser.formatter_class is HelpFormatter, parser.prog
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._VersionAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"{parser.prog} {action.dest}: no help text"
        text = " ".join(parser.format_help().split())
        for action in parser._actions:
            shown = action.default not in (None, False, argparse.SUPPRESS)
            if action.option_strings and shown and not isinstance(action, argparse._HelpAction):
                assert "default" in (action.help or "") or "(default: " in text, (
                    f"{parser.prog} {action.dest}: default not shown"
                )


def test_book_help_shows_the_market_and_depth_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["book", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: BTC/USD)" in text and "(default: 10)" in text


def test_top_level_help_describes_the_demo_in_a_users_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "seed" not in text and "watch one trade go through" in text


def test_human_values_are_readable() -> None:
    assert human(None) == "-" and human(True) == "yes" and human(12345) == "12,345"
    assert human(0.12263428300002488) == "0.123" and human(["a", "b"]) == "a, b"
    assert human_number("45000.00") == "45,000.00" and human_number("0.50000000") == "0.50000000"
    assert seconds(0.12263428300002488) == "123 ms" and seconds(12.34) == "12.3 s"


def _sim_stderr(terminal: bool) -> str:
    """`bftx sim --seeds 3`'s standard error, on a pseudo-terminal or a pipe."""
    import pty
    import subprocess
    import sys

    command = [sys.executable, "-m", "bftx.cli", "sim", "--seeds", "3", "--duration-ms", "3000"]
    if not terminal:
        return subprocess.run(command, capture_output=True, text=True, timeout=120).stderr
    reader, writer = pty.openpty()
    try:
        finished = subprocess.run(
            command,
            stdout=subprocess.DEVNULL,
            stderr=writer,
            timeout=120,
            env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
        )
        os.close(writer)
        writer = -1
        chunks = []
        while True:
            try:
                chunk = os.read(reader, 65536)
            except OSError:  # the pty is drained and closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert finished.returncode == 0
        return b"".join(chunks).decode(errors="replace")
    finally:
        os.close(reader)
        if writer != -1:
            os.close(writer)


def test_sim_shows_a_progress_bar_on_a_terminal_and_nothing_when_piped() -> None:
    on_terminal = _sim_stderr(terminal=True)
    assert "simulating 3 seeds" in on_terminal and "3/3" in on_terminal
    piped = _sim_stderr(terminal=False)
    assert "simulating" not in piped and "wall time" in piped
