"""What the everyday commands print for people, piped (as tests and scripts see it):
whole ids and hashes, readable numbers, and a short order id that `order cancel` accepts."""

from __future__ import annotations

import re
from collections.abc import Iterator

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


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> str:
    capsys.readouterr()
    code = main(list(arguments))
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    return captured.out


def test_status_shows_whole_hashes_and_halted_no(
    cluster: LiveCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, "status", "--url", cluster.api_url())
    assert re.search(r"^state_root +[0-9a-f]{64}$", out, flags=re.MULTILINE), out
    assert re.search(r"^halted +no$", out, flags=re.MULTILINE) and "None" not in out


def test_order_place_prints_readable_fields_not_raw_json(
    cluster: LiveCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    key = str(cluster.testnet.directory / "accounts" / "trader000.json")
    out = run(
        capsys,
        *("order", "place", "--url", cluster.api_url(), "--key", key),
        *("--side", "buy", "--amount", "0.5", "--price", "12345.67"),
    )
    assert re.search(r"^id +[0-9a-f]{40}:\d+$", out, flags=re.MULTILINE), out
    assert re.search(r"^price +12,345\.67$", out, flags=re.MULTILINE), out
    assert re.search(r"^final after +[\d,]+ ms$", out, flags=re.MULTILINE), out
    assert re.search(r"^events +order_placed: ", out, flags=re.MULTILINE), out
    assert "{" not in out and "latency_s" not in out


def test_order_list_shows_the_nonce_that_order_cancel_accepts(
    cluster: LiveCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    key = str(cluster.testnet.directory / "accounts" / "trader001.json")
    address = cluster.accounts["trader001"].address.hex()
    where = ("--url", cluster.api_url(), "--key", key)
    run(capsys, "order", "place", *where, "--side", "sell", "--amount", "1", "--price", "99999")
    listing = run(capsys, "order", "list", *where)
    row = next(line for line in listing.splitlines() if "99,999" in line)
    nonce = row.split("│")[1].strip()
    assert nonce.isdigit(), listing
    assert f"the whole id is {address}:NONCE" in listing
    canceled = run(capsys, "order", "cancel", *where, "--id", nonce)
    assert re.search(rf"^id +{address}:{nonce}$", canceled, flags=re.MULTILINE), canceled
    assert re.search(r"^status +canceled$", canceled, flags=re.MULTILINE), canceled
    assert "99,999" not in run(capsys, "order", "list", *where)


def test_an_order_out_of_range_is_refused_before_signing(
    cluster: LiveCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    key = str(cluster.testnet.directory / "accounts" / "trader002.json")
    capsys.readouterr()
    code = main(
        [
            *("order", "place", "--url", cluster.api_url(), "--key", key),
            *("--side", "buy", "--amount", "1e12", "--price", "45000"),
        ]
    )
    error = capsys.readouterr().err
    assert code == 1 and "out of range for BTC/USD" in error and "[invalid_order]" in error
    assert "malformed" not in error


def test_tx_and_balance_by_address_are_shown_in_units_people_read(
    cluster: LiveCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    key = str(cluster.testnet.directory / "accounts" / "trader003.json")
    placed = run(
        capsys,
        *("order", "place", "--url", cluster.api_url(), "--key", key, "--json"),
        *("--side", "buy", "--amount", "0.25", "--price", "1000"),
    )
    tx_hash = re.search(r'"tx_hash": "([0-9a-f]{64})"', placed)
    assert tx_hash is not None, placed
    shown = run(capsys, "tx", tx_hash[1], "--url", cluster.api_url())
    assert re.search(r"^events +order_placed: buy 0\.25 BTC at 1,000 USD \(limit, nonce \d+\)$",
                     shown, flags=re.MULTILINE), shown  # fmt: skip
    address = cluster.accounts["trader003"].address.hex()
    balance = run(capsys, "balance", "--address", address, "--url", cluster.api_url())
    assert re.search(rf"^address +{address}$", balance, flags=re.MULTILINE), balance
    assert re.search(r"│ +USD │ +[\d,]+\.\d{6} │ +250\.000000 │", balance), balance
