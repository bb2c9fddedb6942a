"""The end-of-run checks of ``bftx chaos``: pure functions over what every node answered.

Each check takes `NodeView`s (one per node, read through the public API after
the load stopped and the nodes settled) and returns what is wrong, so each can
be tested on synthetic data. The exact definitions are in ``docs/chaos.md``.

Must never: read anything but the `NodeView`s and the run's own records (no
I/O here), or call a run good when a view is missing data it needs (a node
that did not answer is reported, not skipped).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

COMMITTED = "committed"


@dataclass(frozen=True, slots=True)
class BlockSeen:
    """``GET /v1/blocks/{height}``: the block's digest, its tx hashes, its certificate's signers."""

    height: int
    digest: str
    txs: tuple[str, ...]
    signers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TxSeen:
    """``GET /v1/txs/{hash}``: pending, committed, rejected or unknown; height and code once committed."""

    status: str
    height: int | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    available: int
    locked: int


@dataclass(frozen=True, slots=True)
class BestPrices:
    """The best bid and ask of one market, in ticks (None for an empty side)."""

    bid: int | None
    ask: int | None


@dataclass(slots=True)
class NodeView:
    """Everything read from one node at the end of a run."""

    name: str
    height: int
    blocks: dict[int, BlockSeen] = field(default_factory=dict)  # the heights it served
    txs: dict[str, TxSeen] = field(default_factory=dict)  # the hashes asked about
    balances: dict[str, dict[str, Balance]] = field(default_factory=dict)  # account -> asset
    books: dict[str, BestPrices] = field(default_factory=dict)  # market -> best prices
    # (account, market) -> the ids of the account's newest trades, newest first
    account_trades: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)
    unreachable: str | None = None  # why the node could not be read (it then fails the run)


# --- one check each ------------------------------------------------------------------------


def compute_missing_blocks(view: NodeView) -> list[int]:
    """Heights at or below the node's height that it does not serve."""
    return [height for height in range(1, view.height + 1) if height not in view.blocks]


def compute_tx_heights(views: Iterable[NodeView]) -> dict[str, set[int]]:
    """Every height at which any node shows a tx: in a block it served, or as its committed status."""
    heights: dict[str, set[int]] = {}
    for view in views:
        for block in view.blocks.values():
            for tx_hash in block.txs:
                heights.setdefault(tx_hash, set()).add(block.height)
        for tx_hash, seen in view.txs.items():
            if seen.status == COMMITTED and seen.height is not None:
                heights.setdefault(tx_hash, set()).add(seen.height)
    return heights


def compute_status_sample(
    views: Sequence[NodeView],
    acknowledged: Iterable[str],
    must: Iterable[str],
    sample: int,
    seed: int,
) -> list[str]:
    """The txs whose status every node is asked for (``GET /v1/txs`` is costly for a node).

    Up to ``sample`` of each group, drawn with ``seed``: txs at two heights;
    acknowledged txs in no block; txs in ``must`` (the SDK's receipts); txs in
    a block some node lacks; and any other acknowledged txs.
    """
    heights = compute_tx_heights(views)
    acknowledged = set(acknowledged)
    lacking = {
        tx_hash
        for view in views
        for height in compute_missing_blocks(view)
        for other in views
        if (block := other.blocks.get(height)) is not None
        for tx_hash in block.txs
    }
    groups = [
        {tx for tx, found in heights.items() if len(found) > 1},
        {tx for tx in acknowledged if tx not in heights},
        set(must),
        lacking,
        acknowledged,
    ]
    generator = random.Random(seed)
    chosen: set[str] = set()
    for group in groups:
        rest = sorted(group - chosen)
        chosen.update(generator.sample(rest, min(sample, len(rest))))
    return sorted(chosen)


def compute_duplicated(views: Sequence[NodeView]) -> dict[str, list[int]]:
    """Txs included more than once: at two heights (on any nodes), or twice in one block."""
    found = {
        tx_hash: sorted(heights)
        for tx_hash, heights in compute_tx_heights(views).items()
        if len(heights) > 1
    }
    for view in views:
        for block in view.blocks.values():
            if len(set(block.txs)) != len(block.txs):
                for tx_hash in {t for t in block.txs if block.txs.count(t) > 1}:
                    found.setdefault(tx_hash, [block.height, block.height])
    return found


def compute_lost(acknowledged: Iterable[str], views: Sequence[NodeView]) -> list[str]:
    """Acknowledged txs (some node answered ``accepted``) that no node shows committed."""
    committed = compute_tx_heights(views)
    return sorted(tx_hash for tx_hash in set(acknowledged) if tx_hash not in committed)


def compute_divergent_heights(views: Sequence[NodeView]) -> list[int]:
    """Heights at which two nodes serve blocks with different digests."""
    digests: dict[int, set[str]] = {}
    for view in views:
        for height, block in view.blocks.items():
            digests.setdefault(height, set()).add(block.digest)
    return sorted(height for height, found in digests.items() if len(found) > 1)


# Answers that say only that this node holds the tx neither in a block nor in its mempool.
# ``rejected`` is that and a memory of this node's own: it refused the tx when someone sent it
# there (its answer to a submission, kept per node), which other nodes never saw.
NOT_HELD = frozenset({"rejected", "unknown"})


def compute_tx_status_mismatches(views: Sequence[NodeView]) -> dict[str, dict[str, TxSeen]]:
    """Txs whose status, height or code differ between the nodes asked (with each node's answer).

    ``rejected`` on one node and ``unknown`` on another (or two rejection
    codes) agree: neither node holds the tx, and which node refused a
    submission is not replicated state. Every other difference is a mismatch:
    committed here and not there, at two heights, with two codes, pending on one.
    """
    hashes = sorted({tx_hash for view in views for tx_hash in view.txs})
    mismatches = {}
    for tx_hash in hashes:
        answers = {view.name: view.txs.get(tx_hash, TxSeen("not asked")) for view in views}
        if len({_settled(seen) for seen in answers.values()}) > 1:
            mismatches[tx_hash] = answers
    return mismatches


def _settled(seen: TxSeen) -> TxSeen:
    """What a node's answer says about the chain: rejected and unknown say the same."""
    return TxSeen("unknown") if seen.status in NOT_HELD else seen


def compute_balance_mismatches(views: Sequence[NodeView]) -> list[str]:
    """Accounts whose balances (available or locked, any asset) differ between nodes."""
    accounts = sorted({account for view in views for account in view.balances})
    return [
        account
        for account in accounts
        if len({_frozen(view.balances.get(account, {})) for view in views}) > 1
    ]


def compute_account_trade_mismatches(views: Sequence[NodeView]) -> list[str]:
    """Accounts whose trades in a market (``GET /v1/accounts/{a}/trades``) differ between nodes:
    an index that lost or doubled an entry on one node (it is rebuilt after a crash)."""
    keys = sorted({key for view in views for key in view.account_trades})
    return [
        f"{account} {market}"
        for account, market in keys
        if len({view.account_trades.get((account, market)) for view in views}) > 1
    ]


def compute_conservation(
    views: Sequence[NodeView], supply: Mapping[str, int]
) -> dict[str, dict[str, int]]:
    """Per node, each asset whose total (available + locked over the accounts read) is not
    its supply (genesis balances plus mints minus burns), with the difference."""
    broken: dict[str, dict[str, int]] = {}
    for view in views:
        totals = dict.fromkeys(supply, 0)
        for assets in view.balances.values():
            for asset, balance in assets.items():
                totals[asset] = totals.get(asset, 0) + balance.available + balance.locked
        differences = {
            asset: total - supply.get(asset, 0)
            for asset, total in sorted(totals.items())
            if total != supply.get(asset, 0)
        }
        if differences:
            broken[view.name] = differences
    return broken


def compute_crossed_books(views: Sequence[NodeView]) -> list[str]:
    """``node market`` for every book whose best bid is at or above its best ask."""
    return [
        f"{view.name} {market}"
        for view in views
        for market, best in sorted(view.books.items())
        if best.bid is not None and best.ask is not None and best.bid >= best.ask
    ]


def compute_validators_not_signing(
    views: Sequence[NodeView], validators: Sequence[str], window: int
) -> list[str]:
    """Validators absent from every commit certificate of the last ``window`` blocks.

    The blocks are heights ``max_height - window + 1 .. max_height``; a block's
    signers are the union over the nodes serving it (each node keeps the
    certificate it saw, and a validator always counts its own vote).
    """
    top = max((view.height for view in views), default=0)
    first = max(1, top - window + 1)
    signers: set[str] = set()
    for view in views:
        for height in range(first, top + 1):
            block = view.blocks.get(height)
            if block is not None:
                signers.update(block.signers)
    return [name for name in validators if name not in signers]


def _frozen(assets: Mapping[str, Balance]) -> tuple[tuple[str, int, int], ...]:
    return tuple(
        (asset, balance.available, balance.locked)
        for asset, balance in sorted(assets.items())
        if balance.available or balance.locked
    )


# --- all checks: the verdict -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SdkReceipt:
    """What the SDK told a client waiting on one node: final at ``height`` with ``code``."""

    tx_hash: str
    node: str
    height: int
    code: str


def compute_sdk_receipt_mismatches(
    receipts: Iterable[SdkReceipt], views: Sequence[NodeView]
) -> list[str]:
    """SDK receipts that disagree with what the network settled on.

    The height is checked for every receipt, against the blocks every node
    served: a receipt whose tx sits at another height, or in no block, told its
    client something untrue. The code is checked where the nodes were asked
    for the tx's status (a sample: `compute_status_sample`), against the one
    answer every node gives (when they differ, the tx is already a status
    mismatch).
    """
    heights = compute_tx_heights(views)
    wrong = []
    for receipt in receipts:
        if heights.get(receipt.tx_hash, set()) != {receipt.height}:
            wrong.append(receipt.tx_hash)
            continue
        answers = {view.txs.get(receipt.tx_hash) for view in views} - {None}
        settled = {(a.height, a.code) for a in answers if a is not None and a.status == COMMITTED}
        if answers and settled != {(receipt.height, receipt.code)}:
            wrong.append(receipt.tx_hash)
    return sorted(wrong)


def evaluate(
    views: Sequence[NodeView],
    acknowledged: Iterable[str],
    supply: Mapping[str, int],
    validators: Sequence[str],
    signing_window: int,
    sdk_receipts: Iterable[SdkReceipt] = (),
) -> tuple[dict[str, object], list[str]]:
    """Every check's result (the JSON fields) and the list of failed checks, each with a reason."""
    duplicated = compute_duplicated(views)
    lost = compute_lost(acknowledged, views)
    divergent = compute_divergent_heights(views)
    mismatches = compute_tx_status_mismatches(views)
    balances = compute_balance_mismatches(views)
    account_trades = compute_account_trade_mismatches(views)
    conservation = compute_conservation(views, supply)
    crossed = compute_crossed_books(views)
    not_signing = compute_validators_not_signing(views, validators, signing_window)
    missing = {view.name: compute_missing_blocks(view) for view in views}
    sdk_wrong = compute_sdk_receipt_mismatches(sdk_receipts, views)
    unreachable = {view.name: view.unreachable for view in views if view.unreachable}
    fields: dict[str, object] = {
        "lost": len(lost),
        "duplicated": len(duplicated),
        "divergent_heights": divergent,
        "tx_status_mismatches": len(mismatches),
        "balance_mismatches": len(balances),
        "account_trade_mismatches": len(account_trades),
        # what that check compared: trades listed by account, summed over the accounts, per node
        "account_trades_read": max(
            (sum(len(ids) for ids in view.account_trades.values()) for view in views), default=0
        ),
        "conservation_ok": not conservation,
        "crossed_books": len(crossed),
        "validators_not_signing": not_signing,
        "missing_blocks": {name: len(heights) for name, heights in missing.items()},
        "sdk_receipt_mismatches": len(sdk_wrong),
        "nodes_unreachable": unreachable,
        "examples": {
            "lost": {
                tx: {view.name: _describe(view.txs.get(tx, TxSeen("not asked"))) for view in views}
                for tx in sorted(lost, key=lambda tx: (not any(tx in v.txs for v in views), tx))[:5]
            },
            "duplicated": {tx: heights for tx, heights in list(duplicated.items())[:5]},
            "tx_status_mismatches": {
                tx: {node: _describe(seen) for node, seen in answers.items()}
                for tx, answers in list(mismatches.items())[:5]
            },
            "balance_mismatches": balances[:5],
            "account_trade_mismatches": account_trades[:5],
            "conservation": conservation,
            "crossed_books": crossed[:5],
            "missing_blocks": {name: heights[:5] for name, heights in missing.items() if heights},
            "sdk_receipt_mismatches": sdk_wrong[:5],
        },
    }
    failures = []
    if unreachable:
        failures.append(f"nodes could not be read: {', '.join(sorted(unreachable))}")
    if lost:
        failures.append(f"{len(lost)} acknowledged txs never committed")
    if duplicated:
        failures.append(f"{len(duplicated)} txs included more than once")
    if divergent:
        failures.append(f"{len(divergent)} heights with different blocks on different nodes")
    if mismatches:
        failures.append(f"{len(mismatches)} txs whose status differs between nodes")
    if balances:
        failures.append(f"{len(balances)} accounts whose balances differ between nodes")
    if account_trades:
        failures.append(
            f"{len(account_trades)} accounts whose trades in a market differ between nodes"
        )
    if conservation:
        failures.append(f"assets not conserved: {conservation}")
    if crossed:
        failures.append(f"crossed books: {', '.join(crossed)}")
    if not_signing:
        failures.append(
            f"validators absent from the last {signing_window} certificates: "
            + ", ".join(not_signing)
        )
    if any(missing.values()):
        failures.append(
            "nodes missing blocks below their height: "
            + ", ".join(f"{name} ({len(h)})" for name, h in missing.items() if h)
        )
    if sdk_wrong:
        failures.append(f"{len(sdk_wrong)} SDK receipts disagree with the settled chain")
    return fields, failures


def _describe(seen: TxSeen) -> str:
    if seen.status != COMMITTED:
        return seen.status
    return f"committed at {seen.height} ({seen.code})"
