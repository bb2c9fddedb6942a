"""The contracts module: hashed time-lock contracts (HTLCs) and escrowed deals.

Owns the contracts' state (`Contracts`: HTLCs and deals by id, open counts,
deal deadlines), the handlers of their six tx kinds, their result codes and
events, and the deal expiries at the start of a block.
Must never: change a balance itself (every movement goes through
`bftx.exchange.ledger`; escrowed funds are balances of the module account
``ledger.CONTRACTS_ACCOUNT``), raise on a wrong use (a `Code`), or read a clock
(time is the block's agreed timestamp).

HTLC: ``lock`` moves funds from the sender into the module account; ``claim``
with the 32-byte preimage of the hashlock, strictly before ``expiry_ms``, pays
the fixed receiver (whoever submits it) and records the preimage; ``refund``
by the sender, from ``expiry_ms`` on, returns the funds.

Deal (delivery versus payment between two named parties): party A proposes
to deliver ``deliver_amount`` of ``deliver_asset`` to party B against
``pay_amount`` of ``pay_asset``; each party funds its own leg, in either order;
the tx that funds the second leg settles both legs at once. A party may cancel
while the other leg is unfunded (its own leg is refunded). At the first block
whose timestamp reaches the deadline, an unsettled deal refunds what was funded.

Validation uses ``timestamp_ms=None`` at admission, where the block time is
not known yet: time checks then happen at execution only.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Container
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bftx import codec, crypto, limits
from bftx.errors import Code, DecodeError
from bftx.exchange import ledger
from bftx.exchange.events import (
    DealClosed,
    DealFunded,
    DealProposed,
    DealRefunded,
    DealSettled,
    Event,
    HtlcClaimed,
    HtlcLocked,
    HtlcRefunded,
)
from bftx.exchange.transactions import (
    DealCancel,
    DealFund,
    DealPropose,
    HtlcClaim,
    HtlcLock,
    HtlcRefund,
    Tx,
    compute_contract_id,
)

if TYPE_CHECKING:  # the exchange state holds a `Contracts`
    from bftx.exchange.state import Account, ExchangeState

ContractBody = HtlcLock | HtlcClaim | HtlcRefund | DealPropose | DealFund | DealCancel


class HtlcStatus(enum.IntEnum):
    OPEN = 0
    CLAIMED = 1
    REFUNDED = 2


class DealStatus(enum.IntEnum):
    OPEN = 0
    SETTLED = 1
    CANCELLED = 2
    EXPIRED = 3


@dataclass(frozen=True, slots=True)
class Htlc:
    contract_id: bytes
    sender: bytes
    receiver: bytes
    asset: str
    amount: int
    hashlock: bytes
    expiry_ms: int
    status: HtlcStatus
    preimage: bytes  # empty until claimed


@dataclass(frozen=True, slots=True)
class Deal:
    contract_id: bytes
    party_a: bytes  # proposed it; delivers deliver_amount of deliver_asset
    party_b: bytes  # pays pay_amount of pay_asset
    deliver_asset: str
    deliver_amount: int
    pay_asset: str
    pay_amount: int
    deadline_ms: int
    funded_a: bool
    funded_b: bool
    status: DealStatus


class Contracts:
    """The module's state. Closed contracts are kept (a claimed HTLC's preimage stays readable)."""

    __slots__ = ("deadlines", "deals", "dirty", "htlcs", "open_counts")

    def __init__(self) -> None:
        self.htlcs: dict[bytes, Htlc] = {}
        self.deals: dict[bytes, Deal] = {}
        self.open_counts: dict[bytes, int] = {}  # creator -> its open HTLCs and deals
        self.deadlines: list[tuple[int, bytes]] = []  # heap of (deadline_ms, id) of open deals
        self.dirty: set[bytes] = set()  # ids changed since the last state root

    def add_htlc(self, htlc: Htlc) -> None:
        self.htlcs[htlc.contract_id] = htlc
        self.dirty.add(htlc.contract_id)

    def add_deal(self, deal: Deal) -> None:
        self.deals[deal.contract_id] = deal
        self.dirty.add(deal.contract_id)

    def count_open(self, creator: bytes, change: int) -> None:
        count = self.open_counts.get(creator, 0) + change
        assert count >= 0, "open contract count went negative"
        if count:
            self.open_counts[creator] = count
        else:
            self.open_counts.pop(creator, None)

    def rebuild_indexes(self) -> None:
        """Open counts and the deadline heap from the contracts (after a snapshot restore)."""
        self.open_counts.clear()
        self.deadlines = []
        for htlc in self.htlcs.values():
            if htlc.status is HtlcStatus.OPEN:
                self.count_open(htlc.sender, 1)
        for deal in self.deals.values():
            if deal.status is DealStatus.OPEN:
                self.count_open(deal.party_a, 1)
                self.deadlines.append((deal.deadline_ms, deal.contract_id))
        heapq.heapify(self.deadlines)


# --- validation ---------------------------------------------------------------------


def validate(state: ExchangeState, account: Account, tx: Tx, timestamp_ms: int | None) -> Code:
    """Whether a contract tx may execute now (``timestamp_ms=None``: at admission)."""
    body = tx.body
    if isinstance(body, HtlcLock):
        return validate_lock(state, account, body, timestamp_ms)
    if isinstance(body, HtlcClaim):
        return validate_claim(state, body, timestamp_ms)
    if isinstance(body, HtlcRefund):
        return validate_refund(state, account, body, timestamp_ms)
    if isinstance(body, DealPropose):
        return validate_propose(state, account, body, timestamp_ms)
    if isinstance(body, DealFund):
        return validate_fund(state, account, body, timestamp_ms)
    assert isinstance(body, DealCancel), f"not a contract tx: {body!r}"
    return validate_cancel(state, account, body)


def validate_lock(
    state: ExchangeState, account: Account, body: HtlcLock, timestamp_ms: int | None
) -> Code:
    if body.asset not in state.assets:
        return Code.UNKNOWN_ASSET
    if not 0 < body.amount <= limits.amount_max:
        return Code.INVALID_AMOUNT
    code = _check_counterparty(state, account, body.receiver)
    if code is not Code.OK:
        return code
    if not is_within_horizon(body.expiry_ms, timestamp_ms):
        return Code.INVALID_EXPIRY
    if state.contracts.open_counts.get(account.address, 0) >= limits.contracts_open_per_account_max:
        return Code.TOO_MANY_CONTRACTS
    if account.available(body.asset) < body.amount:
        return Code.INSUFFICIENT_FUNDS
    return Code.OK


def validate_claim(state: ExchangeState, body: HtlcClaim, timestamp_ms: int | None) -> Code:
    htlc = state.contracts.htlcs.get(body.contract_id)
    if htlc is None:
        return Code.UNKNOWN_CONTRACT
    if htlc.status is not HtlcStatus.OPEN:
        return Code.CONTRACT_CLOSED
    if len(body.preimage) != limits.htlc_preimage_bytes:
        return Code.INVALID_PREIMAGE
    if timestamp_ms is not None and timestamp_ms >= htlc.expiry_ms:
        return Code.CONTRACT_EXPIRED
    if crypto.sha256(body.preimage) != htlc.hashlock:
        return Code.WRONG_PREIMAGE
    return Code.OK


def validate_refund(
    state: ExchangeState, account: Account, body: HtlcRefund, timestamp_ms: int | None
) -> Code:
    htlc = state.contracts.htlcs.get(body.contract_id)
    if htlc is None:
        return Code.UNKNOWN_CONTRACT
    if account.address != htlc.sender:
        return Code.NOT_CONTRACT_PARTY
    if htlc.status is not HtlcStatus.OPEN:
        return Code.CONTRACT_CLOSED
    if timestamp_ms is not None and timestamp_ms < htlc.expiry_ms:
        return Code.CONTRACT_NOT_EXPIRED
    return Code.OK


def validate_propose(
    state: ExchangeState, account: Account, body: DealPropose, timestamp_ms: int | None
) -> Code:
    code = _check_counterparty(state, account, body.counterparty)
    if code is not Code.OK:
        return code
    if body.deliver_asset not in state.assets or body.pay_asset not in state.assets:
        return Code.UNKNOWN_ASSET
    if not (
        0 < body.deliver_amount <= limits.amount_max and 0 < body.pay_amount <= limits.amount_max
    ):
        return Code.INVALID_AMOUNT
    if not is_within_horizon(body.deadline_ms, timestamp_ms):
        return Code.INVALID_EXPIRY
    if state.contracts.open_counts.get(account.address, 0) >= limits.contracts_open_per_account_max:
        return Code.TOO_MANY_CONTRACTS
    return Code.OK


def validate_fund(
    state: ExchangeState, account: Account, body: DealFund, timestamp_ms: int | None
) -> Code:
    deal = state.contracts.deals.get(body.contract_id)
    if deal is None:
        return Code.UNKNOWN_CONTRACT
    if account.address not in (deal.party_a, deal.party_b):
        return Code.NOT_CONTRACT_PARTY
    if deal.status is not DealStatus.OPEN:
        return Code.CONTRACT_CLOSED
    if timestamp_ms is not None and timestamp_ms >= deal.deadline_ms:
        return Code.CONTRACT_EXPIRED
    is_a = account.address == deal.party_a
    if deal.funded_a if is_a else deal.funded_b:
        return Code.LEG_ALREADY_FUNDED
    asset, amount = leg_of(deal, is_a)
    if account.available(asset) < amount:
        return Code.INSUFFICIENT_FUNDS
    return Code.OK


def validate_cancel(state: ExchangeState, account: Account, body: DealCancel) -> Code:
    deal = state.contracts.deals.get(body.contract_id)
    if deal is None:
        return Code.UNKNOWN_CONTRACT
    if account.address not in (deal.party_a, deal.party_b):
        return Code.NOT_CONTRACT_PARTY
    if deal.status is not DealStatus.OPEN:
        return Code.CONTRACT_CLOSED
    if deal.funded_b if account.address == deal.party_a else deal.funded_a:
        return Code.OTHER_LEG_FUNDED
    return Code.OK


def is_within_horizon(deadline_ms: int, timestamp_ms: int | None) -> bool:
    """Not in the past and at most ``contract_horizon_ms_max`` ahead of the block."""
    if timestamp_ms is None:
        return deadline_ms > 0
    return timestamp_ms < deadline_ms <= timestamp_ms + limits.contract_horizon_ms_max


def leg_of(deal: Deal, party_a: bool) -> tuple[str, int]:
    """What one party escrows: A the delivery, B the payment."""
    if party_a:
        return deal.deliver_asset, deal.deliver_amount
    return deal.pay_asset, deal.pay_amount


def _check_counterparty(state: ExchangeState, account: Account, other: bytes) -> Code:
    if other == account.address or ledger.is_module_account(other):
        return Code.INVALID_RECIPIENT
    if not state.is_registered(other):
        return Code.RECIPIENT_NOT_REGISTERED
    return Code.OK


# --- execution ------------------------------------------------------------------------


def execute(
    state: ExchangeState, account: Account, tx: Tx, timestamp_ms: int, events: list[Event]
) -> Code:
    """Validate, then apply a contract tx (the caller consumed its nonce)."""
    body = tx.body
    if isinstance(body, HtlcClaim):  # the most frequent first: a swap locks once, claims once
        code = validate_claim(state, body, timestamp_ms)
        if code is Code.OK:
            claim(state, account, body, events)
    elif isinstance(body, HtlcLock):
        code = validate_lock(state, account, body, timestamp_ms)
        if code is Code.OK:
            lock(state, account, compute_contract_id(tx.sender, tx.nonce), body, events)
    else:
        code = validate(state, account, tx, timestamp_ms)
        if code is not Code.OK:
            return code
        if isinstance(body, HtlcRefund):
            refund(state, body, events)
        elif isinstance(body, DealPropose):
            propose(state, account, compute_contract_id(tx.sender, tx.nonce), body, events)
        elif isinstance(body, DealFund):
            fund(state, account, body, events)
        else:
            assert isinstance(body, DealCancel)
            cancel(state, account, body, events)
    return code


def lock(
    state: ExchangeState, account: Account, contract_id: bytes, body: HtlcLock, events: list[Event]
) -> None:
    contracts = state.contracts
    assert contract_id not in contracts.htlcs and contract_id not in contracts.deals
    ledger.move(state, account, state.account(ledger.CONTRACTS_ACCOUNT), body.asset, body.amount)
    contracts.add_htlc(
        Htlc(
            contract_id,
            account.address,
            body.receiver,
            body.asset,
            body.amount,
            body.hashlock,
            body.expiry_ms,
            HtlcStatus.OPEN,
            b"",
        )
    )
    contracts.count_open(account.address, 1)
    events.append(
        HtlcLocked(
            contract_id,
            account.address,
            body.receiver,
            body.asset,
            body.amount,
            body.hashlock,
            body.expiry_ms,
        )
    )


def claim(state: ExchangeState, claimer: Account, body: HtlcClaim, events: list[Event]) -> None:
    contracts = state.contracts
    htlc = contracts.htlcs[body.contract_id]
    escrow = state.accounts[ledger.CONTRACTS_ACCOUNT]
    ledger.move(state, escrow, state.account(htlc.receiver), htlc.asset, htlc.amount)
    contracts.add_htlc(closed_htlc(htlc, HtlcStatus.CLAIMED, body.preimage))
    contracts.count_open(htlc.sender, -1)
    events.append(
        HtlcClaimed(
            htlc.contract_id, htlc.receiver, htlc.asset, htlc.amount, body.preimage, claimer.address
        )
    )


def closed_htlc(htlc: Htlc, status: HtlcStatus, preimage: bytes) -> Htlc:
    """``htlc`` with a final status (built field by field: `dataclasses.replace` is slow here)."""
    return Htlc(
        htlc.contract_id,
        htlc.sender,
        htlc.receiver,
        htlc.asset,
        htlc.amount,
        htlc.hashlock,
        htlc.expiry_ms,
        status,
        preimage,
    )


def refund(state: ExchangeState, body: HtlcRefund, events: list[Event]) -> None:
    contracts = state.contracts
    htlc = contracts.htlcs[body.contract_id]
    escrow = state.accounts[ledger.CONTRACTS_ACCOUNT]
    ledger.move(state, escrow, state.account(htlc.sender), htlc.asset, htlc.amount)
    contracts.add_htlc(closed_htlc(htlc, HtlcStatus.REFUNDED, b""))
    contracts.count_open(htlc.sender, -1)
    events.append(HtlcRefunded(htlc.contract_id, htlc.sender, htlc.asset, htlc.amount))


def propose(
    state: ExchangeState,
    account: Account,
    contract_id: bytes,
    body: DealPropose,
    events: list[Event],
) -> None:
    contracts = state.contracts
    assert contract_id not in contracts.htlcs and contract_id not in contracts.deals
    deal = Deal(
        contract_id,
        account.address,
        body.counterparty,
        body.deliver_asset,
        body.deliver_amount,
        body.pay_asset,
        body.pay_amount,
        body.deadline_ms,
        False,
        False,
        DealStatus.OPEN,
    )
    contracts.add_deal(deal)
    contracts.count_open(account.address, 1)
    heapq.heappush(contracts.deadlines, (deal.deadline_ms, contract_id))
    events.append(
        DealProposed(
            contract_id,
            deal.party_a,
            deal.party_b,
            deal.deliver_asset,
            deal.deliver_amount,
            deal.pay_asset,
            deal.pay_amount,
            deal.deadline_ms,
        )
    )


def fund(state: ExchangeState, account: Account, body: DealFund, events: list[Event]) -> None:
    contracts = state.contracts
    deal = contracts.deals[body.contract_id]
    is_a = account.address == deal.party_a
    asset, amount = leg_of(deal, is_a)
    escrow = state.account(ledger.CONTRACTS_ACCOUNT)
    ledger.move(state, account, escrow, asset, amount)
    deal = replace(deal, funded_a=True) if is_a else replace(deal, funded_b=True)
    events.append(DealFunded(deal.contract_id, account.address, asset, amount))
    if deal.funded_a and deal.funded_b:
        ledger.move(
            state, escrow, state.account(deal.party_b), deal.deliver_asset, deal.deliver_amount
        )
        ledger.move(state, escrow, state.account(deal.party_a), deal.pay_asset, deal.pay_amount)
        deal = replace(deal, status=DealStatus.SETTLED)
        contracts.count_open(deal.party_a, -1)
        events.append(DealSettled(deal.contract_id, deal.party_a, deal.party_b))
    contracts.add_deal(deal)


def cancel(state: ExchangeState, account: Account, body: DealCancel, events: list[Event]) -> None:
    deal = state.contracts.deals[body.contract_id]
    close_deal(state, deal, DealStatus.CANCELLED, events)


def close_deal(state: ExchangeState, deal: Deal, status: DealStatus, events: list[Event]) -> None:
    """End an unsettled deal: refund each funded leg to its party."""
    assert deal.status is DealStatus.OPEN and not (deal.funded_a and deal.funded_b)
    escrow = state.accounts.get(ledger.CONTRACTS_ACCOUNT)
    for party, funded, is_a in (
        (deal.party_a, deal.funded_a, True),
        (deal.party_b, deal.funded_b, False),
    ):
        if funded:
            assert escrow is not None
            asset, amount = leg_of(deal, is_a)
            ledger.move(state, escrow, state.account(party), asset, amount)
            events.append(DealRefunded(deal.contract_id, party, asset, amount))
    state.contracts.add_deal(replace(deal, status=status))
    state.contracts.count_open(deal.party_a, -1)
    events.append(DealClosed(deal.contract_id, status.name.lower()))


def expire_deals(state: ExchangeState, timestamp_ms: int) -> list[Event]:
    """Close every open deal whose deadline is at or before the block's timestamp."""
    events: list[Event] = []
    contracts = state.contracts
    deadlines = contracts.deadlines
    while deadlines and deadlines[0][0] <= timestamp_ms:
        _deadline, contract_id = heapq.heappop(deadlines)
        deal = contracts.deals[contract_id]
        if deal.status is DealStatus.OPEN:
            close_deal(state, deal, DealStatus.EXPIRED, events)
    return events


# --- encoding (state root entries and snapshots) -----------------------------------


def htlc_to_value(htlc: Htlc) -> codec.Value:
    return (
        htlc.contract_id,
        htlc.sender,
        htlc.receiver,
        htlc.asset,
        htlc.amount,
        htlc.hashlock,
        htlc.expiry_ms,
        int(htlc.status),
        htlc.preimage,
    )


def deal_to_value(deal: Deal) -> codec.Value:
    return (
        deal.contract_id,
        deal.party_a,
        deal.party_b,
        deal.deliver_asset,
        deal.deliver_amount,
        deal.pay_asset,
        deal.pay_amount,
        deal.deadline_ms,
        deal.funded_a,
        deal.funded_b,
        int(deal.status),
    )


def htlc_from_value(value: codec.Value, assets: Container[str]) -> Htlc:
    fields = codec.expect_tuple(value, 9, "htlc")
    asset = codec.expect_str(fields[3], "htlc.asset", limits.asset_symbol_bytes_max)
    if asset not in assets:
        raise DecodeError(f"htlc.asset: unknown asset {asset!r}")
    return Htlc(
        codec.expect_bytes(fields[0], "htlc.contract_id", size=crypto.HASH_BYTES),
        codec.expect_bytes(fields[1], "htlc.sender", size=crypto.ADDRESS_BYTES),
        codec.expect_bytes(fields[2], "htlc.receiver", size=crypto.ADDRESS_BYTES),
        asset,
        codec.expect_int(fields[4], "htlc.amount", 1, limits.amount_max),
        codec.expect_bytes(fields[5], "htlc.hashlock", size=crypto.HASH_BYTES),
        codec.expect_int(fields[6], "htlc.expiry_ms", 1, limits.timestamp_ms_max),
        HtlcStatus(codec.expect_int(fields[7], "htlc.status", 0, len(HtlcStatus) - 1)),
        codec.expect_bytes(fields[8], "htlc.preimage", max_size=limits.htlc_preimage_bytes),
    )


def deal_from_value(value: codec.Value, assets: Container[str]) -> Deal:
    fields = codec.expect_tuple(value, 11, "deal")
    deliver = codec.expect_str(fields[3], "deal.deliver_asset", limits.asset_symbol_bytes_max)
    pay = codec.expect_str(fields[5], "deal.pay_asset", limits.asset_symbol_bytes_max)
    if deliver not in assets or pay not in assets:
        raise DecodeError("deal: unknown asset")
    deal = Deal(
        codec.expect_bytes(fields[0], "deal.contract_id", size=crypto.HASH_BYTES),
        codec.expect_bytes(fields[1], "deal.party_a", size=crypto.ADDRESS_BYTES),
        codec.expect_bytes(fields[2], "deal.party_b", size=crypto.ADDRESS_BYTES),
        deliver,
        codec.expect_int(fields[4], "deal.deliver_amount", 1, limits.amount_max),
        pay,
        codec.expect_int(fields[6], "deal.pay_amount", 1, limits.amount_max),
        codec.expect_int(fields[7], "deal.deadline_ms", 1, limits.timestamp_ms_max),
        codec.expect_bool(fields[8], "deal.funded_a"),
        codec.expect_bool(fields[9], "deal.funded_b"),
        DealStatus(codec.expect_int(fields[10], "deal.status", 0, len(DealStatus) - 1)),
    )
    if deal.status is DealStatus.OPEN and deal.funded_a and deal.funded_b:
        raise DecodeError("deal: an open deal cannot have both legs funded")
    return deal


def escrowed_by_asset(contracts: Contracts) -> dict[str, int]:
    """What the module account must hold: open HTLCs plus the funded legs of open deals."""
    totals: dict[str, int] = {}
    for htlc in contracts.htlcs.values():
        if htlc.status is HtlcStatus.OPEN:
            totals[htlc.asset] = totals.get(htlc.asset, 0) + htlc.amount
    for deal in contracts.deals.values():
        if deal.status is DealStatus.OPEN:
            for funded, is_a in ((deal.funded_a, True), (deal.funded_b, False)):
                if funded:
                    asset, amount = leg_of(deal, is_a)
                    totals[asset] = totals.get(asset, 0) + amount
    return totals
