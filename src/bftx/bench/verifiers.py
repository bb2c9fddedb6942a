"""Ed25519 verifiers from PyPI, compared on speed and on bftx's rules, in one run.

    python -m bftx.bench.verifiers [--rounds 5] [--count 3000] [--json]

Every validator verifies every tx signature once, so the verifier's cost is
the floor of a validator's cost per tx (`verify_limit_tps` in `bftx bench`).
This script times each available verifier on the same signed message
(median of ``--rounds`` interleaved rounds of ``--count`` verifications),
reports each one's ratio to PyNaCl, and runs each over the Wycheproof Ed25519
vectors (tests/data/wycheproof_ed25519_test.json): a verifier that disagrees
with one vector does not keep bftx's rules (canonical S < L, canonical R and
public key encodings, small-order keys refused, one valid signature per
message) and is not fit for a node, however fast it is.

Candidates: PyNaCl (libsodium, what `bftx.crypto.verify` uses),
`cryptography` (OpenSSL), and, when installed, the Rust ed25519-zebra
bindings (``pip install py-ed25519-zebra-bindings``; not a dependency).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bftx import crypto

Verifier = Callable[[bytes, bytes, bytes], bool]  # (public key, message, signature)

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "data" / "wycheproof_ed25519_test.json"
MESSAGE_BYTES = 120  # about a signed order's size


def verify_openssl(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def available_verifiers() -> dict[str, Verifier]:
    verifiers: dict[str, Verifier] = {"pynacl": crypto.verify, "openssl": verify_openssl}
    try:
        import ed25519_zebra  # optional: pip install py-ed25519-zebra-bindings
    except ImportError:
        return verifiers

    def verify_zebra(public_key: bytes, message: bytes, signature: bytes) -> bool:
        if len(public_key) != crypto.PUBLIC_KEY_BYTES or len(signature) != crypto.SIGNATURE_BYTES:
            return False
        try:
            return bool(ed25519_zebra.ed_verify(signature, message, public_key))
        except (ValueError, TypeError):
            return False

    verifiers["zebra"] = verify_zebra
    return verifiers


def load_vectors(path: Path = VECTORS) -> list[dict[str, Any]]:
    """Each Wycheproof EddsaVerify case as {tc_id, public_key, message, signature, valid, flags}."""
    document = json.loads(path.read_text())
    cases = []
    for group in document["testGroups"]:
        public_key = bytes.fromhex(group["publicKey"]["pk"])
        for test in group["tests"]:
            cases.append(
                {
                    "tc_id": test["tcId"],
                    "public_key": public_key,
                    "message": bytes.fromhex(test["msg"]),
                    "signature": bytes.fromhex(test["sig"]),
                    "valid": test["result"] == "valid",
                    "flags": test["flags"],
                    "comment": test["comment"],
                }
            )
    return cases


def disagreements(verify: Verifier, cases: list[dict[str, Any]]) -> list[int]:
    """The tcIds of the vectors ``verify`` answers differently from Wycheproof."""
    return [
        case["tc_id"]
        for case in cases
        if verify(case["public_key"], case["message"], case["signature"]) != case["valid"]
    ]


def time_verifiers(verifiers: dict[str, Verifier], rounds: int, count: int) -> dict[str, float]:
    """Median µs per verification of each verifier, rounds interleaved so load hits all alike."""
    key = crypto.KeyPair.generate()
    message = os.urandom(MESSAGE_BYTES)
    signature = key.sign(message)
    samples: dict[str, list[float]] = {name: [] for name in verifiers}
    for _ in range(rounds):
        for name, verify in verifiers.items():
            started = time.perf_counter()
            for _ in range(count):
                verify(key.public_key, message, signature)
            samples[name].append((time.perf_counter() - started) / count * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def run(rounds: int, count: int) -> dict[str, Any]:
    verifiers = available_verifiers()
    cases = load_vectors()
    verify_us = time_verifiers(verifiers, rounds, count)
    report: dict[str, Any] = {"vectors": len(cases), "verifiers": {}}
    for name in verifiers:
        wrong = disagreements(verifiers[name], cases)
        report["verifiers"][name] = {
            "verify_us": round(verify_us[name], 1),
            "speed_vs_pynacl": round(verify_us["pynacl"] / verify_us[name], 2),
            "wycheproof_disagreements": wrong,
            "keeps_the_rules": not wrong,
        }
    fit = [name for name, row in report["verifiers"].items() if row["keeps_the_rules"]]
    report["chosen"] = min(fit, key=lambda name: verify_us[name])
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument(
        "--count", type=int, default=3000, help="verifications per round (default 3000)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    arguments = parser.parse_args(argv)
    if arguments.rounds < 1 or arguments.count < 1:
        parser.error("--rounds and --count must be positive")
    report = run(arguments.rounds, arguments.count)
    if arguments.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['vectors']} Wycheproof Ed25519 vectors")
    for name, row in report["verifiers"].items():
        wrong = row["wycheproof_disagreements"]
        verdict = "keeps the rules" if not wrong else f"disagrees on tcId {wrong}"
        print(
            f"{name:8} {row['verify_us']:7.1f} µs/verify  "
            f"x{row['speed_vs_pynacl']:.2f} vs pynacl  {verdict}"
        )
    print(f"fastest that keeps the rules: {report['chosen']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
