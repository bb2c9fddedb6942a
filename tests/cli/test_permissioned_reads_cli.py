"""Read commands on a network with permissioned reads: each signs its requests with
``--identity FILE`` (default ``$BFTX_KEY``), as the 401 answer tells the user to do.

A live one-validator cluster whose genesis says ``"reads": "permissioned"``,
driven through `bftx.cli.main` as a user would type the commands.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bftx.cli import main
from bftx.client import Client
from tests.api.support import LiveCluster, wait_for


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCluster]:
    live = LiveCluster(tmp_path_factory.mktemp("permissioned") / "testnet", permissioned_reads=True)
    try:
        live.start()
        yield live
    finally:
        live.close()


class Cli:
    def __init__(self, cluster: LiveCluster, capsys: pytest.CaptureFixture[str]) -> None:
        self.cluster = cluster
        self.capsys = capsys

    def run(self, *arguments: str) -> tuple[int, Any]:
        """Exit code and the JSON answer of ``bftx ARGUMENTS --url NODE --json``."""
        self.capsys.readouterr()
        code = main([*arguments, "--url", self.cluster.api_url(), "--json"])
        return code, json.loads(self.capsys.readouterr().out)

    def key(self, name: str) -> str:
        return str(self.cluster.testnet.directory / "accounts" / f"{name}.json")


@pytest.fixture
def cli(
    cluster: LiveCluster, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    monkeypatch.delenv("BFTX_KEY", raising=False)
    return Cli(cluster, capsys)


def _signed_and_unsigned(cli: Cli, identity: str, *command: str) -> Any:
    """``command`` is refused unsigned (401) and answers with ``--identity``; its answer."""
    code, refused = cli.run(*command)
    assert code == 1 and refused["error"] == "unauthenticated", refused
    assert "--identity" in refused["message"]
    code, answer = cli.run(*command, "--identity", identity)
    assert code == 0, answer
    return answer


def test_htlc_and_deal_show_sign_with_the_identity(cli: Cli) -> None:
    sender, receiver = cli.cluster.fresh_traders(2)
    code, locked = cli.run(
        "htlc", "lock", "--key", cli.key("trader000"), "--asset", "BTC", "--amount", "0.1",
        "--receiver", receiver.address.hex(),
    )  # fmt: skip
    assert code == 0, locked
    shown = _signed_and_unsigned(cli, cli.key("trader000"), "htlc", "show", "--id", locked["id"])
    assert shown["sender"] == sender.address.hex()

    code, proposed = cli.run(
        "deal", "propose", "--key", cli.key("trader000"), "--counterparty",
        receiver.address.hex(), "--deliver-asset", "BTC", "--deliver-amount", "0.1",
        "--pay-asset", "USD", "--pay-amount", "10",
    )  # fmt: skip
    assert code == 0, proposed
    deal = _signed_and_unsigned(cli, cli.key("trader001"), "deal", "show", "--id", proposed["id"])
    assert deal["party_b"] == receiver.address.hex()


def test_proof_signs_with_the_identity(cli: Cli) -> None:
    (owner,) = cli.cluster.fresh_traders(1)
    command = ("proof", f"account:{owner.address.hex()}")
    code, refused = cli.run(*command)
    assert code == 1 and refused["error"] == "unauthenticated", refused

    def proven() -> Any:
        code, answer = cli.run(*command, "--identity", cli.key("auditor"))
        return answer if code == 0 else None

    bundle = wait_for(proven, 10.0, "a certified proof")
    assert bundle["present"] is True and bundle["key"] == f"account:{owner.address.hex()}"


def test_ibc_reads_sign_with_the_identity_and_bftx_key(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity = cli.key("auditor")
    assert _signed_and_unsigned(cli, identity, "ibc", "packets") == []
    assert _signed_and_unsigned(cli, identity, "ibc", "client", "show") == []
    monkeypatch.setenv("BFTX_KEY", identity)  # the default of --identity
    assert cli.run("ibc", "client", "show") == (0, [])


def test_ibc_client_update_signs_its_reads_of_the_tracked_chain(cli: Cli) -> None:
    """The tracked chain here is the same permissioned network: its light block must be read
    signed (``--from-identity``, else ``--identity``) before anything is submitted."""
    url = cli.cluster.api_url()
    with Client(url, key=cli.key("auditor")) as reader:  # a light block to read: height >= 1
        wait_for(lambda: reader.fetch_status()["height"] >= 1, 10.0, "the first block")
    update = ("ibc", "client", "update", "--key", cli.key("trader002"), "--client-id", "client-9")
    code, refused = cli.run(*update, "--from-url", url)
    assert code == 1 and refused["error"] == "unauthenticated", refused
    for signer in (("--from-identity", cli.key("auditor")), ("--identity", cli.key("auditor"))):
        code, answer = cli.run(*update, "--from-url", url, *signer)
        # the light block was read; the update itself is refused: there is no client-9
        assert (code, answer["error"]) == (1, "unknown_client"), answer
