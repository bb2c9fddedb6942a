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
tx_bytes_max = 4_096  # interchain txs carry a state proof or two light blocks; most txs are < 200
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
timestamp_ms_max = 2**62  # bound of any timestamp or deadline field in a tx

# --- contracts (HTLCs and deals) -------------------------------------------
htlc_preimage_bytes = 32  # an HTLC's secret: its SHA-256 is the hashlock
htlc_preimage_bytes_max = 64  # decoded up to this, so a wrong size is a result code
contract_horizon_ms_max = 30 * 24 * 3_600_000  # expiry or deadline at most this far past the block
contracts_open_per_account_max = 1_000  # open HTLCs and deals an account created or is party to
contracts_query_max = 1_000  # contracts returned by one query

# --- interchain (light clients of other bftx chains, packets) ----------------
asset_symbol_bytes_max = 48  # any asset in a tx or state; genesis symbols stay <= symbol_bytes_max
client_id_bytes_max = 16  # "client-<n>"
interchain_clients_max = 1_024  # light clients one chain may hold
interchain_validators_max = 64  # validators of a tracked chain (its light blocks fit in a tx)
interchain_consensus_states_max = 256  # heights a client keeps (oldest forgotten first)
interchain_vouchers_max = 1_024  # voucher assets a chain may create
interchain_clock_drift_ms_max = 10_000  # a header's time may lead the block time by this much
trusting_period_ms_min = 1_000
trusting_period_ms_max = 365 * 24 * 3_600_000
packets_query_max = 1_000  # packets returned by one query

# --- state proofs ------------------------------------------------------------
proof_heights_max = 32  # recent heights a node can prove state at (headers anchor 4 back)

# --- mempool ---------------------------------------------------------------
mempool_txs_max = 50_000
mempool_bytes_max = 32 * 1024 * 1024
client_backlog_txs_max = (
    8_192  # waiting txs past which client txs are shed: two pipelines of full blocks
)

# --- node ------------------------------------------------------------------
sync_blocks_max = 64  # certified blocks in one follower sync reply
# a follower accepts replies of up to sync_reply_bytes_max; a validator fills
# one with blocks up to sync_reply_bytes_budget (one block always fits)
sync_reply_bytes_max = 96 * 1024 * 1024
sync_reply_bytes_budget = 16 * 1024 * 1024
sync_interval_ms = 200  # a follower asks for blocks this often when it is not behind
snapshot_interval_blocks = 512  # a node saves a state snapshot this often
subscriber_queue_blocks_max = 1_024  # committed blocks queued for one slow subscriber
latency_samples_max = 100_000  # submit times remembered for commit latency

# --- blocks ----------------------------------------------------------------
txs_per_block_max = 8_192
# the txs of one block together: a proposer stops adding txs at this many bytes
block_txs_bytes_max = txs_per_block_max * 512
block_bytes_max = block_txs_bytes_max + txs_per_block_max * 8 + 65_536

# --- client APIs (bftx.api) ------------------------------------------------------
# The largest body a client needs: a JSON batch of a full block, txs_per_block_max txs of
# block_txs_bytes_max bytes together, written in hex ("0x" + 2 digits a byte, quoted, a comma).
api_request_bytes_max = 2 * block_txs_bytes_max + txs_per_block_max * 6 + 4_096
api_json_depth_max = 32  # arrays and objects nested in one client JSON message
websocket_message_bytes_max = 4_096  # one client message on /v1/ws
websocket_frame_bytes_max = 65_536  # frames past this close the connection (1009) unread
grpc_message_bytes_max = 8 * 1024 * 1024  # one TxBatch of txs_per_block_max txs fits
api_signature_skew_ms_max = (
    30_000  # a signed request's timestamp may be this far from the node's clock
)
api_signatures_remembered_max = 262_144  # recent request signatures kept to refuse replays
api_requests_per_s = 500  # per signed identity (a token bucket) ...
api_request_burst = 1_000  # ... with bursts of this many
api_rate_buckets_max = 65_536  # identities whose buckets are kept (least recently seen dropped)

assert api_request_bytes_max >= block_bytes_max  # a binary batch of a full block fits too
assert websocket_message_bytes_max < websocket_frame_bytes_max
assert grpc_message_bytes_max >= block_txs_bytes_max + txs_per_block_max * 4
# Admission control (bftx.api.intake): a client tx is refused (429 overloaded, unchecked)
# when the txs handed to consensus and not committed exceed intake_queue_ms worth at the
# committed tx/s of the last intake_rate_window_ms (never assumed below
# intake_rate_floor_tps). Txs the node refuses after checking them (junk) may keep the event
# loop busy for intake_busy_ms_max of every intake_window_ms; past that every client tx is
# refused unchecked until the window ends.
intake_queue_ms = 1_000
intake_rate_window_ms = 1_000
intake_rate_floor_tps = 200
intake_window_ms = 100
intake_busy_ms_max = 50
# A client batch yields the loop after this many txs: about one gossip slice (gossip_slice_ms)
# of admission work, so a primary's own clients and the txs other validators gossip to it
# take turns of a like length (with 256 the gossiped txs waited behind the clients').
intake_chunk_txs = 64
assert intake_busy_ms_max < intake_window_ms
# every signature that may still be replayed (2 x skew) from identities at full rate fits
assert api_signatures_remembered_max >= api_requests_per_s * 2 * api_signature_skew_ms_max // 1000

# --- state commitment and snapshots ----------------------------------------
state_buckets_log2 = 12
snapshot_items_max = 2**24  # accounts, or open orders, in one exchange snapshot
verified_tx_cache_max = 262_144  # tx hashes whose signature a node has checked
decoded_txs_max = 65_536  # decoded txs a node keeps by their bytes: seconds of traffic at full load
# A node process collects its young generation of tracked objects after this many net
# allocations (CPython's default is 700): a tx's objects then die young, by reference
# counting, instead of being promoted and walked by full collections (bftx.node.collection).
gc_young_objects = 20_000

assert price_ticks_max * quantity_lots_max * tick_size_max <= 2**88
assert fee_bps_max < 10_000
assert htlc_preimage_bytes <= htlc_preimage_bytes_max
assert contract_horizon_ms_max < timestamp_ms_max
assert symbol_bytes_max <= asset_symbol_bytes_max
assert trusting_period_ms_min < trusting_period_ms_max
assert nonce_ahead_max < txs_per_block_max
assert block_bytes_max >= block_txs_bytes_max + txs_per_block_max * 8
assert tx_bytes_max <= block_txs_bytes_max

# --- consensus (bftx.consensus) -------------------------------------------------
validators_max = 256
pipeline_depth_blocks = 4  # proposals in flight; a header anchors the block this far back
checkpoint_interval_blocks = 8  # a signed checkpoint every this many blocks
watermark_window_blocks = 32  # sequence numbers accepted above the stable checkpoint
view_ahead_max = 4  # votes for views this far ahead of the current one are kept
block_interval_ms = 100  # an honest primary proposes at least this often
view_timeout_ms = 1_000  # no commit for this long starts a view change
view_timeout_ms_max = 8_000  # the timeout doubles per failed view change up to this
tx_proposal_timeout_ms = 1_500  # the oldest unproposed tx passed over this long: a view change
tx_backlog_timeout_ms = 6_000  # ... even while full blocks excuse a backlog
clock_skew_ms_max = 500  # a proposal's timestamp may lead a voter's clock by this much
retransmit_interval_ms = 400  # resend own votes when no progress for this long
fetch_interval_ms = 300  # at most one state-transfer request per this interval
fetch_blocks_max = 64  # certified blocks in one fetch reply
pending_txs_max = 20_000  # admitted txs a replica holds for proposal
snapshot_bytes_max = 64 * 1024 * 1024
consensus_message_bytes_max = 96 * 1024 * 1024

assert pipeline_depth_blocks >= 1
assert checkpoint_interval_blocks >= pipeline_depth_blocks
assert watermark_window_blocks >= 2 * checkpoint_interval_blocks
assert view_timeout_ms < view_timeout_ms_max
assert block_interval_ms < view_timeout_ms < tx_proposal_timeout_ms
assert retransmit_interval_ms < view_timeout_ms
assert fetch_blocks_max >= watermark_window_blocks
assert consensus_message_bytes_max >= snapshot_bytes_max + 4 * block_bytes_max

# --- p2p (bftx.p2p) ----------------------------------------------------------
# One frame carries the largest consensus message (a state-transfer reply) and
# the envelope. Blocks and gossip batches are far smaller.
frame_bytes_max = consensus_message_bytes_max + 65_536
frame_channel_max = 255  # channel 0 is the transport's own (keepalive)
peer_send_queue_frames_max = 4_096
# Per peer; the oldest frames are dropped past it. One larger frame may still
# be queued, alone: the queue never holds more than max(this, frame_bytes_max).
peer_send_queue_bytes_max = 16 * 1024 * 1024
peer_write_buffer_bytes_max = 1_048_576  # bytes handed to the socket before waiting for it
received_queue_frames_max = 4_096  # frames waiting for the node when it reads by iterator
received_queue_bytes_max = 64 * 1024 * 1024  # their payloads; one larger frame may wait alone
inbound_handshakes_max = 64  # unauthenticated connections being handshaken at once
handshake_timeout_ms = 5_000  # TCP connect + TLS 1.3 handshake + first frame
keepalive_interval_ms = 2_000  # a link with nothing to send sends a keepalive this often
idle_timeout_ms = 10_000  # a link that received nothing for this long is closed
write_stall_timeout_ms = 30_000  # a peer that accepts no bytes for this long is disconnected
reconnect_delay_ms_min = 100
reconnect_delay_ms_max = 10_000
link_stable_ms = 10_000  # a link that lived this long resets the reconnect backoff
close_flush_timeout_ms = 1_000  # graceful close waits this long for queues to drain
rejection_logs_per_minute_max = 60  # warnings about refused connections, then a summary
gossip_batch_items_max = 1_024
gossip_batch_bytes_max = 1_048_576
gossip_flush_interval_ms = 10
gossip_item_bytes_max = 65_536
gossip_seen_hashes_max = 262_144  # two generations of half this size each
# Txs gossiped in wait in a queue and are admitted in slices of the event loop, so that
# consensus messages are never behind a peer's batch; past this many waiting, a new batch
# is dropped (its sender still holds the txs and hands them again when the link comes back).
gossip_backlog_txs_max = mempool_txs_max
gossip_slice_ms = 5  # admission of gossiped txs yields the loop after this long

assert frame_bytes_max >= consensus_message_bytes_max + 65_536
assert frame_bytes_max >= block_bytes_max + 65_536
assert frame_bytes_max < 2**32  # the length prefix is 4 bytes
assert peer_send_queue_bytes_max >= 2 * block_bytes_max
assert peer_write_buffer_bytes_max <= peer_send_queue_bytes_max
assert keepalive_interval_ms * 2 <= idle_timeout_ms
assert handshake_timeout_ms <= idle_timeout_ms
assert reconnect_delay_ms_min < reconnect_delay_ms_max
assert gossip_batch_bytes_max + 65_536 <= frame_bytes_max
assert gossip_batch_items_max <= decode_container_items_max
assert tx_bytes_max <= gossip_item_bytes_max <= gossip_batch_bytes_max
