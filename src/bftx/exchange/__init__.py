"""The exchange: a deterministic state machine of accounts, balances, order books and settlement.

Owns: genesis (assets, markets, accounts), transactions and their encoding,
and the modules behind them: the ledger (`ledger`, the only code that changes a
balance), the markets (`execution`, `book`: matching by price-time priority,
settlement of fills), the contracts (`contracts`: HTLCs and deals), the
interchain module (`interchain`: light clients of other bftx chains, packets,
escrow and vouchers), the state root with its proofs (`commitment`, `proofs`,
`keys`), and the queries the API needs.
Must never: do I/O, read a clock, use randomness, iterate an unordered
container into a result, use floats, or import `bftx.consensus`.
"""

from bftx.exchange.events import BlockResult, Receipt, Trade
from bftx.exchange.genesis import Asset, ExchangeGenesis, GenesisAccount, Market
from bftx.exchange.machine import Balance, BlockRejection, Depth, Exchange, OrderView
from bftx.exchange.transactions import (
    Burn,
    CancelOrder,
    DealCancel,
    DealFund,
    DealPropose,
    HtlcClaim,
    HtlcLock,
    HtlcRefund,
    Kind,
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

__all__ = [
    "Asset",
    "Balance",
    "BlockRejection",
    "BlockResult",
    "Burn",
    "CancelOrder",
    "DealCancel",
    "DealFund",
    "DealPropose",
    "Depth",
    "Exchange",
    "ExchangeGenesis",
    "GenesisAccount",
    "HtlcClaim",
    "HtlcLock",
    "HtlcRefund",
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
    "compute_contract_id",
    "decode_tx",
    "sign_tx",
]
