"""bftx's signature rules, pinned by the Wycheproof Ed25519 vectors and by forgeries of our own.

The rules (docs/benchmarks.md, "Signature verification"): S must be below the
group order L, R and the public key must be canonical encodings, small-order
public keys and R are refused, so every message has one valid signature per
key. `bftx.crypto.verify` is the only verifier a node uses; every verifier
the benchmark offers as a candidate is checked against the same vectors.
"""

from __future__ import annotations

import pytest

from bftx import crypto
from bftx.bench.verifiers import available_verifiers, disagreements, load_vectors

L = 2**252 + 27742317777372353535851937790883648493  # the prime order of the base point

# The eight points of small order, canonically encoded (y, with the sign of x in the top bit).
SMALL_ORDER_POINTS = [
    bytes.fromhex(text)
    for text in (
        "0100000000000000000000000000000000000000000000000000000000000000",  # identity
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
        "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
        "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    )
]


def test_the_node_verifier_agrees_with_every_wycheproof_vector() -> None:
    cases = load_vectors()
    assert len(cases) == 151
    assert sum(case["valid"] for case in cases) > 0 and not all(case["valid"] for case in cases)
    assert disagreements(crypto.verify, cases) == []


def test_the_vector_check_fails_for_a_lenient_verifier() -> None:
    def accepts_everything(_public_key: bytes, _message: bytes, _signature: bytes) -> bool:
        return True

    assert disagreements(accepts_everything, load_vectors())


@pytest.mark.parametrize("name", ["pynacl", "openssl"])
def test_every_dependency_verifier_keeps_the_rules(name: str) -> None:
    assert disagreements(available_verifiers()[name], load_vectors()) == []


@pytest.mark.parametrize("point", SMALL_ORDER_POINTS)
def test_a_small_order_public_key_is_refused_even_for_the_trivial_forgery(point: bytes) -> None:
    # With A and R of small order and S = 0, a verifier that skips the check
    # accepts [0]B = R + [k]A for many k: a signature forged without any key.
    forged = point + bytes(32)
    assert not crypto.verify(point, b"any message", forged)


def test_a_signature_with_s_plus_l_is_refused() -> None:
    key = crypto.KeyPair.generate()
    signature = key.sign(b"order")
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + L).to_bytes(32, "little")
    assert crypto.verify(key.public_key, b"order", signature)
    assert not crypto.verify(key.public_key, b"order", malleated)


def test_a_non_canonical_public_key_encoding_is_refused() -> None:
    # y = p + 1 encodes the same point as y = 1 (the identity) but is not canonical.
    p = 2**255 - 19
    non_canonical = (p + 1).to_bytes(32, "little")
    assert not crypto.verify(non_canonical, b"m", non_canonical + bytes(32))
