from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Status(_message.Message):
    __slots__ = ("node", "mode", "chain_id", "height", "state_root", "view", "primary", "validator_index", "validators", "peers_connected", "mempool_txs", "halted")
    NODE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_INDEX_FIELD_NUMBER: _ClassVar[int]
    VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    PEERS_CONNECTED_FIELD_NUMBER: _ClassVar[int]
    MEMPOOL_TXS_FIELD_NUMBER: _ClassVar[int]
    HALTED_FIELD_NUMBER: _ClassVar[int]
    node: str
    mode: str
    chain_id: str
    height: int
    state_root: str
    view: int
    primary: int
    validator_index: int
    validators: _containers.RepeatedScalarFieldContainer[str]
    peers_connected: _containers.RepeatedScalarFieldContainer[str]
    mempool_txs: int
    halted: str
    def __init__(self, node: _Optional[str] = ..., mode: _Optional[str] = ..., chain_id: _Optional[str] = ..., height: _Optional[int] = ..., state_root: _Optional[str] = ..., view: _Optional[int] = ..., primary: _Optional[int] = ..., validator_index: _Optional[int] = ..., validators: _Optional[_Iterable[str]] = ..., peers_connected: _Optional[_Iterable[str]] = ..., mempool_txs: _Optional[int] = ..., halted: _Optional[str] = ...) -> None: ...

class GetTxRequest(_message.Message):
    __slots__ = ("tx_hash",)
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    tx_hash: bytes
    def __init__(self, tx_hash: _Optional[bytes] = ...) -> None: ...

class TxStatus(_message.Message):
    __slots__ = ("tx_hash", "state", "height", "position", "code", "message")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[TxStatus.State]
        UNKNOWN: _ClassVar[TxStatus.State]
        PENDING: _ClassVar[TxStatus.State]
        COMMITTED: _ClassVar[TxStatus.State]
    STATE_UNSPECIFIED: TxStatus.State
    UNKNOWN: TxStatus.State
    PENDING: TxStatus.State
    COMMITTED: TxStatus.State
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    tx_hash: bytes
    state: TxStatus.State
    height: int
    position: int
    code: str
    message: str
    def __init__(self, tx_hash: _Optional[bytes] = ..., state: _Optional[_Union[TxStatus.State, str]] = ..., height: _Optional[int] = ..., position: _Optional[int] = ..., code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class GetBookRequest(_message.Message):
    __slots__ = ("market", "depth")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    market: str
    depth: int
    def __init__(self, market: _Optional[str] = ..., depth: _Optional[int] = ...) -> None: ...

class Level(_message.Message):
    __slots__ = ("price", "amount")
    PRICE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    price: str
    amount: str
    def __init__(self, price: _Optional[str] = ..., amount: _Optional[str] = ...) -> None: ...

class Book(_message.Message):
    __slots__ = ("market", "sequence", "bids", "asks")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    BIDS_FIELD_NUMBER: _ClassVar[int]
    ASKS_FIELD_NUMBER: _ClassVar[int]
    market: str
    sequence: int
    bids: _containers.RepeatedCompositeFieldContainer[Level]
    asks: _containers.RepeatedCompositeFieldContainer[Level]
    def __init__(self, market: _Optional[str] = ..., sequence: _Optional[int] = ..., bids: _Optional[_Iterable[_Union[Level, _Mapping]]] = ..., asks: _Optional[_Iterable[_Union[Level, _Mapping]]] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("address",)
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    def __init__(self, address: _Optional[bytes] = ...) -> None: ...

class Balance(_message.Message):
    __slots__ = ("asset", "available", "locked")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    LOCKED_FIELD_NUMBER: _ClassVar[int]
    asset: str
    available: str
    locked: str
    def __init__(self, asset: _Optional[str] = ..., available: _Optional[str] = ..., locked: _Optional[str] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("address", "registered", "nonce", "balances", "height")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    BALANCES_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    registered: bool
    nonce: int
    balances: _containers.RepeatedCompositeFieldContainer[Balance]
    height: int
    def __init__(self, address: _Optional[bytes] = ..., registered: _Optional[bool] = ..., nonce: _Optional[int] = ..., balances: _Optional[_Iterable[_Union[Balance, _Mapping]]] = ..., height: _Optional[int] = ...) -> None: ...

class GetBlockRequest(_message.Message):
    __slots__ = ("height",)
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    height: int
    def __init__(self, height: _Optional[int] = ...) -> None: ...

class Block(_message.Message):
    __slots__ = ("height", "hash", "timestamp_ms", "tx_count", "accepted_count", "state_root", "certificate_view", "signers", "tx_hashes")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    TX_COUNT_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_VIEW_FIELD_NUMBER: _ClassVar[int]
    SIGNERS_FIELD_NUMBER: _ClassVar[int]
    TX_HASHES_FIELD_NUMBER: _ClassVar[int]
    height: int
    hash: bytes
    timestamp_ms: int
    tx_count: int
    accepted_count: int
    state_root: bytes
    certificate_view: int
    signers: _containers.RepeatedScalarFieldContainer[str]
    tx_hashes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, height: _Optional[int] = ..., hash: _Optional[bytes] = ..., timestamp_ms: _Optional[int] = ..., tx_count: _Optional[int] = ..., accepted_count: _Optional[int] = ..., state_root: _Optional[bytes] = ..., certificate_view: _Optional[int] = ..., signers: _Optional[_Iterable[str]] = ..., tx_hashes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class TxBatch(_message.Message):
    __slots__ = ("txs",)
    TXS_FIELD_NUMBER: _ClassVar[int]
    txs: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, txs: _Optional[_Iterable[bytes]] = ...) -> None: ...

class Rejection(_message.Message):
    __slots__ = ("index", "tx_hash", "code")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    index: int
    tx_hash: bytes
    code: str
    def __init__(self, index: _Optional[int] = ..., tx_hash: _Optional[bytes] = ..., code: _Optional[str] = ...) -> None: ...

class SubmitSummary(_message.Message):
    __slots__ = ("received", "accepted", "codes", "rejections", "rejections_truncated")
    class CodesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    received: int
    accepted: int
    codes: _containers.ScalarMap[str, int]
    rejections: _containers.RepeatedCompositeFieldContainer[Rejection]
    rejections_truncated: bool
    def __init__(self, received: _Optional[int] = ..., accepted: _Optional[int] = ..., codes: _Optional[_Mapping[str, int]] = ..., rejections: _Optional[_Iterable[_Union[Rejection, _Mapping]]] = ..., rejections_truncated: _Optional[bool] = ...) -> None: ...

class StreamBlocksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StreamTradesRequest(_message.Message):
    __slots__ = ("market",)
    MARKET_FIELD_NUMBER: _ClassVar[int]
    market: str
    def __init__(self, market: _Optional[str] = ...) -> None: ...

class TradeInfo(_message.Message):
    __slots__ = ("trade_id", "price", "amount", "taker_side", "maker_order_id", "taker_order_id", "timestamp_ms")
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TAKER_SIDE_FIELD_NUMBER: _ClassVar[int]
    MAKER_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    TAKER_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    trade_id: int
    price: str
    amount: str
    taker_side: str
    maker_order_id: str
    taker_order_id: str
    timestamp_ms: int
    def __init__(self, trade_id: _Optional[int] = ..., price: _Optional[str] = ..., amount: _Optional[str] = ..., taker_side: _Optional[str] = ..., maker_order_id: _Optional[str] = ..., taker_order_id: _Optional[str] = ..., timestamp_ms: _Optional[int] = ...) -> None: ...

class TradeBatch(_message.Message):
    __slots__ = ("market", "height", "trades")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    market: str
    height: int
    trades: _containers.RepeatedCompositeFieldContainer[TradeInfo]
    def __init__(self, market: _Optional[str] = ..., height: _Optional[int] = ..., trades: _Optional[_Iterable[_Union[TradeInfo, _Mapping]]] = ...) -> None: ...

class StreamBookRequest(_message.Message):
    __slots__ = ("market",)
    MARKET_FIELD_NUMBER: _ClassVar[int]
    market: str
    def __init__(self, market: _Optional[str] = ...) -> None: ...

class BookUpdate(_message.Message):
    __slots__ = ("kind", "market", "sequence", "previous_sequence", "bids", "asks")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[BookUpdate.Kind]
        SNAPSHOT: _ClassVar[BookUpdate.Kind]
        DIFF: _ClassVar[BookUpdate.Kind]
    KIND_UNSPECIFIED: BookUpdate.Kind
    SNAPSHOT: BookUpdate.Kind
    DIFF: BookUpdate.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    MARKET_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    BIDS_FIELD_NUMBER: _ClassVar[int]
    ASKS_FIELD_NUMBER: _ClassVar[int]
    kind: BookUpdate.Kind
    market: str
    sequence: int
    previous_sequence: int
    bids: _containers.RepeatedCompositeFieldContainer[Level]
    asks: _containers.RepeatedCompositeFieldContainer[Level]
    def __init__(self, kind: _Optional[_Union[BookUpdate.Kind, str]] = ..., market: _Optional[str] = ..., sequence: _Optional[int] = ..., previous_sequence: _Optional[int] = ..., bids: _Optional[_Iterable[_Union[Level, _Mapping]]] = ..., asks: _Optional[_Iterable[_Union[Level, _Mapping]]] = ...) -> None: ...

class GetContractRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: bytes
    def __init__(self, id: _Optional[bytes] = ...) -> None: ...

class Htlc(_message.Message):
    __slots__ = ("id", "sender", "receiver", "asset", "amount", "hashlock", "expiry_ms", "status", "preimage")
    ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    HASHLOCK_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_MS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PREIMAGE_FIELD_NUMBER: _ClassVar[int]
    id: bytes
    sender: bytes
    receiver: bytes
    asset: str
    amount: str
    hashlock: bytes
    expiry_ms: int
    status: str
    preimage: bytes
    def __init__(self, id: _Optional[bytes] = ..., sender: _Optional[bytes] = ..., receiver: _Optional[bytes] = ..., asset: _Optional[str] = ..., amount: _Optional[str] = ..., hashlock: _Optional[bytes] = ..., expiry_ms: _Optional[int] = ..., status: _Optional[str] = ..., preimage: _Optional[bytes] = ...) -> None: ...

class Deal(_message.Message):
    __slots__ = ("id", "party_a", "party_b", "deliver_asset", "deliver_amount", "pay_asset", "pay_amount", "deadline_ms", "funded_a", "funded_b", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    PARTY_A_FIELD_NUMBER: _ClassVar[int]
    PARTY_B_FIELD_NUMBER: _ClassVar[int]
    DELIVER_ASSET_FIELD_NUMBER: _ClassVar[int]
    DELIVER_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAY_ASSET_FIELD_NUMBER: _ClassVar[int]
    PAY_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    FUNDED_A_FIELD_NUMBER: _ClassVar[int]
    FUNDED_B_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: bytes
    party_a: bytes
    party_b: bytes
    deliver_asset: str
    deliver_amount: str
    pay_asset: str
    pay_amount: str
    deadline_ms: int
    funded_a: bool
    funded_b: bool
    status: str
    def __init__(self, id: _Optional[bytes] = ..., party_a: _Optional[bytes] = ..., party_b: _Optional[bytes] = ..., deliver_asset: _Optional[str] = ..., deliver_amount: _Optional[str] = ..., pay_asset: _Optional[str] = ..., pay_amount: _Optional[str] = ..., deadline_ms: _Optional[int] = ..., funded_a: _Optional[bool] = ..., funded_b: _Optional[bool] = ..., status: _Optional[str] = ...) -> None: ...

class GetLightBlockRequest(_message.Message):
    __slots__ = ("height",)
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    height: int
    def __init__(self, height: _Optional[int] = ...) -> None: ...

class LightBlock(_message.Message):
    __slots__ = ("height", "header", "certificate", "state_height", "state_root")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    STATE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    height: int
    header: bytes
    certificate: bytes
    state_height: int
    state_root: bytes
    def __init__(self, height: _Optional[int] = ..., header: _Optional[bytes] = ..., certificate: _Optional[bytes] = ..., state_height: _Optional[int] = ..., state_root: _Optional[bytes] = ...) -> None: ...

class GetProofRequest(_message.Message):
    __slots__ = ("key", "height")
    KEY_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    key: str
    height: int
    def __init__(self, key: _Optional[str] = ..., height: _Optional[int] = ...) -> None: ...

class Proof(_message.Message):
    __slots__ = ("key", "height", "present", "value", "proof", "header", "certificate", "certified_height")
    KEY_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    CERTIFIED_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    key: str
    height: int
    present: bool
    value: bytes
    proof: bytes
    header: bytes
    certificate: bytes
    certified_height: int
    def __init__(self, key: _Optional[str] = ..., height: _Optional[int] = ..., present: _Optional[bool] = ..., value: _Optional[bytes] = ..., proof: _Optional[bytes] = ..., header: _Optional[bytes] = ..., certificate: _Optional[bytes] = ..., certified_height: _Optional[int] = ...) -> None: ...

class ListIbcClientsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetIbcClientRequest(_message.Message):
    __slots__ = ("client_id",)
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    def __init__(self, client_id: _Optional[str] = ...) -> None: ...

class IbcClient(_message.Message):
    __slots__ = ("id", "chain_id", "status", "latest_height", "latest_time_ms", "trusting_period_ms", "frozen_height", "next_sequence", "validators", "heights")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LATEST_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LATEST_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    TRUSTING_PERIOD_MS_FIELD_NUMBER: _ClassVar[int]
    FROZEN_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    NEXT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    HEIGHTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    chain_id: str
    status: str
    latest_height: int
    latest_time_ms: int
    trusting_period_ms: int
    frozen_height: int
    next_sequence: int
    validators: _containers.RepeatedScalarFieldContainer[bytes]
    heights: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, id: _Optional[str] = ..., chain_id: _Optional[str] = ..., status: _Optional[str] = ..., latest_height: _Optional[int] = ..., latest_time_ms: _Optional[int] = ..., trusting_period_ms: _Optional[int] = ..., frozen_height: _Optional[int] = ..., next_sequence: _Optional[int] = ..., validators: _Optional[_Iterable[bytes]] = ..., heights: _Optional[_Iterable[int]] = ...) -> None: ...

class IbcClientList(_message.Message):
    __slots__ = ("clients",)
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    clients: _containers.RepeatedCompositeFieldContainer[IbcClient]
    def __init__(self, clients: _Optional[_Iterable[_Union[IbcClient, _Mapping]]] = ...) -> None: ...

class ListIbcPacketsRequest(_message.Message):
    __slots__ = ("client_id", "kind", "source_client", "min_sequence", "limit")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CLIENT_FIELD_NUMBER: _ClassVar[int]
    MIN_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    kind: str
    source_client: str
    min_sequence: int
    limit: int
    def __init__(self, client_id: _Optional[str] = ..., kind: _Optional[str] = ..., source_client: _Optional[str] = ..., min_sequence: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class IbcPacket(_message.Message):
    __slots__ = ("source_chain_id", "source_client", "destination_chain_id", "destination_client", "sequence", "sender", "receiver", "asset", "amount", "amount_units", "decimals", "timeout_ms", "commitment_key", "receipt_key", "ack_key", "ack_error", "ack")
    SOURCE_CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CLIENT_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_CLIENT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_UNITS_FIELD_NUMBER: _ClassVar[int]
    DECIMALS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_KEY_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_KEY_FIELD_NUMBER: _ClassVar[int]
    ACK_KEY_FIELD_NUMBER: _ClassVar[int]
    ACK_ERROR_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    source_chain_id: str
    source_client: str
    destination_chain_id: str
    destination_client: str
    sequence: int
    sender: bytes
    receiver: bytes
    asset: str
    amount: str
    amount_units: str
    decimals: int
    timeout_ms: int
    commitment_key: str
    receipt_key: str
    ack_key: str
    ack_error: str
    ack: bytes
    def __init__(self, source_chain_id: _Optional[str] = ..., source_client: _Optional[str] = ..., destination_chain_id: _Optional[str] = ..., destination_client: _Optional[str] = ..., sequence: _Optional[int] = ..., sender: _Optional[bytes] = ..., receiver: _Optional[bytes] = ..., asset: _Optional[str] = ..., amount: _Optional[str] = ..., amount_units: _Optional[str] = ..., decimals: _Optional[int] = ..., timeout_ms: _Optional[int] = ..., commitment_key: _Optional[str] = ..., receipt_key: _Optional[str] = ..., ack_key: _Optional[str] = ..., ack_error: _Optional[str] = ..., ack: _Optional[bytes] = ...) -> None: ...

class IbcPacketList(_message.Message):
    __slots__ = ("packets",)
    PACKETS_FIELD_NUMBER: _ClassVar[int]
    packets: _containers.RepeatedCompositeFieldContainer[IbcPacket]
    def __init__(self, packets: _Optional[_Iterable[_Union[IbcPacket, _Mapping]]] = ...) -> None: ...
