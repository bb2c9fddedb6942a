"""The everyday commands (`bftx status`, `order`, `book`, `trades`, `balance`, `tx`, `account`)
against a live one-validator cluster, through `bftx.cli.main` as a user would type them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bftx.cli import main
from tests.api.support import LiveCluster


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

    def json(self, *arguments: str, node: tuple[str, ...] | None = None) -> Any:
        where = node if node is not None else ("--url", self.cluster.api_url())
        code, out = self.run(*arguments, *where, "--json")
        assert code == 0, out
        return json.loads(out)

    def key(self, name: str) -> str:
        return str(self.cluster.testnet.directory / "accounts" / f"{name}.json")


@pytest.fixture
def cli(cluster: LiveCluster, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(cluster, capsys)


def test_status_by_url_and_by_testnet_directory(cli: Cli) -> None:
    by_url = cli.json("status")
    assert by_url["chain_id"] == "bftx-testnet" and by_url["validators"] == ["node0"]
    by_testnet = cli.json("status", node=("--testnet", str(cli.cluster.testnet.directory)))
    assert by_testnet["node"] == "node0" and by_testnet["height"] >= by_url["height"]


def test_place_list_cancel_and_trade(cli: Cli) -> None:
    maker, taker = cli.key("trader000"), cli.key("trader001")
    resting = cli.json(
        "order", "place", "--key", maker, "--side", "sell", "--amount", "0.002", "--price", "45000"
    )
    assert resting["status"] == "open" and resting["info"]["code"] == "ok"
    assert resting["info"]["height"] >= 1 and resting["info"]["latency_s"] > 0

    (listed,) = cli.json("order", "list", "--key", maker)
    assert listed["id"] == resting["id"] and listed["side"] == "sell"

    filled = cli.json(
        "order", "place", "--key", taker, "--side", "buy", "--amount", "0.001", "--price", "45000"
    )
    assert (filled["status"], filled["filled"], filled["remaining"]) == ("closed", "0.001", "0")

    book = cli.json("book", "--market", "BTC-USD", "--depth", "5")
    assert book["symbol"] == "BTC/USD" and ["45000", "0.00100000"] in book["asks"]
    (trade,) = cli.json("trades", "--limit", "5")
    assert (trade["price"], trade["side"]) == ("45000", "buy")

    cancelled = cli.json("order", "cancel", "--key", maker, "--id", resting["id"])
    assert cancelled["status"] == "canceled" and cancelled["info"]["code"] == "ok"
    assert cli.json("order", "list", "--key", maker) == []

    status = cli.json("tx", "0x" + filled["info"]["tx_hash"])
    assert status["status"] == "committed" and status["code"] == "ok"
    assert status["height"] == filled["info"]["height"]


def test_order_place_without_waiting(cli: Cli) -> None:
    pending = cli.json(
        "order",
        "place",
        "--key",
        cli.key("trader002"),
        "--side",
        "buy",
        "--amount",
        "0.0001",
        "--price",
        "100",
        "--no-wait",
    )
    assert pending["status"] == "pending"


def test_order_place_without_waiting_prints_the_pending_order_for_people(cli: Cli) -> None:
    """Admitted but not final: the table says pending with the order id and tx hash, exit 0."""
    code, out = cli.run(
        "order", "place", "--key", cli.key("trader004"), "--side", "buy", "--amount", "0.0001",
        "--price", "100", "--no-wait", "--url", cli.cluster.api_url(),
    )  # fmt: skip
    assert code == 0, out
    fields = dict(
        line.split(None, 1) for line in out.splitlines() if line.startswith(("id", "status", "tx "))
    )
    address = cli.cluster.accounts["trader004"].address.hex()
    assert fields["status"].strip() == "pending"
    assert fields["id"].strip().startswith(f"{address}:")
    tx_hash = fields["tx"].strip()
    assert len(tx_hash) == 64 and f"tx {tx_hash}" in out
    committed = cli.cluster.wait_committed(tx_hash)
    assert committed["code"] == "ok"


def test_balance_by_key_and_by_address(cli: Cli) -> None:
    by_key = cli.json("balance", "--key", cli.key("alice"))
    assert Decimal(by_key["total"]["BTC"]) == 100 and Decimal(by_key["total"]["USD"]) == 10**7
    address = cli.cluster.accounts["alice"].address.hex()
    by_address = cli.json("balance", "--address", "0x" + address)
    assert by_address["address"] == address and by_address["registered"] is True


def test_account_create_then_register(cli: Cli, tmp_path: Path) -> None:
    key_file = tmp_path / "carol.json"
    code, out = cli.run("account", "create", "--out", str(key_file))
    assert code == 0 and key_file.exists()
    created = json.loads(out)
    assert created["path"] == str(key_file) and len(created["address"]) == 40

    before = cli.json("balance", "--address", created["address"])
    assert before["registered"] is False
    registered = cli.json(
        "account", "register", "--registrar", cli.key("registrar"), "--address", created["address"]
    )
    assert registered["address"] == created["address"]
    assert registered["receipt"]["code"] == "ok" and registered["receipt"]["height"] >= 1
    assert cli.json("balance", "--key", str(key_file))["info"]["registered"] is True


def test_tables_are_printed_without_json(cli: Cli) -> None:
    url = cli.cluster.api_url()
    for arguments, expected in [
        (("book",), "BTC/USD at height"),
        (("trades",), "trades, newest first"),
        (("balance", "--key", cli.key("bob")), "balances"),
        (("order", "list", "--key", cli.key("bob")), "open orders"),
        (("status",), "chain_id"),
    ]:
        code, out = cli.run(*arguments, "--url", url)
        assert code == 0 and expected in out, out


def test_errors_exit_1_with_the_code(cli: Cli) -> None:
    key = cli.key("trader003")
    off_tick = cli.run(
        "order", "place", "--key", key, "--side", "buy", "--amount", "1", "--price", "1.001",
        "--url", cli.cluster.api_url(), "--json",
    )  # fmt: skip
    assert off_tick[0] == 1 and json.loads(off_tick[1])["error"] == "invalid_order"

    poor = cli.run(
        "order", "place", "--key", key, "--side", "buy", "--amount", "1000", "--price", "45000",
        "--url", cli.cluster.api_url(), "--json",
    )  # fmt: skip
    assert poor[0] == 1 and json.loads(poor[1])["error"] == "insufficient_funds"

    unreachable = cli.run("status", "--url", "http://127.0.0.1:9", "--json")
    assert unreachable[0] == 1 and json.loads(unreachable[1])["error"] == "unreachable"

    unknown = cli.run("book", "--market", "ETH/USD", "--url", cli.cluster.api_url(), "--json")
    assert unknown[0] == 1 and json.loads(unknown[1])["error"] == "unknown_market"

    cli.capsys.readouterr()
    with pytest.raises(SystemExit) as exited:  # a malformed hash is a usage error
        main(["tx", "abc", "--url", cli.cluster.api_url()])
    assert exited.value.code == 2
    assert "tx_hash" in cli.capsys.readouterr().err  # errors for people go to standard error


def test_the_node_must_be_named(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BFTX_URL", raising=False)
    code, out = cli.run("status", "--json")
    assert code == 1 and json.loads(out)["error"] == "no_node"
    code, out = cli.run("status", "--testnet", str(tmp_path), "--json")
    assert code == 1 and json.loads(out)["error"] == "bad_testnet"


def test_register_refuses_a_malformed_address(cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "account", "register", "--registrar", cli.key("registrar"), "--address", "xyz",
            "--url", cli.cluster.api_url(),
        ]
    )  # fmt: skip
    assert code == 2 and "20 bytes" in capsys.readouterr().err


def test_malformed_order_ids_are_plain_errors(cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    cancel = ("order", "cancel", "--key", cli.key("trader005"), "--url", cli.cluster.api_url())
    address = cli.cluster.accounts["trader005"].address.hex()
    for bad in ("²", "99999999999999999999999", "-1", "zz:1", f"{address}:²", f"{address}:x", ""):
        capsys.readouterr()
        try:
            code = main([*cancel, "--id", bad])
        except SystemExit as exited:  # argparse: a usage error
            code = exited.code
        error = capsys.readouterr().err
        assert code not in (0, None) and "error" in error, (bad, error)


@pytest.mark.parametrize(
    "tx_hash", ["../status", "00" * 32 + "/../../markets", "0x" + "zz" * 32, "00" * 31, "²" * 64]
)
def test_tx_takes_only_a_hash(cli: Cli, capsys: pytest.CaptureFixture[str], tx_hash: str) -> None:
    """Not a path: ``tx ../status`` must not print the node's status as a tx."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["tx", tx_hash, "--url", cli.cluster.api_url()])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "argument tx_hash" in captured.err


def test_tx_of_an_unknown_hash_with_0x_in_capitals(cli: Cli) -> None:
    assert cli.json("tx", "0x" + "AB" * 32)["status"] == "unknown"
