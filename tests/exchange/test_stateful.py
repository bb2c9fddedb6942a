"""Hypothesis stateful test: random multi-account, multi-market histories keep every invariant.

Rules queue signed txs (orders of every type, cancels of real and made-up
order ids, transfers, mints by issuers and by impostors, burns,
registrations, txs with bad nonces, HTLC locks, claims with right, wrong and
short preimages, refunds early and late, by the sender and by others, deal
proposals, fundings and cancels by parties and strangers); `end_block`
executes the queue as one block at an advancing timestamp (so HTLCs expire
and deals pass their deadlines). After every block:

- `find_violations` is empty: each asset conserved (contract escrow included:
  it is a balance of the contracts account), no negative balance, no crossed
  book, locks equal what open orders can spend, books consistent, and the
  contracts account holds exactly what open HTLCs and funded legs of open
  deals escrow;
- a shadow exchange, running the *reference* (pure Python) order books and
  fed the same txs in another order, produced the same block result and root.

At the end of each run the incremental root equals one rebuilt from scratch.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from bftx import crypto, limits
from bftx.errors import Code
from bftx.exchange import (
    Burn,
    CancelOrder,
    DealCancel,
    DealFund,
    DealPropose,
    Exchange,
    ExchangeGenesis,
    HtlcClaim,
    HtlcLock,
    HtlcRefund,
    Mint,
    OrderType,
    PlaceOrder,
    Register,
    Side,
    Transfer,
    Tx,
    compute_contract_id,
    decode_tx,
    sign_tx,
)
from bftx.exchange.book import ReferenceOrderBook
from bftx.exchange.invariants import find_violations
from bftx.exchange.transactions import Body

from .support import (
    ALICE,
    BOB,
    BTC_ISSUER,
    CAROL,
    CHAIN_ID,
    DAVE,
    OUTSIDER,
    REGISTRAR,
    USD_ISSUER,
    compute_root_from_scratch,
    make_genesis,
)

TRADERS = [ALICE, BOB, CAROL, DAVE, OUTSIDER]  # OUTSIDER starts unregistered
ANYONE = [*TRADERS, REGISTRAR, BTC_ISSUER, USD_ISSUER]
ASSETS = ["BTC", "USD", "ETH"]
MARKETS = {"BTC/USD": 100, "ETH/BTC": 50, "ETH/USD": 30}  # market -> mid price in ticks
BLOCK_TXS_MAX = 12

traders = st.sampled_from(TRADERS)
anyone = st.sampled_from(ANYONE)
assets = st.sampled_from([*ASSETS, "DOGE"])
amounts = st.one_of(st.integers(0, 50_000), st.sampled_from([1, 10**6, 10**9]))
orders = st.tuples(
    st.sampled_from(TRADERS[:4] * 4 + [OUTSIDER]),
    st.sampled_from(sorted(MARKETS)),
    st.sampled_from(Side),
    st.sampled_from([OrderType.LIMIT] * 4 + list(OrderType)),
    st.integers(-4, 4),  # price offset from the market's mid, in ticks
    st.one_of(st.integers(1, 8), st.sampled_from([0, 40, 10**6])),
    st.one_of(st.just(0), st.just(0), st.integers(-500, 6_000)),  # expiry, relative to now
)


SECRETS = [bytes([n]) * 32 for n in range(3)]
contract_picks = st.tuples(st.integers(0, 10**6), st.sampled_from([False] * 5 + [True]))
counterparties = st.sampled_from(TRADERS[:4] * 3 + ANYONE)  # mostly valid ones
contract_assets = st.sampled_from(ASSETS * 3 + ["DOGE"])
contract_amounts = st.one_of(st.integers(1, 5_000), amounts)
preimages = st.one_of(
    st.sampled_from(SECRETS), st.binary(min_size=32, max_size=32), st.binary(max_size=40)
)


def make_exchanges() -> tuple[Exchange, Exchange]:
    document = make_genesis(
        TRADERS[:4],
        btc=3_000_000,  # 300 BTC/USD lots
        usd=300_000,
        eth=80_000_000,  # 80 ETH/BTC lots
        maker_fee_bps=10,
        taker_fee_bps=25,
    ).to_document()
    # odd sizes, the largest maker fee, a minimum size, and a trader as its fee account
    document["markets"].append(
        {
            "symbol": "ETH/USD",
            "base": "ETH",
            "quote": "USD",
            "tick_size": 7,
            "lot_size": 999_983,
            "min_lots": 2,
            "maker_fee_bps": limits.fee_bps_max,
            "taker_fee_bps": 0,
            "fee_account": CAROL.address.hex(),
        }
    )
    genesis = ExchangeGenesis.from_document(document)
    exchange, shadow = Exchange(genesis), Exchange(genesis)
    shadow.state.books = {market: ReferenceOrderBook() for market in shadow.state.books}
    return exchange, shadow


class ExchangeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.exchange, self.shadow = make_exchanges()
        self.nonces: dict[bytes, int] = {}
        self.order_nonces: dict[bytes, list[int]] = {}
        self.pending: list[Tx] = []
        self.timestamp_ms = 1_000
        self.codes_seen: set[Code] = set()
        self.htlc_ids: list[bytes] = []
        self.deal_ids: list[bytes] = []
        self.deal_parties: dict[bytes, tuple[object, object]] = {}

    def queue(self, signer: object, body: Body, nonce_shift: int = 0) -> int:
        address = signer.address  # type: ignore[attr-defined]
        nonce = self.nonces.get(address, 0)
        if nonce_shift == 0:
            self.nonces[address] = nonce + 1
        nonce = max(0, nonce + nonce_shift)
        self.pending.append(decode_tx(sign_tx(signer, CHAIN_ID, nonce, body)))  # type: ignore[arg-type]
        return nonce

    # --- rules that queue txs ---------------------------------------------------------

    @precondition(lambda self: len(self.pending) < BLOCK_TXS_MAX)
    @rule(orders=st.lists(orders, min_size=1, max_size=4))
    def place(self, orders: list[tuple[object, str, Side, OrderType, int, int, int]]) -> None:
        for trader, market, side, order_type, offset, lots, expiry in orders:
            price = max(0, MARKETS[market] + offset)
            resting = order_type in (OrderType.LIMIT, OrderType.POST_ONLY)
            if expiry and not resting and expiry % 7:
                expiry = 0  # an expiry on an immediate order is rejected: keep that rare
            expires_at_ms = 0 if expiry == 0 else max(1, self.timestamp_ms + expiry)
            body = PlaceOrder(market, side, order_type, price, lots, expires_at_ms)
            nonce = self.queue(trader, body)
            self.order_nonces.setdefault(trader.address, []).append(nonce)  # type: ignore[attr-defined]

    @precondition(lambda self: len(self.pending) < BLOCK_TXS_MAX)
    @rule(
        maker=st.sampled_from(TRADERS[:4]),
        taker=st.sampled_from(TRADERS[:4]),
        market=st.sampled_from(sorted(MARKETS)),
        maker_side=st.sampled_from(Side),
        offset=st.integers(-3, 3),
        maker_lots=st.integers(1, 8),
        taker_lots=st.integers(1, 12),
        taker_type=st.sampled_from(OrderType),
        taker_improves=st.integers(0, 2),
    )
    def crossing_pair(
        self,
        maker: object,
        taker: object,
        market: str,
        maker_side: Side,
        offset: int,
        maker_lots: int,
        taker_lots: int,
        taker_type: OrderType,
        taker_improves: int,
    ) -> None:
        """A resting order and one that crosses it (they may share a block, in either order)."""
        price = MARKETS[market] + offset
        taker_side = Side.SELL if maker_side is Side.BUY else Side.BUY
        taker_price = price + taker_improves if taker_side is Side.BUY else price - taker_improves
        for who, side, order_type, at, lots in (
            (maker, maker_side, OrderType.LIMIT, price, maker_lots),
            (taker, taker_side, taker_type, taker_price, taker_lots),
        ):
            nonce = self.queue(who, PlaceOrder(market, side, order_type, at, lots, 0))
            self.order_nonces.setdefault(who.address, []).append(nonce)  # type: ignore[attr-defined]

    @precondition(lambda self: len(self.pending) < BLOCK_TXS_MAX)
    @rule(trader=traders, pick=st.integers(0, 10**6), made_up=st.booleans())
    def cancel(self, trader: object, pick: int, made_up: bool) -> None:
        known = self.order_nonces.get(trader.address, [])  # type: ignore[attr-defined]
        order_nonce = pick % 300 if made_up or not known else known[pick % len(known)]
        self.queue(trader, CancelOrder(order_nonce))

    @precondition(lambda self: len(self.pending) < BLOCK_TXS_MAX)
    @rule(sender=traders, recipient=anyone, asset=assets, amount=amounts)
    def transfer(self, sender: object, recipient: object, asset: str, amount: int) -> None:
        self.queue(sender, Transfer(asset, recipient.address, amount))  # type: ignore[attr-defined]

    @precondition(lambda self: len(self.pending) < BLOCK_TXS_MAX)
    @rule(
        issuer=st.sampled_from([BTC_ISSUER, USD_ISSUER, ALICE]),
        recipient=anyone,
        asset=assets,
        amount=amounts,
    )
    def mint(self, issuer: object, recipient: object, asset: str, amount: int) -> None:
        self.queue(issuer, Mint(asset, recipient.address, amount))  # type: ignore[attr-defined]

    @precondition(lambda self: len(self.pending) < BLOCK_TXS_MAX)
    @rule(sender=traders, asset=assets, amount=amounts)
    def burn(self, sender: object, asset: str, amount: int) -> None:
        self.queue(sender, Burn(asset, amount, "out"))

    @precondition(lambda self: len(self.pending) < BLOCK_TXS_MAX)
    @rule(registrar=st.sampled_from([REGISTRAR, BOB]), who=anyone)
    def register(self, registrar: object, who: object) -> None:
        self.queue(registrar, Register(who.address))  # type: ignore[attr-defined]

    @precondition(lambda self: len(self.pending) < BLOCK_TXS_MAX)
    @rule(sender=traders, shift=st.sampled_from([-2, -1, 1, 3]))
    def stale_or_early_nonce(self, sender: object, shift: int) -> None:
        self.queue(sender, Transfer("USD", ALICE.address, 1), nonce_shift=shift)

    # --- contracts ---------------------------------------------------------------------

    def pick(self, known: list[bytes], choice: tuple[int, bool]) -> bytes:
        index, made_up = choice
        if made_up or not known:
            return crypto.sha256(index.to_bytes(8, "big"))
        return known[index % len(known)]

    @precondition(lambda self: len(self.pending) < BLOCK_TXS_MAX)
    @rule(
        sender=traders,
        receiver=counterparties,
        asset=contract_assets,
        amount=contract_amounts,
        secret=st.integers(0, len(SECRETS) - 1),
        expiry=st.one_of(
            st.integers(1_000, 8_000),
            st.integers(-500, 1_000),
            st.just(limits.contract_horizon_ms_max + 1),
        ),
    )
    def htlc_lock(
        self, sender: object, receiver: object, asset: str, amount: int, secret: int, expiry: int
    ) -> None:
        hashlock = crypto.sha256(SECRETS[secret])
        body = HtlcLock(
            asset,
            amount,
            receiver.address,  # type: ignore[attr-defined]
            hashlock,
            max(0, self.timestamp_ms + expiry),
        )
        nonce = self.queue(sender, body)
        self.htlc_ids.append(compute_contract_id(sender.address, nonce))  # type: ignore[attr-defined]

    @precondition(lambda self: len(self.pending) < BLOCK_TXS_MAX)
    @rule(
        claimer=anyone,
        choice=contract_picks,
        preimage=preimages,
    )
    def htlc_claim(self, claimer: object, choice: tuple[int, bool], preimage: bytes) -> None:
        self.queue(claimer, HtlcClaim(self.pick(self.htlc_ids, choice), preimage))

    def open_contracts(self, kind: str) -> list[bytes]:
        contracts = self.exchange.state.contracts
        found = contracts.htlcs if kind == "htlc" else contracts.deals
        return sorted(id for id, contract in found.items() if contract.status == 0)

    @precondition(lambda self: len(self.pending) < BLOCK_TXS_MAX)
    @rule(claimer=anyone, index=st.integers(0, 10**6), refund=st.booleans())
    def settle_open_htlc(self, claimer: object, index: int, refund: bool) -> None:
        """Claim an open HTLC with its secret, or have its sender refund it (maybe too early)."""
        open_ids = self.open_contracts("htlc")
        if not open_ids:
            return
        htlc = self.exchange.state.contracts.htlcs[open_ids[index % len(open_ids)]]
        if refund:
            sender = next(t for t in ANYONE if t.address == htlc.sender)
            self.queue(sender, HtlcRefund(htlc.contract_id))
        else:
            secret = next(s for s in SECRETS if crypto.sha256(s) == htlc.hashlock)
            self.queue(claimer, HtlcClaim(htlc.contract_id, secret))

    @precondition(lambda self: len(self.pending) < BLOCK_TXS_MAX)
    @rule(index=st.integers(0, 10**6), party_b=st.booleans(), cancel=st.booleans())
    def act_on_open_deal(self, index: int, party_b: bool, cancel: bool) -> None:
        """A party of an open deal funds its leg or cancels."""
        open_ids = self.open_contracts("deal")
        if not open_ids:
            return
        deal = self.exchange.state.contracts.deals[open_ids[index % len(open_ids)]]
        address = deal.party_b if party_b else deal.party_a
        party = next(t for t in ANYONE if t.address == address)
        self.queue(party, DealCancel(deal.contract_id) if cancel else DealFund(deal.contract_id))

    @precondition(lambda self: len(self.pending) < BLOCK_TXS_MAX)
    @rule(sender=anyone, choice=contract_picks)
    def htlc_refund(self, sender: object, choice: tuple[int, bool]) -> None:
        self.queue(sender, HtlcRefund(self.pick(self.htlc_ids, choice)))

    @precondition(lambda self: len(self.pending) < BLOCK_TXS_MAX)
    @rule(
        party_a=traders,
        party_b=counterparties,
        deliver=st.tuples(contract_assets, contract_amounts),
        pay=st.tuples(contract_assets, contract_amounts),
        deadline=st.one_of(st.integers(1_000, 8_000), st.integers(-500, 1_000)),
    )
    def deal_propose(
        self,
        party_a: object,
        party_b: object,
        deliver: tuple[str, int],
        pay: tuple[str, int],
        deadline: int,
    ) -> None:
        body = DealPropose(
            party_b.address,  # type: ignore[attr-defined]
            deliver[0],
            deliver[1],
            pay[0],
            pay[1],
            max(0, self.timestamp_ms + deadline),
        )
        nonce = self.queue(party_a, body)
        deal_id = compute_contract_id(party_a.address, nonce)  # type: ignore[attr-defined]
        self.deal_ids.append(deal_id)
        self.deal_parties[deal_id] = (party_a, party_b)

    @precondition(lambda self: len(self.pending) < BLOCK_TXS_MAX)
    @rule(
        choice=contract_picks,
        who=st.sampled_from(["a", "b", "a", "b", "stranger"]),
        stranger=anyone,
        cancel=st.sampled_from([False, False, True]),
    )
    def deal_fund_or_cancel(
        self, choice: tuple[int, bool], who: str, stranger: object, cancel: bool
    ) -> None:
        deal_id = self.pick(self.deal_ids, choice)
        parties = self.deal_parties.get(deal_id, (stranger, stranger))
        signer = {"a": parties[0], "b": parties[1]}.get(who, stranger)
        self.queue(signer, DealCancel(deal_id) if cancel else DealFund(deal_id))

    # --- executing a block -------------------------------------------------------------

    @rule(advance_ms=st.integers(0, 3_000), data=st.data())
    def end_block(self, advance_ms: int, data: st.DataObject) -> None:
        self.timestamp_ms += advance_ms
        height = self.exchange.height + 1
        txs, self.pending = self.pending, []
        shuffled = data.draw(st.permutations(txs), label="shadow order")
        result = self.exchange.execute_block(height, self.timestamp_ms, txs)
        shadow_result = self.shadow.execute_block(height, self.timestamp_ms, shuffled)
        assert result == shadow_result
        assert find_violations(self.exchange.state) == []
        assert find_violations(self.shadow.state) == []
        assert self.exchange.state_root() == self.shadow.state_root() == result.state_root
        self.codes_seen.update(receipt.code for receipt in result.receipts)

    def teardown(self) -> None:
        if self.exchange.height:
            state = self.exchange.state
            assert compute_root_from_scratch(state) == self.exchange.state_root()


ExchangeMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestExchangeMachine = ExchangeMachine.TestCase
