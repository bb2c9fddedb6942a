"""The relayer's configuration file: two chains, the path between them, and the loop's pace.

A TOML file (``bftx relayer --example-config`` prints an annotated one)::

    key = "relayer.json"                 # the relayer's own key, registered on both chains

    [[chain]]
    urls = ["http://127.0.0.1:8700"]     # REST API of one or more nodes of chain A
    client_id = "client-0"               # A's light client of B

    [[chain]]
    urls = ["http://127.0.0.1:8800"]
    client_id = "client-0"               # B's light client of A
    identity = "auditor.json"            # optional: signs reads where reads are permissioned

Relative paths are read from the configuration file's directory. Every
mistake is a `ConfigError` that names the file and the field.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bftx.errors import ConfigError

POLL_INTERVAL_MS = 200  # how often the relayer asks each chain for its height
CLEAR_INTERVAL_MS = 10_000  # a full pass over everything pending at least this often
REFRESH_FRACTION = 0.5  # update a client once this share of its trusting period has passed
# Packets relayed in one pass of one direction. Both directions may submit a batch to one
# chain at once, from one account, and a node admits nonces at most nonce_ahead_max (256)
# past the account's committed one: two batches and their client updates stay below that.
BATCH_PACKETS_MAX = 120
REQUESTS_IN_FLIGHT_MAX = 8  # concurrent proof fetches against one node
TX_TIMEOUT_S = 30.0  # how long the relayer waits for one of its txs to be committed
CHAINS = 2

EXAMPLE = """\
# bftx relayer configuration (TOML). Relative paths are read from this file's directory.
key = "relayer.json"               # the relayer's own key; register its address on both chains

[[chain]]                          # chain A
urls = ["http://127.0.0.1:8700"]   # REST API of one or more of its nodes (tried in order)
client_id = "client-0"             # A's light client of B (what `bftx ibc client create` printed)
# identity = "reader.json"         # signs reads, where reads are permissioned (default: key)

[[chain]]                          # chain B
urls = ["http://127.0.0.1:8800"]
client_id = "client-0"             # B's light client of A

[relay]                            # all optional; the defaults are shown
poll_interval_ms = 200             # how often each chain's height is read (new block: relay)
clear_interval_ms = 10000          # a full pass over everything pending at least this often
refresh_fraction = 0.5             # update a client once this share of its trusting period passed
batch_packets_max = 120            # packets relayed per pass and direction (at most 120)
# metrics_port = 9800              # Prometheus metrics on http://metrics_host:metrics_port/metrics
# metrics_host = "127.0.0.1"
"""


@dataclass(frozen=True, slots=True)
class ChainEndpoint:
    """One side of the path: where its nodes answer and its light client of the other side."""

    urls: tuple[str, ...]
    client_id: str
    identity: Path | None = None  # a key file signing reads (None: the relayer's key)


@dataclass(frozen=True, slots=True)
class RelayerConfig:
    key: Path
    chains: tuple[ChainEndpoint, ChainEndpoint]
    poll_interval_ms: int = POLL_INTERVAL_MS
    clear_interval_ms: int = CLEAR_INTERVAL_MS
    refresh_fraction: float = REFRESH_FRACTION
    batch_packets_max: int = BATCH_PACKETS_MAX
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None


def load_config(path: Path) -> RelayerConfig:
    """Read and check the relayer configuration in ``path``."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file (`bftx relayer --example-config > {path}` writes a template)"
        ) from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it: {error.strerror}") from error
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    return parse_config(document, path.parent, str(path))


def parse_config(document: dict[str, Any], base: Path, where: str = "config") -> RelayerConfig:
    """A `RelayerConfig` from a parsed document; relative paths are joined to ``base``."""
    _only(document, {"key", "chain", "relay"}, where)
    key = _path(_require(document, "key", str, where), base)
    chains = document.get("chain")
    if not isinstance(chains, list) or len(chains) != CHAINS:
        raise ConfigError(
            f"{where}: needs exactly two [[chain]] tables (the two ends of the path), "
            f"found {len(chains) if isinstance(chains, list) else 0}"
        )
    endpoints = tuple(
        _endpoint(chain, base, f"{where}: chain {index + 1}") for index, chain in enumerate(chains)
    )
    relay = document.get("relay", {})
    if not isinstance(relay, dict):
        raise ConfigError(f"{where}: [relay] must be a table")
    section = f"{where}: [relay]"
    _only(
        relay,
        {
            "poll_interval_ms",
            "clear_interval_ms",
            "refresh_fraction",
            "batch_packets_max",
            "metrics_port",
            "metrics_host",
        },
        section,
    )
    poll = _positive_int(relay, "poll_interval_ms", POLL_INTERVAL_MS, section)
    clear = _positive_int(relay, "clear_interval_ms", CLEAR_INTERVAL_MS, section)
    if clear < poll:
        raise ConfigError(f"{section}: clear_interval_ms must be at least poll_interval_ms")
    fraction = relay.get("refresh_fraction", REFRESH_FRACTION)
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise ConfigError(f"{section}: refresh_fraction must be a number between 0 and 1")
    batch = _positive_int(relay, "batch_packets_max", BATCH_PACKETS_MAX, section)
    if batch > BATCH_PACKETS_MAX:
        raise ConfigError(
            f"{section}: batch_packets_max must be at most {BATCH_PACKETS_MAX} (a node admits "
            "a limited run of one account's nonces ahead of its committed one)"
        )
    port = relay.get("metrics_port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
        raise ConfigError(f"{section}: metrics_port must be an integer")
    if port is not None and not 0 <= port <= 65_535:
        raise ConfigError(f"{section}: metrics_port must be 0..65535 (0: any free port)")
    host = relay.get("metrics_host", "127.0.0.1")
    if not isinstance(host, str) or not host:
        raise ConfigError(f"{section}: metrics_host must be a host name or address")
    return RelayerConfig(
        key=key,
        chains=(endpoints[0], endpoints[1]),
        poll_interval_ms=poll,
        clear_interval_ms=clear,
        refresh_fraction=float(fraction),
        batch_packets_max=batch,
        metrics_host=host,
        metrics_port=port,
    )


def render_config(config: RelayerConfig) -> str:
    """The TOML text of ``config`` (what the demo and the tests write for the relayer process)."""
    lines = [f"key = {_quote(str(config.key))}", ""]
    for chain in config.chains:
        lines.append("[[chain]]")
        lines.append("urls = [" + ", ".join(_quote(url) for url in chain.urls) + "]")
        lines.append(f"client_id = {_quote(chain.client_id)}")
        if chain.identity is not None:
            lines.append(f"identity = {_quote(str(chain.identity))}")
        lines.append("")
    lines.append("[relay]")
    lines.append(f"poll_interval_ms = {config.poll_interval_ms}")
    lines.append(f"clear_interval_ms = {config.clear_interval_ms}")
    lines.append(f"refresh_fraction = {config.refresh_fraction}")
    lines.append(f"batch_packets_max = {config.batch_packets_max}")
    lines.append(f"metrics_host = {_quote(config.metrics_host)}")
    if config.metrics_port is not None:
        lines.append(f"metrics_port = {config.metrics_port}")
    return "\n".join(lines) + "\n"


def _endpoint(chain: object, base: Path, where: str) -> ChainEndpoint:
    if not isinstance(chain, dict):
        raise ConfigError(f"{where}: must be a table with urls and client_id")
    _only(chain, {"urls", "url", "client_id", "identity"}, where)
    if "url" in chain and "urls" in chain:
        raise ConfigError(f"{where}: give url or urls, not both")
    urls = chain.get("urls", [chain["url"]] if "url" in chain else None)
    if not isinstance(urls, list) or not urls:
        raise ConfigError(f"{where}: urls must list the REST API of at least one node")
    for url in urls:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: {url!r} is not an http:// or https:// URL")
    client_id = _require(chain, "client_id", str, where)
    if not client_id:
        raise ConfigError(f"{where}: client_id is empty")
    identity = chain.get("identity")
    if identity is not None and not isinstance(identity, str):
        raise ConfigError(f"{where}: identity must be the path of a key file")
    return ChainEndpoint(
        urls=tuple(url.rstrip("/") for url in urls),
        client_id=client_id,
        identity=_path(identity, base) if identity is not None else None,
    )


def _only(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown field {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )


def _require(table: dict[str, Any], name: str, kind: type, where: str) -> Any:
    if name not in table:
        raise ConfigError(f"{where}: {name} is missing")
    value = table[name]
    if not isinstance(value, kind):
        raise ConfigError(f"{where}: {name} must be a {kind.__name__}, not {value!r}")
    return value


def _positive_int(table: dict[str, Any], name: str, default: int, where: str) -> int:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{where}: {name} must be a positive integer, not {value!r}")
    return value


def _path(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
