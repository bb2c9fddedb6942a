from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bftx import crypto
from bftx.errors import ConfigError


def test_signature_verifies_and_tampering_fails() -> None:
    key = crypto.KeyPair.generate()
    signature = key.sign(b"order")
    assert crypto.verify(key.public_key, b"order", signature)
    assert not crypto.verify(key.public_key, b"order!", signature)
    other = crypto.KeyPair.generate()
    assert not crypto.verify(other.public_key, b"order", signature)
    broken = bytes([signature[0] ^ 1]) + signature[1:]
    assert not crypto.verify(key.public_key, b"order", broken)
    assert not crypto.verify(key.public_key, b"order", signature[:63])
    assert not crypto.verify(b"short", b"order", signature)


def test_key_from_seed_is_deterministic() -> None:
    seed = bytes(range(32))
    assert crypto.KeyPair.from_seed(seed) == crypto.KeyPair.from_seed(seed)
    with pytest.raises(ConfigError):
        crypto.KeyPair.from_seed(b"short")


def test_address_is_derived_from_the_public_key() -> None:
    one, two = crypto.KeyPair.generate(), crypto.KeyPair.generate()
    assert len(one.address) == crypto.ADDRESS_BYTES
    assert one.address == crypto.address_of(one.public_key)
    assert one.address != two.address


def test_seed_is_not_in_repr() -> None:
    key = crypto.KeyPair.generate()
    assert key.seed.hex() not in repr(key)


def test_key_file_round_trip_is_private(tmp_path: Path) -> None:
    key = crypto.KeyPair.generate()
    path = tmp_path / "keys" / "validator.json"
    crypto.save_key(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert crypto.load_key(path) == key
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        crypto.save_key(path, crypto.KeyPair.generate())


def test_readable_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    crypto.save_key(path, crypto.KeyPair.generate())
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="too open"):
        crypto.load_key(path)


def test_damaged_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(descriptor, b'{"seed": "zz"}')
    os.close(descriptor)
    with pytest.raises(ConfigError, match="not a bftx key file"):
        crypto.load_key(path)


def test_merkle_root_commits_to_order_and_content() -> None:
    leaves = [b"a", b"b", b"c"]
    root = crypto.merkle_root(leaves)
    assert root == crypto.merkle_root(list(leaves))
    assert root != crypto.merkle_root([b"b", b"a", b"c"])
    assert root != crypto.merkle_root([b"a", b"b"])
    assert root != crypto.merkle_root([b"a", b"b", b"c", b"c"])
    assert crypto.merkle_root([]) == crypto.sha256(b"")
    # a leaf can never pose as an inner node
    left, right = crypto.merkle_root([b"x"]), crypto.merkle_root([b"y"])
    assert crypto.merkle_root([left + right]) != crypto.merkle_root([b"x", b"y"])
