"""The real exchange as the simulator's replicated application (``bftx sim --app exchange``).

The simulator can replicate `bftx.exchange` behind the consensus `Application`
boundary instead of the counter: a genesis with one BTC/USD market and a few
funded traders, and a client load of signed limit orders around a mid price.
The safety checker then compares the exchange's state roots across honest
replicas at every height. This module owns only that genesis and that load;
it never changes the exchange.
"""

from __future__ import annotations

import random

from bftx import crypto, limits
from bftx.exchange import ExchangeGenesis, OrderType, PlaceOrder, Side, sign_tx
from bftx.exchange.application import ExchangeApplication

TRADERS = 8
BTC_LOT = 10_000  # satoshi per lot
MID_PRICE_TICKS = 4_500_000  # $45,000.00 at one tick per cent


def create_trader_keys() -> list[crypto.KeyPair]:
    return [
        crypto.KeyPair.from_seed(crypto.sha256(b"bftx-sim-trader/%d" % i)) for i in range(TRADERS)
    ]


def create_genesis(chain_id: str, traders: list[crypto.KeyPair]) -> ExchangeGenesis:
    fees = crypto.KeyPair.from_seed(crypto.sha256(b"bftx-sim-fees"))
    issuer = crypto.KeyPair.from_seed(crypto.sha256(b"bftx-sim-issuer"))
    return ExchangeGenesis.from_document(
        {
            "chain_id": chain_id,
            "access": "permissioned",
            "assets": [
                {
                    "symbol": symbol,
                    "decimals": decimals,
                    "issuers": [issuer.address.hex()],
                    "supply_max": limits.amount_max,
                }
                for symbol, decimals in (("BTC", 8), ("USD", 6))
            ],
            "markets": [
                {
                    "symbol": "BTC/USD",
                    "base": "BTC",
                    "quote": "USD",
                    "tick_size": 1,
                    "lot_size": BTC_LOT,
                    "min_lots": 1,
                    "maker_fee_bps": 1,
                    "taker_fee_bps": 2,
                    "fee_account": fees.address.hex(),
                }
            ],
            "accounts": [
                {"address": trader.address.hex(), "balances": {"BTC": 10**12, "USD": 10**15}}
                for trader in traders
            ],
        }
    )


class ExchangeLoad:
    """Signed limit orders from the traders in turn, each with its next nonce."""

    def __init__(self, chain_id: str) -> None:
        self.chain_id = chain_id
        self.traders = create_trader_keys()
        self.genesis = create_genesis(chain_id, self.traders)
        self.nonces = [0] * len(self.traders)
        self.turn = 0

    def create_application(self) -> ExchangeApplication:
        return ExchangeApplication(self.genesis)

    def next_tx(self, rng: random.Random) -> bytes:
        index = self.turn % len(self.traders)
        self.turn += 1
        nonce = self.nonces[index]
        self.nonces[index] += 1
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        order = PlaceOrder(
            market="BTC/USD",
            side=side,
            order_type=OrderType.LIMIT,
            price_ticks=MID_PRICE_TICKS + rng.randint(-500, 500),
            quantity_lots=rng.randint(1, 20),
            expires_at_ms=0,
        )
        return sign_tx(self.traders[index], self.chain_id, nonce, order)
