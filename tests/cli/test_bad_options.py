"""Bad options and arguments are plain errors, never tracebacks: a usage error (exit 2) that
names the option, or one ``error: ...`` line and a non-zero exit. No network is needed: each is
refused before any node is asked (the node URLs below have nothing listening)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bftx.cli import main

NOWHERE = "http://127.0.0.1:9"


def usage_error(capsys: pytest.CaptureFixture[str], *arguments: str) -> str:
    """Run ``bftx ARGUMENTS``, expect argparse's usage error (exit 2); its message."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(list(arguments))
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error and "error: argument" in error, error
    return error


@pytest.mark.parametrize("url", ["http://[::1", "http://h:x", "ftp://example.org", "foo"])
def test_a_malformed_url_is_a_usage_error(capsys: pytest.CaptureFixture[str], url: str) -> None:
    assert "--url" in usage_error(capsys, "status", "--url", url)
    assert "--url" in usage_error(capsys, "htlc", "show", "--id", "00" * 32, "--url", url)


def test_a_malformed_bftx_url_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BFTX_URL", "http://[::1")
    assert "--url" in usage_error(capsys, "status")


def test_a_malformed_url_in_a_testnet_config_is_a_plain_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "node0").mkdir()
    (tmp_path / "node0" / "config.toml").write_text('[api]\nhost = "[::1"\nport = 8700\n')
    for command in (["status"], ["htlc", "show", "--id", "00" * 32]):
        capsys.readouterr()
        assert main([*command, "--testnet", str(tmp_path)]) in (1, 2)  # the CLI's or the SDK's
        error = capsys.readouterr().err
        assert error.startswith("error: ") and "[::1" in error and error.count("\n") == 1


@pytest.mark.parametrize("seconds", ["-1", "0", "nan", "inf", "-inf", "1e300", "soon"])
def test_a_timeout_must_be_a_positive_finite_number(
    capsys: pytest.CaptureFixture[str], seconds: str
) -> None:
    assert "--timeout" in usage_error(capsys, "status", "--url", NOWHERE, "--timeout", seconds)
    assert "--timeout" in usage_error(
        capsys, "proof", "counters", "--url", NOWHERE, "--timeout", seconds
    )


def test_ibc_client_update_checks_the_tracked_chains_url(
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = usage_error(
        capsys, "ibc", "client", "update", "--key", "k.json", "--client-id", "client-0",
        "--from-url", "http://[::1", "--url", NOWHERE,
    )  # fmt: skip
    assert "--from-url" in error


def test_bench_refuses_an_out_directory_it_cannot_create_before_it_starts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import bftx.bench.cluster

    def must_not_start(*_arguments: object, **_options: object) -> None:
        raise AssertionError("the bench started although --out cannot be written")

    monkeypatch.setattr(bftx.bench.cluster, "run_bench", must_not_start)
    monkeypatch.setattr(bftx.bench.cluster, "run_sweep", must_not_start)
    (tmp_path / "file").write_text("")
    for extra in ([], ["--sweep"]):
        capsys.readouterr()
        assert main(["bench", "--out", str(tmp_path / "file" / "results"), *extra]) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"error: --out {tmp_path / 'file' / 'results'}: cannot create")


def test_json_errors_stay_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "node0").mkdir()
    (tmp_path / "node0" / "config.toml").write_text('[api]\nhost = "[::1"\nport = 8700\n')
    assert main(["status", "--testnet", str(tmp_path), "--json"]) in (1, 2)
    assert "[::1" in json.loads(capsys.readouterr().out)["message"]


@pytest.mark.parametrize(
    ("option", "command"),
    [
        ("--preimage", ["htlc", "claim", "--key", "k.json", "--id", "00" * 32, "--preimage", "zz"]),
        ("--hashlock", ["htlc", "lock", "--key", "k.json", "--asset", "BTC", "--amount", "1",
                        "--receiver", "00" * 20, "--hashlock", "00" * 31]),
        ("--id", ["htlc", "show", "--id", "../status"]),
        ("--id", ["deal", "fund", "--key", "k.json", "--id", "²" * 64]),
        ("--expires-in", ["htlc", "lock", "--key", "k.json", "--asset", "BTC", "--amount", "1",
                          "--receiver", "00" * 20, "--expires-in", "1e30"]),
        ("--expiry-ms", ["htlc", "lock", "--key", "k.json", "--asset", "BTC", "--amount", "1",
                         "--receiver", "00" * 20, "--expiry-ms", "99999999999999999999999"]),
        ("--deadline-in", ["deal", "propose", "--key", "k.json", "--counterparty", "00" * 20,
                           "--deliver-asset", "BTC", "--deliver-amount", "1", "--pay-asset",
                           "USD", "--pay-amount", "1", "--deadline-in", "nan"]),
        ("--timeout-in", ["ibc", "transfer", "--key", "k.json", "--asset", "BTC", "--amount",
                          "1", "--receiver", "00" * 20, "--client-id", "client-0",
                          "--counterparty-client-id", "client-0", "--timeout-in", "-1"]),
        ("--id", ["order", "cancel", "--key", "k.json", "--id", "²"]),
        ("--id", ["order", "cancel", "--key", "k.json", "--id", "99999999999999999999999"]),
        ("--id", ["order", "cancel", "--key", "k.json", "--id", "zz:1"]),
    ],
)  # fmt: skip
def test_the_cli_refuses_malformed_numbers_and_hex_before_asking_a_node(
    capsys: pytest.CaptureFixture[str], option: str, command: list[str]
) -> None:
    assert f"argument {option}" in usage_error(capsys, *command, "--url", NOWHERE)


@pytest.mark.parametrize("command", [["keys", "generate"], ["account", "create"]])
def test_a_new_key_file_needs_an_existing_directory_and_a_free_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    capsys.readouterr()
    assert main([*command, "--out", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert error == f"error: {tmp_path}: is a directory; give the path of the new key file in it\n"

    missing = tmp_path / "missing" / "deeper"
    assert main([*command, "--out", str(missing / "k.json")]) == 1
    assert capsys.readouterr().err.startswith(f"error: {missing / 'k.json'}: no directory")
    assert not (tmp_path / "missing").exists()  # nothing was created

    (tmp_path / "file").write_text("")
    assert main([*command, "--out", str(tmp_path / "file" / "k.json")]) == 1
    assert capsys.readouterr().err.startswith("error: ")

    assert main([*command, "--out", str(tmp_path / "k.json")]) == 0
    assert main([*command, "--out", str(tmp_path / "k.json")]) == 1
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [["book"], ["trades"], ["order", "place", "--key", "k.json", "--side", "buy", "--amount", "1"]],
)
def test_an_empty_market_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    for market in ("", " "):
        assert "--market" in usage_error(capsys, *command, "--market", market, "--url", NOWHERE)


@pytest.mark.parametrize(
    "command",
    [["status"], ["htlc", "show", "--id", "00" * 32], ["ibc", "packets"], ["proof", "counters"]],
)
def test_every_command_writes_errors_as_error_message_code(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    capsys.readouterr()
    assert main([*command, "--url", NOWHERE]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: cannot reach {NOWHERE}") and error.endswith(" [unreachable]\n")
