"""Key files and testnet directories as the SDK and the ``bftx`` command read them.

`load_key_file` says first whether a file is a key file at all, and only then
whether its permissions are safe: ``bftx keys show README.md`` must say "not a
key file", not "run chmod 600 README.md". Every failure is a `KeyFileError`
(a `ClientError` and a `ConfigError`).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from bftx.client.errors import ClientError, KeyFileError
from bftx.crypto import KeyPair, load_key
from bftx.errors import ConfigError

KEY_FILE_BYTES_MAX = 4096  # a key file is ~200 bytes; anything far larger is something else

_KEY_FILE_SHAPE = '{"type": "ed25519", "public_key": <hex>, "seed": <hex>}'


def load_key_file(path: str | Path) -> KeyPair:
    """The key pair in ``path`` (written by ``bftx keys generate`` or ``bftx testnet init``)."""
    path = Path(path)
    if not path.exists():
        raise KeyFileError(
            f"{path}: no such key file (create one with `bftx keys generate --out {path}`; "
            "a testnet's account keys are in its accounts/ directory)",
            "key_file_missing",
        )
    if path.is_dir():
        raise KeyFileError(f"{path}: is a directory, not a key file", "not_a_key_file")
    try:
        with path.open("rb") as handle:
            head = handle.read(KEY_FILE_BYTES_MAX + 1)
    except OSError as error:
        raise KeyFileError(
            f"{path}: cannot read the key file: {error.strerror}", "key_file_unreadable"
        ) from error
    if not _looks_like_key_file(head):
        raise KeyFileError(
            f"{path}: not a bftx key file (expected the JSON that `bftx keys generate` writes: "
            f"{_KEY_FILE_SHAPE})",
            "not_a_key_file",
        )
    try:
        return load_key(path)  # permissions, then the seed against the public key
    except ConfigError as error:
        code = "key_file_too_open" if "too open" in str(error) else "not_a_key_file"
        raise KeyFileError(str(error), code) from error


def _looks_like_key_file(data: bytes) -> bool:
    if len(data) > KEY_FILE_BYTES_MAX:
        return False
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(document, dict) and "seed" in document and "public_key" in document


def url_from_testnet(testnet: str | Path, node: int = 0) -> str:
    """The REST API URL of node ``node`` of a directory made by ``bftx testnet init`` or ``bftx demo``."""
    path = Path(testnet) / f"node{node}" / "config.toml"
    try:
        api = tomllib.loads(path.read_text())["api"]
        return f"http://{api.get('host', '127.0.0.1')}:{int(api['port'])}"
    except FileNotFoundError as error:
        raise ClientError(
            f"{path}: no such file; is {testnet} a testnet directory (made by `bftx testnet init` "
            f"or `bftx demo`) with a node{node}?",
            "bad_testnet",
        ) from error
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise ClientError(
            f"{path}: not a testnet node configuration ({error})", "bad_testnet"
        ) from error


def account_key_file(testnet: str | Path, account: str) -> Path:
    """The key file of a testnet account by name (``alice``, ``bob``, ``trader000``...)."""
    path = Path(testnet) / "accounts" / f"{account}.json"
    if not path.exists():
        names = sorted(p.stem for p in (Path(testnet) / "accounts").glob("*.json"))
        known = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "") if names else "none"
        raise KeyFileError(
            f"{path}: no key file for account {account!r} in {testnet} (accounts: {known})",
            "key_file_missing",
        )
    return path
