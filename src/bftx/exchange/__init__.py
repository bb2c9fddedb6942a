"""The exchange: a deterministic state machine of accounts, balances, order books and settlement.

Owns: genesis (assets, markets, accounts), transactions and their encoding,
matching (price-time priority), settlement (delivery versus payment, fees),
the state root, and the queries the API needs.
Must never: do I/O, read a clock, use randomness, iterate an unordered
container into a result, use floats, or import `bftx.consensus`.
"""

from bftx.exchange.events import BlockResult, Receipt, Trade
from bftx.exchange.genesis import Asset, ExchangeGenesis, GenesisAccount, Market
from bftx.exchange.machine import Balance, BlockRejection, Depth, Exchange, OrderView
from bftx.exchange.transactions import (
    Burn,
    CancelOrder,
    Kind,
    Mint,
    OrderType,
    PlaceOrder,
    Register,
    Side,
    Transfer,
    Tx,
    decode_tx,
    sign_tx,
)

__all__ = [
    "Asset",
    "Balance",
    "BlockRejection",
    "BlockResult",
    "Burn",
    "CancelOrder",
    "Depth",
    "Exchange",
    "ExchangeGenesis",
    "GenesisAccount",
    "Kind",
    "Market",
    "Mint",
    "OrderType",
    "OrderView",
    "PlaceOrder",
    "Receipt",
    "Register",
    "Side",
    "Trade",
    "Transfer",
    "Tx",
    "decode_tx",
    "sign_tx",
]
