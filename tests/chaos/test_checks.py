"""The chaos checks on synthetic node views: each passes on agreeing nodes and fails when its
property is broken."""

from __future__ import annotations

import copy

from bftx.chaos.checks import (
    Balance,
    BestPrices,
    BlockSeen,
    NodeView,
    SdkReceipt,
    TxSeen,
    compute_account_trade_mismatches,
    compute_balance_mismatches,
    compute_conservation,
    compute_crossed_books,
    compute_divergent_heights,
    compute_duplicated,
    compute_lost,
    compute_missing_blocks,
    compute_sdk_receipt_mismatches,
    compute_status_sample,
    compute_tx_status_mismatches,
    compute_validators_not_signing,
    evaluate,
)

VALIDATORS = ["node0", "node1", "node2", "node3"]
SUPPLY = {"BTC": 300, "USD": 3_000}
ALL_SIGN = ("node0", "node1", "node2")


def _blocks() -> dict[int, BlockSeen]:
    return {
        1: BlockSeen(1, "d1", ("a", "b"), ALL_SIGN),
        2: BlockSeen(2, "d2", ("c",), ("node1", "node2", "node3")),
        3: BlockSeen(3, "d3", (), ("node0", "node2", "node3")),
    }


def _healthy(name: str) -> NodeView:
    return NodeView(
        name,
        3,
        blocks=_blocks(),
        txs={
            "a": TxSeen("committed", 1, "ok"),
            "b": TxSeen("committed", 1, "ok"),
            "c": TxSeen("committed", 2, "ok"),
        },
        balances={
            "alice": {"BTC": Balance(100, 50), "USD": Balance(1_000, 0)},
            "bob": {"BTC": Balance(150, 0), "USD": Balance(1_500, 500)},
        },
        books={"BTC/USD": BestPrices(44_999, 45_000)},
        account_trades={("alice", "BTC/USD"): (7, 5, 2), ("bob", "BTC/USD"): (7, 3)},
    )


def _cluster() -> list[NodeView]:
    return [_healthy(name) for name in VALIDATORS]


def test_agreeing_nodes_pass_every_check() -> None:
    fields, failures = evaluate(
        _cluster(),
        ["a", "b", "c"],
        SUPPLY,
        VALIDATORS,
        signing_window=3,
        sdk_receipts=[SdkReceipt("c", "node1", 2, "ok")],
    )
    assert failures == []
    assert fields["lost"] == 0
    assert fields["duplicated"] == 0
    assert fields["divergent_heights"] == []
    assert fields["conservation_ok"] is True
    assert fields["validators_not_signing"] == []


def test_acknowledged_tx_in_no_block_is_lost() -> None:
    views = _cluster()
    assert compute_lost(["a", "c"], views) == []
    assert compute_lost(["a", "z"], views) == ["z"]
    _fields, failures = evaluate(views, ["z"], SUPPLY, VALIDATORS, 3)
    assert any("never committed" in failure for failure in failures)


def test_tx_committed_only_on_one_node_is_not_lost() -> None:
    views = _cluster()
    for view in views[1:]:
        view.blocks[2] = BlockSeen(2, "d2", (), ("node1",))
    assert compute_lost(["c"], views) == []


def test_tx_in_a_later_block_on_one_node_is_duplicated() -> None:
    views = _cluster()
    assert compute_duplicated(views) == {}
    views[3].blocks[3] = BlockSeen(3, "d3", ("a",), ALL_SIGN)
    assert compute_duplicated(views) == {"a": [1, 3]}


def test_tx_whose_status_names_another_height_is_duplicated() -> None:
    views = _cluster()
    views[2].txs["b"] = TxSeen("committed", 3, "nonce_used")
    assert compute_duplicated(views) == {"b": [1, 3]}


def test_tx_twice_in_one_block_is_duplicated() -> None:
    views = _cluster()
    views[0].blocks[2] = BlockSeen(2, "d2", ("c", "c"), ALL_SIGN)
    assert compute_duplicated(views) == {"c": [2, 2]}


def test_different_digests_at_one_height_diverge() -> None:
    views = _cluster()
    assert compute_divergent_heights(views) == []
    views[1].blocks[2] = BlockSeen(2, "other", ("c",), ALL_SIGN)
    assert compute_divergent_heights(views) == [2]


def test_a_missing_block_is_not_divergence_but_is_missing() -> None:
    views = _cluster()
    del views[3].blocks[2]
    assert compute_divergent_heights(views) == []
    assert compute_missing_blocks(views[3]) == [2]
    assert compute_missing_blocks(views[0]) == []
    _fields, failures = evaluate(views, [], SUPPLY, VALIDATORS, 3)
    assert any("missing blocks" in failure for failure in failures)


def test_status_that_differs_between_nodes_is_a_mismatch() -> None:
    views = _cluster()
    assert compute_tx_status_mismatches(views) == {}
    views[3].txs["a"] = TxSeen("committed", 5, "nonce_used")
    assert set(compute_tx_status_mismatches(views)) == {"a"}
    views = _cluster()
    views[3].txs["a"] = TxSeen("unknown")
    assert set(compute_tx_status_mismatches(views)) == {"a"}


def test_balances_that_differ_between_nodes_mismatch() -> None:
    views = _cluster()
    assert compute_balance_mismatches(views) == []
    views[2].balances["bob"] = {"BTC": Balance(149, 1), "USD": Balance(1_500, 500)}
    assert compute_balance_mismatches(views) == ["bob"]


def test_account_trades_that_differ_between_nodes_mismatch() -> None:
    views = _cluster()
    assert compute_account_trade_mismatches(views) == []
    fields, failures = evaluate(views, [], SUPPLY, VALIDATORS, 3)
    assert fields["account_trade_mismatches"] == 0 and failures == []
    assert fields["account_trades_read"] == 5
    views[1].account_trades[("alice", "BTC/USD")] = (7, 2)  # one node's index lost trade 5
    assert compute_account_trade_mismatches(views) == ["alice BTC/USD"]
    fields, failures = evaluate(views, [], SUPPLY, VALIDATORS, 3)
    assert fields["account_trade_mismatches"] == 1
    assert failures == ["1 accounts whose trades in a market differ between nodes"]


def test_a_zero_balance_listed_or_not_is_the_same_balance() -> None:
    views = _cluster()
    views[1].balances["alice"]["ETH"] = Balance(0, 0)
    assert compute_balance_mismatches(views) == []


def test_an_asset_that_grew_is_not_conserved() -> None:
    views = _cluster()
    assert compute_conservation(views, SUPPLY) == {}
    views[0].balances["alice"]["USD"] = Balance(1_001, 0)
    assert compute_conservation(views, SUPPLY) == {"node0": {"USD": 1}}
    fields, _failures = evaluate(views, [], SUPPLY, VALIDATORS, 3)
    assert fields["conservation_ok"] is False


def test_an_asset_that_vanished_is_not_conserved() -> None:
    views = _cluster()
    del views[2].balances["bob"]["BTC"]
    assert compute_conservation(views, SUPPLY) == {"node2": {"BTC": -150}}


def test_best_bid_at_or_above_best_ask_is_crossed() -> None:
    views = _cluster()
    views[1].books["BTC/USD"] = BestPrices(None, 45_000)
    assert compute_crossed_books(views) == []
    views[2].books["BTC/USD"] = BestPrices(45_000, 45_000)
    views[3].books["BTC/USD"] = BestPrices(45_001, 45_000)
    assert compute_crossed_books(views) == ["node2 BTC/USD", "node3 BTC/USD"]


def test_validator_absent_from_the_last_certificates_is_not_signing() -> None:
    views = _cluster()
    assert compute_validators_not_signing(views, VALIDATORS, window=3) == []
    # node1 signed block 2 only: within a window of 2 (blocks 2 and 3) it signs, not in 1
    for view in views:
        view.blocks[3] = BlockSeen(3, "d3", (), ("node0", "node2", "node3"))
    assert compute_validators_not_signing(views, VALIDATORS, window=2) == []
    assert compute_validators_not_signing(views, VALIDATORS, window=1) == ["node1"]


def test_a_validators_own_certificate_counts_as_signing() -> None:
    views = _cluster()
    for view in views:
        view.blocks[3] = BlockSeen(3, "d3", (), ALL_SIGN)
    assert compute_validators_not_signing(views, VALIDATORS, window=1) == ["node3"]
    views[3].blocks[3] = BlockSeen(3, "d3", (), ("node1", "node2", "node3"))
    assert compute_validators_not_signing(views, VALIDATORS, window=1) == []


def test_sdk_receipt_that_disagrees_with_the_chain_is_reported() -> None:
    views = _cluster()
    good = SdkReceipt("c", "node1", 2, "ok")
    assert compute_sdk_receipt_mismatches([good], views) == []
    told_failed = SdkReceipt("c", "node3", 7, "nonce_used")
    assert compute_sdk_receipt_mismatches([told_failed], views) == ["c"]
    views[3].txs["c"] = TxSeen("committed", 7, "nonce_used")
    assert compute_sdk_receipt_mismatches([good], views) == ["c"]


def test_an_sdk_receipt_whose_status_was_not_sampled_is_checked_by_its_block() -> None:
    views = _cluster()
    for view in views:
        view.txs.pop("c", None)  # no node was asked for this tx's status
    assert compute_sdk_receipt_mismatches([SdkReceipt("c", "node1", 2, "ok")], views) == []
    assert compute_sdk_receipt_mismatches([SdkReceipt("c", "node1", 5, "ok")], views) == ["c"]
    assert compute_sdk_receipt_mismatches([SdkReceipt("zz", "node1", 2, "ok")], views) == ["zz"]


def test_an_unreadable_node_fails_the_run() -> None:
    views = _cluster()
    views[2] = NodeView("node2", 0, unreachable="no answer to /v1/status")
    _fields, failures = evaluate(views, [], SUPPLY, VALIDATORS, 3)
    assert any("could not be read" in failure for failure in failures)


def test_status_sample_takes_every_suspect_and_is_bounded() -> None:
    views = _cluster()
    others = tuple(f"x{index}" for index in range(100))
    for view in views:
        view.blocks[3] = BlockSeen(3, "d3", others, ALL_SIGN)
    views[3].blocks[3] = BlockSeen(3, "d3", (*others, "a"), ALL_SIGN)  # a twice
    del views[1].blocks[2]  # c in a block node1 lacks
    acknowledged = ["a", "b", "c", "z", *others]  # z in no block
    chosen = compute_status_sample(views, acknowledged, ["b"], sample=5, seed=1)
    assert {"a", "b", "c", "z"} <= set(chosen)
    assert len(chosen) <= 4 + 5
    assert chosen == compute_status_sample(views, acknowledged, ["b"], sample=5, seed=1)


def test_evaluate_does_not_change_the_views() -> None:
    views = _cluster()
    before = copy.deepcopy(views)
    evaluate(views, ["a"], SUPPLY, VALIDATORS, 3)
    assert views == before


def test_rejected_on_one_node_and_unknown_on_the_others_is_not_a_mismatch() -> None:
    """A node that refused a resent tx remembers its refusal; the others never saw it."""
    views = _cluster()
    views[0].txs["z"] = TxSeen("rejected", code="unknown_order")
    views[1].txs["z"] = TxSeen("rejected", code="nonce_used")
    for view in views[2:]:
        view.txs["z"] = TxSeen("unknown")
    assert compute_tx_status_mismatches(views) == {}
    # ... but the checker still fails when a node holds it or committed it where others did not.
    views[3].txs["z"] = TxSeen("pending")
    assert set(compute_tx_status_mismatches(views)) == {"z"}
    views[3].txs["z"] = TxSeen("committed", 4, "unknown_order")
    assert set(compute_tx_status_mismatches(views)) == {"z"}
    views = _cluster()
    views[2].txs["a"] = TxSeen("rejected", code="unknown_order")  # committed on the others
    assert set(compute_tx_status_mismatches(views)) == {"a"}
    _fields, failures = evaluate(views, [], SUPPLY, VALIDATORS, 3)
    assert any("status differs" in failure for failure in failures)
