"""Persistence: blocks with their certificates, results, tx index, trades, snapshots, vote journal.

Owns the SQLite database of one node (WAL mode, ``synchronous=FULL``). It
stores bytes that other packages encode (blocks and certificates from
consensus, results and snapshots from the exchange) plus the indexes the API
queries; trades by account are indexed in a file of their own by a background
thread (`bftx.store.account_trades`). It never decides whether data is valid: the node verifies what it
loads against certified headers and stops on any disagreement.
"""

from bftx.store.account_trades import IndexCatchingUp
from bftx.store.database import Store, StoredBlock, StoreError, TradeRow, TxRow

__all__ = ["IndexCatchingUp", "Store", "StoreError", "StoredBlock", "TradeRow", "TxRow"]
