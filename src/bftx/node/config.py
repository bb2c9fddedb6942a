"""A node's configuration file (TOML): who it is, where it listens, whom it dials.

The node's TLS identity is its Ed25519 key (``key_file``) with the
certificate that genesis pins for it; there is no separate TLS key.

Paths in the file are relative to the node's home directory. `load_config`
checks every field and raises `ConfigError` naming the one that is wrong;
`render_config` writes the file `bftx testnet init` produces.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bftx import crypto, limits
from bftx.errors import ConfigError

MODES = ("validator", "follower")
INTAKE_QUEUE_MS_MIN = 100  # below a block interval nothing could be admitted under load
INTAKE_QUEUE_MS_MAX = 60_000
# The keys `parse_config` reads, by section: any other key is refused (a mistyped one would
# otherwise leave its setting silently at the default).
TOP_KEYS = (
    "name",
    "mode",
    "key_file",
    "genesis_file",
    "data_dir",
    "log_level",
    "batch_delay_ms",
    "p2p",
    "api",
    "metrics",
)
P2P_KEYS = ("host", "port", "peers")
PEER_KEYS = ("name", "public_key", "host", "port")
API_KEYS = ("host", "port", "grpc_port", "intake_queue_ms")
METRICS_KEYS = ("host", "port")


@dataclass(frozen=True, slots=True)
class PeerConfig:
    name: str
    public_key: bytes
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class NodeConfig:
    home: Path
    name: str
    mode: str
    key_file: Path
    genesis_file: Path
    data_dir: Path
    p2p_host: str
    p2p_port: int
    peers: tuple[PeerConfig, ...]
    api_host: str
    api_port: int
    metrics_host: str
    metrics_port: int
    log_level: str = "info"
    batch_delay_ms: int = 5
    grpc_port: int | None = None  # [api] grpc_port: serve gRPC there too (off when absent)
    # [api] intake_queue_ms: a client tx is refused (overloaded) when the queue is past this
    # much committing time (bftx.api.intake)
    intake_queue_ms: int = limits.intake_queue_ms
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_validator(self) -> bool:
        return self.mode == "validator"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "node.db"


def load_config(home: Path) -> NodeConfig:
    path = home / "config.toml"
    try:
        document = tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigError(
            f"{path}: cannot read the node configuration: {error.strerror}"
        ) from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text ({error.reason})") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    return parse_config(home, document, str(path))


def parse_config(home: Path, document: dict[str, Any], where: str) -> NodeConfig:
    _known(document, TOP_KEYS, where, "at the top level")
    p2p = _table(document, "p2p", where)
    api = _table(document, "api", where)
    metrics = _table(document, "metrics", where)
    _known(p2p, P2P_KEYS, where, "in [p2p]")
    _known(api, API_KEYS, where, "in [api]")
    _known(metrics, METRICS_KEYS, where, "in [metrics]")
    mode = _text(document, "mode", where, default="validator")
    if mode not in MODES:
        raise ConfigError(f"{where}: mode must be one of {', '.join(MODES)}")
    peers = p2p.get("peers", [])
    if not isinstance(peers, list):
        raise ConfigError(f"{where}: p2p.peers must be an array of tables")
    log_level = _text(document, "log_level", where, default="info")
    if log_level not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"{where}: log_level must be debug, info, warning or error")
    return NodeConfig(
        home=home,
        name=_text(document, "name", where),
        mode=mode,
        key_file=home / _text(document, "key_file", where, default="key.json"),
        genesis_file=home / _text(document, "genesis_file", where, default="genesis.json"),
        data_dir=home / _text(document, "data_dir", where, default="data"),
        p2p_host=_text(p2p, "host", f"{where} [p2p]", default="127.0.0.1"),
        p2p_port=_port(p2p, "port", f"{where} [p2p]"),
        peers=tuple(
            _peer(peer, f"{where} [[p2p.peers]] #{index + 1}") for index, peer in enumerate(peers)
        ),
        api_host=_text(api, "host", f"{where} [api]", default="127.0.0.1"),
        api_port=_port(api, "port", f"{where} [api]"),
        metrics_host=_text(metrics, "host", f"{where} [metrics]", default="127.0.0.1"),
        metrics_port=_port(metrics, "port", f"{where} [metrics]"),
        log_level=log_level,
        batch_delay_ms=_integer(document, "batch_delay_ms", where, 0, 1_000, default=5),
        grpc_port=_port(api, "grpc_port", f"{where} [api]") if "grpc_port" in api else None,
        intake_queue_ms=_integer(
            api,
            "intake_queue_ms",
            f"{where} [api]",
            INTAKE_QUEUE_MS_MIN,
            INTAKE_QUEUE_MS_MAX,
            default=limits.intake_queue_ms,
        ),
    )


def render_config(config: NodeConfig) -> str:
    """The TOML text of ``config`` (paths relative to its home)."""

    def relative(path: Path) -> str:
        return str(path.relative_to(config.home))

    lines = [
        f'name = "{config.name}"',
        f'mode = "{config.mode}"',
        f'key_file = "{relative(config.key_file)}"',
        f'genesis_file = "{relative(config.genesis_file)}"',
        f'data_dir = "{relative(config.data_dir)}"',
        f'log_level = "{config.log_level}"',
        f"batch_delay_ms = {config.batch_delay_ms}",
        "",
        "[p2p]",
        f'host = "{config.p2p_host}"',
        f"port = {config.p2p_port}",
        "",
        "[api]",
        f'host = "{config.api_host}"',
        f"port = {config.api_port}",
        *([f"grpc_port = {config.grpc_port}"] if config.grpc_port is not None else []),
        f"intake_queue_ms = {config.intake_queue_ms}",
        "",
        "[metrics]",
        f'host = "{config.metrics_host}"',
        f"port = {config.metrics_port}",
    ]
    for peer in config.peers:
        lines += [
            "",
            "[[p2p.peers]]",
            f'name = "{peer.name}"',
            f'public_key = "{peer.public_key.hex()}"',
            f'host = "{peer.host}"',
            f"port = {peer.port}",
        ]
    return "\n".join(lines) + "\n"


def _known(document: dict[str, Any], keys: tuple[str, ...], where: str, section: str) -> None:
    unknown = [key for key in document if key not in keys]
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} {section} (valid keys: {', '.join(keys)})"
        )


def _table(document: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{key}] must be a table")
    return value


def _text(document: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = document.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value


def _integer(
    document: dict[str, Any], key: str, where: str, low: int, high: int, default: int | None = None
) -> int:
    value = document.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{where}: {key} must be an integer in [{low}, {high}]")
    return value


def _port(document: dict[str, Any], key: str, where: str) -> int:
    return _integer(document, key, where, 0, 65_535)


def _peer(document: Any, where: str) -> PeerConfig:
    if not isinstance(document, dict):
        raise ConfigError(f"{where}: must be a table")
    _known(document, PEER_KEYS, where, "in [[p2p.peers]]")
    key_text = _text(document, "public_key", where)
    try:
        public_key = bytes.fromhex(key_text)
    except ValueError:
        public_key = b""
    if len(public_key) != crypto.PUBLIC_KEY_BYTES:
        raise ConfigError(f"{where}: public_key must be {crypto.PUBLIC_KEY_BYTES} bytes in hex")
    return PeerConfig(
        name=_text(document, "name", where),
        public_key=public_key,
        host=_text(document, "host", where),
        port=_port(document, "port", where),
    )
