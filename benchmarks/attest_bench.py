"""Sign and verify throughput of evidence tokens, against bare `cryptography` on the same bytes.

The peer is the signature itself: `cryptography` signing / verifying the exact
Sig_structure bytes our token signs, with the same key. `verify_ratio` = (our
verify_evidence per second) / (bare verify per second): 1.0 would mean decoding, the
profile and the closed schema cost nothing; `parse_verify_ratio` is the same for what the
verifier runs per token (attest.evidence.parse, then EvidenceToken.verify), which also
yields the routing fields; the goal is >= 0.8 (they cost under a quarter
of the signature check). Token size is for the typical token of attest.sample (all four
measurements, a 16-byte cti) with the nonces the verifier issues: 32 bytes made from a
relying party's transaction (attest.commitment.transaction_nonce), else 16 random bytes.
The size's limit is 450 bytes; `token_to_limit` is the ratio to it.

Run: .venv/bin/python benchmarks/attest_bench.py [--seconds S]  (one process, bounded)
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from attest import cose
from attest.commitment import TXN_SALT_BYTES, transaction_nonce
from attest.evidence import Evidence, parse, sign_evidence, verify_evidence
from attest.keys import EDDSA, ES256, SigningKey
from attest.sample import sample_evidence


def rates(fns: dict[str, Callable[[], object]], seconds: float) -> dict[str, float]:
    """Calls per second of each function, measured interleaved.

    The machine is shared, so load changes from second to second. Each function runs in
    batches of about 10 ms, taking turns, and the best batch of each counts: both sides of
    every ratio see the same conditions, and the best batch is the least disturbed one.
    """
    batch: dict[str, int] = {}
    for name, fn in fns.items():
        n = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            dt = time.perf_counter() - t0
            if dt > 0.01:
                break
            n *= 2
        batch[name] = max(1, int(n * 0.01 / dt))
    best = dict.fromkeys(fns, float("inf"))
    deadline = time.perf_counter() + seconds * len(fns)
    while time.perf_counter() < deadline:
        for name, fn in fns.items():
            n = batch[name]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            best[name] = min(best[name], (time.perf_counter() - t0) / n)
    return {name: 1.0 / t for name, t in best.items()}


def typical(txn: bool) -> Evidence:
    nonce = (
        transaction_nonce(bytes(TXN_SALT_BYTES), hashlib.sha256(b"txn").digest())
        if txn
        else hashlib.sha256(b"nonce").digest()[:16]
    )
    return sample_evidence(nonce=nonce, cti=bytes(range(16)), now=1_790_000_000)


def bare_pair(key: SigningKey, tbs: bytes, signature: bytes) -> tuple[Callable[[], object], ...]:
    """`cryptography` signing and verifying the token's Sig_structure, nothing else."""
    priv, pub = key._key, key.public._key
    if isinstance(priv, ec.EllipticCurvePrivateKey):
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        algo = ec.ECDSA(hashes.SHA256())
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        return (lambda: priv.sign(tbs, algo)), (lambda: pub.verify(der, tbs, algo))
    assert isinstance(priv, ed25519.Ed25519PrivateKey)
    assert isinstance(pub, ed25519.Ed25519PublicKey)
    return (lambda: priv.sign(tbs)), (lambda: pub.verify(signature, tbs))


def measure(alg: int, name: str, ev: Evidence, seconds: float) -> dict[str, float]:
    key = SigningKey.generate(alg)
    token = sign_evidence(ev, key)
    keys = {key.kid: key.public}
    msg = cose.decode_sign1(token)
    bare_sign, bare_verify = bare_pair(key, msg.to_be_signed(), msg.signature)
    payload = msg.payload
    r = rates(
        {
            "verify": lambda: verify_evidence(token, keys),
            "parse_verify": lambda: parse(token).verify(keys),
            "bare_verify": bare_verify,
            "sign": lambda: sign_evidence(ev, key),
            "bare_sign": bare_sign,
            "decode": lambda: Evidence.decode(payload),
        },
        seconds,
    )
    print(
        f"{name}: verify_evidence {r['verify']:9.0f}/s   bare verify {r['bare_verify']:9.0f}/s"
        f"   ratio {r['verify'] / r['bare_verify']:.3f}"
    )
    print(
        f"{name}: parse+verify    {r['parse_verify']:9.0f}/s   (the verifier's one read and"
        f" signature check)   ratio {r['parse_verify'] / r['bare_verify']:.3f}"
    )
    print(
        f"{name}: sign_evidence   {r['sign']:9.0f}/s   bare sign   {r['bare_sign']:9.0f}/s"
        f"   ratio {r['sign'] / r['bare_sign']:.3f}"
    )
    print(
        f"{name}: Evidence.decode {r['decode']:9.0f}/s   ({1e6 / r['decode']:.1f} us per payload)"
    )
    r["token_bytes"] = len(token)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=1.5, help="time per measured function")
    args = ap.parse_args()
    ev = typical(txn=True)
    figures: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for alg, name in ((ES256, "es256"), (EDDSA, "eddsa")):
        r = measure(alg, name, ev, args.seconds)
        sizes[name] = int(r["token_bytes"])
        figures[f"verify_ratio_{name}"] = f"{r['verify'] / r['bare_verify']:.3f}"
        figures[f"parse_verify_ratio_{name}"] = f"{r['parse_verify'] / r['bare_verify']:.3f}"
        figures[f"sign_ratio_{name}"] = f"{r['sign'] / r['bare_sign']:.3f}"
        figures[f"verify_per_s_{name}"] = f"{r['verify']:.0f}"
        figures[f"bare_verify_per_s_{name}"] = f"{r['bare_verify']:.0f}"
        figures[f"sign_per_s_{name}"] = f"{r['sign']:.0f}"
        figures[f"bare_sign_per_s_{name}"] = f"{r['bare_sign']:.0f}"
        figures[f"decode_us_{name}"] = f"{1e6 / r['decode']:.1f}"
    no_txn = len(sign_evidence(typical(txn=False), SigningKey.generate(ES256)))
    print(
        f"typical token: {sizes['es256']} bytes ES256 ({sizes['eddsa']} EdDSA) bound to a "
        f"transaction, {no_txn} bytes without; payload {len(ev.encode())} bytes; goal <= 450"
    )
    figures["token_bytes"] = str(sizes["es256"])
    figures["token_bytes_no_txn"] = str(no_txn)
    figures["token_to_limit"] = f"{sizes['es256'] / 450:.3f}"
    print("BENCH attest " + " ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
