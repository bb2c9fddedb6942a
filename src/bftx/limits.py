"""Every bound in bftx, in one place (TigerBeetle's TIGER_STYLE).

Units come last in each name. Relationships between the constants are
asserted at import time, so an inconsistent edit fails at once.
"""

from __future__ import annotations

# --- integers in state ---------------------------------------------------
amount_max = 2**62  # largest balance or supply of any asset, in smallest units
price_ticks_max = 2**32
quantity_lots_max = 2**32
nonce_max = 2**62
tick_size_max = 2**24  # quote units per lot per tick
lot_size_max = 2**40  # base units per lot

# --- encoding ------------------------------------------------------------
tx_bytes_max = 512
chain_id_bytes_max = 64
symbol_bytes_max = 16
memo_bytes_max = 128
decode_container_items_max = 100_000

# --- exchange --------------------------------------------------------------
assets_max = 256
markets_max = 256
orders_per_account_max = 1_000
nonce_ahead_max = 256  # how far past the next nonce check_tx admits a tx
fee_bps_max = 1_000  # 10%; fees never exceed what the payer receives
book_depth_levels_max = 1_000  # levels returned by one depth query
recent_trades_max = 1_000  # trades kept per market for queries
open_orders_query_max = 1_000

# --- blocks ----------------------------------------------------------------
txs_per_block_max = 8_192
block_bytes_max = txs_per_block_max * tx_bytes_max + 65_536

# --- state commitment ------------------------------------------------------
state_buckets_log2 = 12

assert price_ticks_max * quantity_lots_max * tick_size_max <= 2**88
assert fee_bps_max < 10_000
assert nonce_ahead_max < txs_per_block_max
assert block_bytes_max >= txs_per_block_max * tx_bytes_max
