"""``bftx keys``: create and inspect Ed25519 key files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bftx.cli.output import print_error
from bftx.client.keys import load_key_file
from bftx.crypto import KeyPair, save_key
from bftx.errors import ConfigError


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser("keys", help="create and inspect key files")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    generate = actions.add_parser("generate", help="write a new key file (mode 0600)")
    generate.add_argument(
        "--out",
        type=Path,
        required=True,
        help="path of the new key file, in an existing directory; never overwritten",
    )
    generate.set_defaults(handler=_generate)

    show = actions.add_parser("show", help="print a key file's public key and address")
    show.add_argument("path", type=Path, help="a key file (JSON with the seed and public key)")
    show.set_defaults(handler=_show)


def _describe(key: KeyPair) -> dict[str, str]:
    return {"public_key": key.public_key.hex(), "address": key.address.hex()}


def new_key_file(path: Path) -> KeyPair:
    """A new key, written to ``path`` (mode 0600); `ConfigError` if ``path`` exists or is a
    directory, if its directory does not exist (it is not created), or if it cannot be written."""
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory; give the path of the new key file in it")
    if not path.parent.is_dir():
        raise ConfigError(f"{path}: no directory {path.parent}; create it first")
    key = KeyPair.generate()
    try:
        save_key(path, key)
    except OSError as error:
        raise ConfigError(f"{path}: cannot write the key file: {error.strerror}") from error
    return key


def _generate(arguments: argparse.Namespace) -> int:
    try:
        key = new_key_file(arguments.out)
    except ConfigError as error:
        print_error(str(error))
        return 1
    print(json.dumps({"path": str(arguments.out), **_describe(key)}, indent=2))
    return 0


def _show(arguments: argparse.Namespace) -> int:
    try:
        key = load_key_file(arguments.path)
    except ConfigError as error:  # KeyFileError: missing, unreadable, not a key, too open
        print_error(str(error), getattr(error, "code", None))
        return 1
    print(json.dumps(_describe(key), indent=2))
    return 0
