"""`bftx htlc`, `bftx deal`, `bftx proof` and `bftx verify` against a live one-validator
cluster, through `bftx.cli.main` as a user would type them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bftx.cli import main
from tests.api.support import LiveCluster, wait_for


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCluster]:
    live = LiveCluster(tmp_path_factory.mktemp("cluster") / "testnet")
    try:
        live.start()
        yield live
    finally:
        live.close()


class Cli:
    def __init__(self, cluster: LiveCluster, capsys: pytest.CaptureFixture[str]) -> None:
        self.cluster = cluster
        self.capsys = capsys

    def run(self, *arguments: str) -> tuple[int, str]:
        self.capsys.readouterr()
        code = main(list(arguments))
        return code, self.capsys.readouterr().out

    def json(self, *arguments: str, expect: int = 0) -> Any:
        code, out = self.run(*arguments, "--url", self.cluster.api_url(), "--json")
        assert code == expect, out
        return json.loads(out)

    def key(self, name: str) -> str:
        return str(self.cluster.testnet.directory / "accounts" / f"{name}.json")

    def genesis(self) -> str:
        return str(self.cluster.testnet.nodes[0].genesis_file)


@pytest.fixture
def cli(cluster: LiveCluster, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(cluster, capsys)


def test_htlc_lock_with_a_new_secret_then_claim_and_show(cli: Cli) -> None:
    alice, bob = cli.cluster.fresh_traders(2)
    locked = cli.json(
        "htlc", "lock", "--key", cli.key("trader000"), "--asset", "BTC", "--amount", "0.5",
        "--receiver", bob.address.hex(),
    )  # fmt: skip
    assert locked["status"] == "committed" and len(locked["secret"]) == 64
    wrong = cli.json(
        "htlc", "claim", "--key", cli.key("trader001"), "--id", locked["id"], "--preimage", "00" * 32,
        expect=1,
    )  # fmt: skip
    assert wrong["error"] == "wrong_preimage"
    claimed = cli.json(
        "htlc", "claim", "--key", cli.key("trader001"), "--id", locked["id"],
        "--preimage", locked["secret"],
    )  # fmt: skip
    assert claimed["events"] == ["htlc_claimed"]
    shown = cli.json("htlc", "show", "--id", locked["id"])
    assert (shown["status"], shown["preimage"]) == ("claimed", locked["secret"])
    assert alice.address.hex() == shown["sender"]


def test_deal_propose_fund_cancel(cli: Cli) -> None:
    _a, b = cli.cluster.fresh_traders(2)
    proposed = cli.json(
        "deal", "propose", "--key", cli.key("trader002"), "--counterparty", b.address.hex(),
        "--deliver-asset", "BTC", "--deliver-amount", "0.1", "--pay-asset", "USD",
        "--pay-amount", "5000",
    )  # fmt: skip
    assert proposed["events"] == ["deal_proposed"]
    cli.json("deal", "fund", "--key", cli.key("trader002"), "--id", proposed["id"])
    refused = cli.json(
        "deal", "cancel", "--key", cli.key("trader003"), "--id", proposed["id"], expect=1
    )
    assert refused["error"] == "other_leg_funded"
    cancelled = cli.json("deal", "cancel", "--key", cli.key("trader002"), "--id", proposed["id"])
    assert cancelled["events"] == ["deal_refunded", "deal_closed"]
    assert cli.json("deal", "show", "--id", proposed["id"])["status"] == "cancelled"


def test_proof_written_by_bftx_proof_verifies_offline_and_fails_when_changed(
    cli: Cli, tmp_path: Path
) -> None:
    (alice,) = cli.cluster.fresh_traders(1)
    out = tmp_path / "proof.json"

    def fetched() -> bool | None:
        code, _ = cli.run(
            "proof", f"account:{alice.address.hex()}", "--out", str(out),
            "--url", cli.cluster.api_url(), "--json",
        )  # fmt: skip
        return True if code == 0 else None

    wait_for(fetched, 10.0, "a certified proof")
    code, text = cli.run("verify", "--genesis", cli.genesis(), "--proof", str(out), "--json")
    assert code == 0, text
    verified = json.loads(text)
    assert verified["valid"] is True and verified["present"] is True
    assert verified["value"][0] == 0  # the account's nonce: it never sent a tx
    bundle = json.loads(out.read_text())
    header = bytearray(bytes.fromhex(bundle["header"]))
    header[-3] ^= 0xFF
    out.write_text(json.dumps({**bundle, "header": header.hex()}))
    code, text = cli.run("verify", "--genesis", cli.genesis(), "--proof", str(out), "--json")
    assert code == 1 and json.loads(text)["error"] == "proof_invalid"


def test_verify_refuses_a_missing_or_broken_file(cli: Cli, tmp_path: Path) -> None:
    code, text = cli.run(
        "verify", "--genesis", cli.genesis(), "--proof", str(tmp_path / "none"), "--json"
    )
    assert code == 1 and json.loads(text)["error"] == "unreadable"
    (tmp_path / "bad.json").write_text("{")
    code, text = cli.run(
        "verify", "--genesis", cli.genesis(), "--proof", str(tmp_path / "bad.json"), "--json"
    )
    assert code == 1 and json.loads(text)["error"] == "bad_proof_file"


def test_verify_prints_the_key_its_proof_proves_never_a_forged_one(
    cli: Cli, tmp_path: Path
) -> None:
    owner, other = cli.cluster.fresh_traders(2)
    out = tmp_path / "proof.json"

    def fetched() -> bool | None:
        code, _ = cli.run(
            "proof", f"account:{owner.address.hex()}", "--out", str(out),
            "--url", cli.cluster.api_url(), "--json",
        )  # fmt: skip
        return True if code == 0 else None

    wait_for(fetched, 10.0, "a certified proof")
    bundle = json.loads(out.read_text())
    proven_hex = "61" + owner.address.hex()  # b"a" + address: the account's state key

    def verify(document: dict[str, Any]) -> tuple[int, str]:
        out.write_text(json.dumps(document))
        return cli.run("verify", "--genesis", cli.genesis(), "--proof", str(out), "--json")

    code, text = verify(bundle)
    assert code == 0, text
    verified = json.loads(text)
    assert (verified["key"], verified["key_hex"]) == (f"account:{owner.address.hex()}", proven_hex)

    bare = {name: bundle[name] for name in ("proof", "header", "certificate")}
    code, text = verify(bare)
    assert code == 0, text
    assert (json.loads(text)["key"], json.loads(text)["key_hex"]) == (
        f"raw:{proven_hex}",
        proven_hex,
    )

    forged = {**bundle, "key": f"account:{other.address.hex()}"}
    code, text = verify(forged)
    assert code == 1 and json.loads(text)["error"] == "proof_invalid"
    assert "valid" not in json.loads(text)  # refused, not printed as a verified key


def test_proof_out_that_cannot_be_written_is_a_plain_error(cli: Cli, tmp_path: Path) -> None:
    wait_for(
        lambda: cli.run("proof", "counters", "--url", cli.cluster.api_url())[0] == 0,
        10.0,
        "a certified proof",
    )
    (tmp_path / "file").write_text("")
    for out in (tmp_path / "missing" / "p.json", tmp_path / "file" / "p.json", tmp_path):
        code, text = cli.run(
            "proof", "counters", "--out", str(out), "--url", cli.cluster.api_url(), "--json"
        )
        assert code == 1, text
        refused = json.loads(text)
        assert refused["error"] == "unwritable" and refused["message"].startswith(f"{out}: ")
    assert not (tmp_path / "missing").exists()


def refused(capsys: pytest.CaptureFixture[str], *arguments: str) -> str:
    """``bftx ARGUMENTS`` fails plainly: a non-zero exit and an error line, whichever layer
    refuses (argparse's usage error, the CLI's or the SDK's ``error: ...``); its stderr."""
    capsys.readouterr()
    try:
        code = main(list(arguments))
    except SystemExit as exited:  # argparse: a usage error
        code = exited.code
    captured = capsys.readouterr()
    assert code not in (0, None), captured
    assert any(
        line.startswith("error") or ": error: " in line for line in captured.err.splitlines()
    )
    return captured.err


def test_numbers_and_hex_out_of_range_are_plain_errors(
    cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    (receiver,) = cli.cluster.fresh_traders(1)
    node = ("--url", cli.cluster.api_url())
    lock = ("htlc", "lock", "--key", cli.key("trader039"), "--asset", "BTC", *node,
            "--receiver", receiver.address.hex())  # fmt: skip
    for bad in (
        ("--amount", "1e30"),
        ("--amount", "0.1", "--expiry-ms", "99999999999999999999999"),
        ("--amount", "0.1", "--expiry-ms", "-5"),
        ("--amount", "0.1", "--expires-in", "1e30"),
        ("--amount", "0.1", "--expires-in", "nan"),
        ("--amount", "0.1", "--expires-in", "-1"),
        ("--amount", "0.1", "--hashlock", "zz"),
    ):
        refused(capsys, *lock, *bad)
    claim = ("htlc", "claim", "--key", cli.key("trader039"), *node)
    refused(capsys, *claim, "--id", "00" * 32, "--preimage", "zz")
    refused(capsys, *claim, "--id", "²" * 64, "--preimage", "00" * 32)
    refused(capsys, "htlc", "show", "--id", "../status", *node)
    propose = ("deal", "propose", "--key", cli.key("trader039"), *node, "--counterparty",
               receiver.address.hex(), "--deliver-asset", "BTC", "--pay-asset", "USD")  # fmt: skip
    refused(capsys, *propose, "--deliver-amount", "1e30", "--pay-amount", "1")
    refused(capsys, *propose, "--deliver-amount", "1", "--pay-amount", "1", "--deadline-in", "inf")
    refused(capsys, *propose, "--deliver-amount", "1", "--pay-amount", "1",
            "--deadline-ms", "99999999999999999999999")  # fmt: skip
    transfer = ("ibc", "transfer", "--key", cli.key("trader039"), *node, "--asset", "BTC",
                "--receiver", receiver.address.hex(), "--client-id", "client-0",
                "--counterparty-client-id", "client-0")  # fmt: skip
    refused(capsys, *transfer, "--amount", "1e30")
    refused(capsys, *transfer, "--amount", "1", "--timeout-in", "nan")
    refused(capsys, *transfer, "--amount", "1", "--timeout-ms", "99999999999999999999999")
    create = ("ibc", "client", "create", "--key", cli.key("trader039"), *node,
              "--genesis", cli.genesis())  # fmt: skip
    refused(capsys, *create, "--trusting-period-s", "1e30")
    # nothing was submitted: the account's nonce is where it started
    assert cli.cluster.nonce(cli.cluster.accounts["trader039"]) == 0
