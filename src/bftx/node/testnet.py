"""A local testnet: keys, genesis, TLS certificates and one configuration per node.

`create_testnet` writes everything a cluster on 127.0.0.1 needs into one
directory: ``genesis.json``; ``node0``, ``node1``, ... (``config.toml``,
``key.json``, a copy of the genesis); and ``accounts/`` with the key files of
the registrar, the issuers, the fee account and funded trading accounts
(``accounts.json`` lists their addresses). Keys of test accounts are written
in the clear: a testnet is for testing.

The exchange has the seed's assets and market: BTC (8 decimals), USD (6
decimals) and BTC/USD with a lot of 0.0001 BTC and a tick of $0.01 per BTC.
"""

from __future__ import annotations

import json
import random
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bftx.access import AccessPolicy
from bftx.chain import Genesis, Validator
from bftx.crypto import KeyPair, save_key
from bftx.errors import ConfigError
from bftx.node.config import NodeConfig, PeerConfig, render_config
from bftx.p2p.identity import create_certificate

CHAIN_ID = "bftx-testnet"
BTC_LOT_SATS = 10_000  # 0.0001 BTC
USD_TICK_MICROS = 1  # per lot per tick: $0.01 per BTC
P2P_PORT, API_PORT, METRICS_PORT = 26600, 8700, 9700
GRPC_PORT = 50600
TRADER_BTC = 100 * 10**8
TRADER_USD = 10_000_000 * 10**6


@dataclass(frozen=True, slots=True)
class Testnet:
    directory: Path
    genesis: Genesis
    nodes: tuple[NodeConfig, ...]
    accounts: dict[str, KeyPair]

    def node_home(self, index: int) -> Path:
        return self.nodes[index].home


# Free ports are drawn below the kernel's ephemeral range: a port the kernel hands out for
# binding to port 0 comes from the range it also gives outgoing connections as their local
# port, so a client connecting anywhere could take it before the node bound it (cluster tests
# failed with "address already in use" that way). Below the range only another explicit
# choice can collide, and a candidate is taken only if it binds.
_DRAW_LOW = 10_000
_DRAW_ATTEMPTS = 1_000


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Distinct ports that were free a moment ago, below the ephemeral range where possible."""
    high = _ephemeral_low() - 1
    if high - _DRAW_LOW < 100 * count:  # a system whose ephemeral range starts low
        return _kernel_ports(count, host)
    draw = random.SystemRandom()
    sockets: list[socket.socket] = []
    try:
        for _ in range(_DRAW_ATTEMPTS):
            if len(sockets) == count:
                break
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                listener.bind((host, draw.randint(_DRAW_LOW, high)))
            except OSError:
                listener.close()
                continue
            sockets.append(listener)
        if len(sockets) < count:
            return _kernel_ports(count, host)
        return [listener.getsockname()[1] for listener in sockets]
    finally:
        for listener in sockets:
            listener.close()


def _ephemeral_low() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _kernel_ports(count: int, host: str) -> list[int]:
    """Ports the kernel picks (bound and released together, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind((host, 0))
            sockets.append(listener)
        return [listener.getsockname()[1] for listener in sockets]
    finally:
        for listener in sockets:
            listener.close()


def create_testnet(
    directory: Path,
    validators: int,
    followers: int = 0,
    traders: int = 20,
    host: str = "127.0.0.1",
    hosts: list[str] | None = None,
    chain_id: str = CHAIN_ID,
    genesis_time_ms: int = 0,
    fixed_ports: bool = False,
    permissioned_reads: bool = False,
) -> Testnet:
    """Write a testnet of ``validators`` + ``followers`` nodes; ``hosts`` gives each node its own IP.

    Node ``i`` gets free ports by default; with ``fixed_ports`` it gets the
    well-known ones: p2p ``26600 + i``, API ``8700 + i``, metrics ``9700 + i``,
    gRPC ``50600 + i``. With ``permissioned_reads`` the API needs signed
    requests and shows an account to its owner and to the auditor
    (``accounts/auditor.json``) only.
    """
    if validators < 1:
        raise ConfigError("a testnet needs at least one validator")
    if directory.exists() and any(directory.iterdir()):
        raise ConfigError(f"{directory}: not empty; choose a new directory or remove it")
    count = validators + followers
    node_hosts = hosts if hosts is not None else [host] * count
    if len(node_hosts) != count:
        raise ConfigError(f"{count} nodes need {count} hosts, got {len(node_hosts)}")
    directory.mkdir(parents=True, exist_ok=True)
    names = [f"node{index}" for index in range(count)]
    keys = [KeyPair.generate() for _ in range(count)]
    members = [
        Validator(name, key.public_key, create_certificate(key, name).decode())
        for name, key in zip(names, keys, strict=True)
    ]
    accounts = {
        name: KeyPair.generate()
        for name in ("registrar", "btc-issuer", "usd-issuer", "fees", "alice", "bob")
    }
    accounts.update({f"trader{index:03d}": KeyPair.generate() for index in range(traders)})
    access = AccessPolicy()
    if permissioned_reads:
        accounts["auditor"] = KeyPair.generate()
        access = AccessPolicy(permissioned=True, auditors=frozenset({accounts["auditor"].address}))
    genesis = Genesis(
        chain_id=chain_id,
        genesis_time_ms=genesis_time_ms,
        validators=tuple(members[:validators]),
        exchange=exchange_document(chain_id, accounts),
        followers=tuple(members[validators:]),
        access=access,
    )
    genesis.save(directory / "genesis.json")
    if fixed_ports:
        ports = [
            port
            for index in range(count)
            for port in (P2P_PORT + index, API_PORT + index, METRICS_PORT + index)
        ] + [GRPC_PORT + index for index in range(count)]
    else:
        ports = free_ports(4 * count, "127.0.0.1")  # the last `count` are gRPC ports
    configs = []
    for index, (name, key) in enumerate(zip(names, keys, strict=True)):
        home = directory / name
        home.mkdir()
        save_key(home / "key.json", key)
        genesis.save(home / "genesis.json")
        peers = tuple(
            PeerConfig(names[other], keys[other].public_key, node_hosts[other], ports[3 * other])
            for other in range(count)
            if other != index
            and other < validators  # everyone dials validators; followers only dial
        )
        config = NodeConfig(
            home=home,
            name=name,
            mode="validator" if index < validators else "follower",
            key_file=home / "key.json",
            genesis_file=home / "genesis.json",
            data_dir=home / "data",
            p2p_host=node_hosts[index],
            p2p_port=ports[3 * index],
            peers=peers,
            api_host=node_hosts[index],
            api_port=ports[3 * index + 1],
            metrics_host=node_hosts[index],
            metrics_port=ports[3 * index + 2],
            grpc_port=ports[3 * count + index],
        )
        (home / "config.toml").write_text(render_config(config))
        configs.append(config)
    accounts_directory = directory / "accounts"
    for name, key in accounts.items():
        save_key(accounts_directory / f"{name}.json", key)
    (directory / "accounts.json").write_text(
        json.dumps({name: key.address.hex() for name, key in accounts.items()}, indent=2) + "\n"
    )
    return Testnet(directory, genesis, tuple(configs), accounts)


def exchange_document(chain_id: str, accounts: dict[str, KeyPair]) -> dict[str, Any]:
    funded = [name for name in accounts if name in ("alice", "bob") or name.startswith("trader")]
    return {
        "chain_id": chain_id,
        "access": "permissioned",
        "assets": [
            {"symbol": "BTC", "decimals": 8, "issuers": [accounts["btc-issuer"].address.hex()]},
            {"symbol": "USD", "decimals": 6, "issuers": [accounts["usd-issuer"].address.hex()]},
        ],
        "markets": [
            {
                "symbol": "BTC/USD",
                "base": "BTC",
                "quote": "USD",
                "tick_size": USD_TICK_MICROS,
                "lot_size": BTC_LOT_SATS,
                "min_lots": 1,
                "maker_fee_bps": 2,
                "taker_fee_bps": 5,
                "fee_account": accounts["fees"].address.hex(),
            }
        ],
        "accounts": [
            {
                "address": accounts[name].address.hex(),
                "balances": {"BTC": str(TRADER_BTC), "USD": str(TRADER_USD)},
            }
            for name in funded
        ],
        "registrars": [accounts["registrar"].address.hex()],
    }
