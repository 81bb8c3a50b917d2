"""Generate the edgeproof evidence profile v1 token vectors (good/ and bad/) and context.json.

Why a generator: every file is synthetic (our own keys, our own sample claims), so anyone can
regenerate and review the set; the bytes are reproducible because the keys are files here
(keys/, made once if missing) and every signature is deterministic: Ed25519 by definition
(RFC 8032), ECDSA by RFC 6979 (then low-S, as every edgeproof signer normalises).

Run from the repository root:
    PYTHONPATH=. .venv/bin/python tests/vectors/edgeproof-v1/make.py          # (re)write
    PYTHONPATH=. .venv/bin/python tests/vectors/edgeproof-v1/make.py --check  # compare only

Each bad file is named by the reason code the verifier's appraisal must report for it
(verifier/appraisal.py, ARCHITECTURE.md step 7), optionally followed by "+" and a variant.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from attest import cbor, cose
from attest.challenge import derive_challenge
from attest.evidence import (
    CONSENT,
    ERASURE,
    EXP,
    AntiClone,
    Consent,
    ConsentMethod,
    DocumentAuth,
    Evidence,
    Liveness,
    LivenessMethod,
    MeasuredItem,
    Outcome,
)
from attest.keys import ED25519, ES256, P256_N, SigningKey
from attest.sample import sample_evidence, sample_measurements

HERE = Path(__file__).resolve().parent
NOW = 1_790_000_000
NONCE = hashlib.sha256(b"edgeproof-v1 vectors nonce").digest()
CTI = bytes(range(16))
ISSUED_AT, EXPIRES_AT = NOW - 10, NOW + 290
CLOCK_SKEW_S = 60
OTHER_NONCE = hashlib.sha256(b"another nonce").digest()


class Signer:
    """A device key that signs deterministically (RFC 6979 for ECDSA), low-S."""

    def __init__(self, pem: bytes) -> None:
        self.key = SigningKey.from_private_pem(pem)
        self._priv = serialization.load_pem_private_key(pem, password=None)

    @property
    def alg(self) -> int:
        return self.key.alg

    @property
    def kid(self) -> bytes:
        return self.key.kid

    def sign(self, data: bytes) -> bytes:
        if isinstance(self._priv, ec.EllipticCurvePrivateKey):
            der = self._priv.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
            r, s = decode_dss_signature(der)
            return r.to_bytes(32, "big") + min(s, P256_N - s).to_bytes(32, "big")
        assert isinstance(self._priv, ed25519.Ed25519PrivateKey)
        return self._priv.sign(data)


def load_key(name: str, alg: int, write: bool) -> Signer:
    """keys/<name>.pem (made once if missing) and its public COSE_Key and PEM beside it."""
    path = HERE / "keys" / f"{name}.pem"
    if not path.exists():
        if not write:
            raise SystemExit(f"missing {path}")
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(SigningKey.generate(alg).private_pem())
    signer = Signer(path.read_bytes())
    if write:
        (HERE / "keys" / f"{name}.pub.pem").write_bytes(signer.key.public.pem())
        (HERE / "keys" / f"{name}.cose_key").write_bytes(signer.key.public.cose_key_bytes())
    return signer


def envelope(protected: dict[int, Any], payload: bytes, key: Signer, **kw: Any) -> bytes:
    """A COSE_Sign1 with any headers (RFC 9052 section 4.2), to break the strict profile."""
    pb = cbor.encode(protected)
    sig = key.sign(cose.sig_structure(pb, payload))
    body = [pb, kw.get("unprotected", {}), payload, sig]
    return cbor.encode(body) if kw.get("untagged") else cbor.encode(cbor.Tag(18, body))


def typical(**changes: Any) -> Evidence:
    ev = sample_evidence(nonce=NONCE, cti=CTI, now=NOW)
    return dataclasses.replace(ev, **changes) if changes else ev


def claims_with(**edits: Any) -> bytes:
    """The typical claims map with labels replaced (None deletes), encoded as given."""
    claims = typical().to_claims()
    for label, value in edits.items():
        key = int(label.removeprefix("L"))
        if value is None:
            del claims[key]
        else:
            claims[key] = value
    return cbor.encode(claims)


def tok(ev: Evidence, key: Signer) -> bytes:
    return cose.sign1(ev.encode(), key)


def liveness(method: LivenessMethod, nonce: bytes, result: Outcome, step: int | None = None) -> Any:
    return Liveness(method, derive_challenge(nonce), result, step)


def vectors(dev: Signer, ed: Signer, stranger: Signer) -> dict[str, bytes]:
    """Every vector by its path under this directory."""
    payload = typical().encode()
    return {
        "good/es256-typical.cbor": tok(typical(), dev),
        "good/ed25519-typical.cbor": cose.sign1(payload, ed),
        "good/es256-rp-commitment.cbor": tok(typical(rp_commitment_matched=True), dev),
        **identity_vectors(dev, ed, stranger),
        **claims_vectors(dev),
        **appraisal_vectors(dev),
    }


def identity_vectors(dev: Signer, ed: Signer, stranger: Signer) -> dict[str, bytes]:
    """Envelope, enrolment, algorithm and signature (RFC 9052 sections 3.1, 4.2, 4.4)."""
    good = tok(typical(), dev)
    payload = typical().encode()
    high_s = bytearray(good)
    high_s[-32:] = (P256_N - int.from_bytes(good[-32:], "big")).to_bytes(32, "big")
    flipped = bytearray(good)
    flipped[-1] ^= 1
    other = good[:-66].replace(NONCE, OTHER_NONCE) + good[-66:]
    headers = {1: dev.alg, 4: dev.kid}
    return {
        "bad/evidence.malformed+untagged.cbor": envelope(headers, payload, dev, untagged=True),
        "bad/evidence.malformed+crit-header.cbor": envelope({**headers, 2: [4]}, payload, dev),
        "bad/evidence.malformed+unprotected-header.cbor": envelope(
            headers, payload, dev, unprotected={5: b"x"}
        ),
        "bad/evidence.malformed+truncated.cbor": good[:-1],
        "bad/evidence.malformed+trailing-byte.cbor": good + b"\x00",
        "bad/device.unknown.cbor": cose.sign1(payload, stranger),
        "bad/evidence.alg-not-pinned.cbor": envelope({1: ED25519, 4: dev.kid}, payload, ed),
        "bad/evidence.bad-signature.cbor": bytes(flipped),
        "bad/evidence.bad-signature+high-s.cbor": bytes(high_s),
        "bad/evidence.bad-signature+other-payload.cbor": other,
    }


def claims_vectors(dev: Signer) -> dict[str, bytes]:
    """Signed claims outside profile v1's closed schema or its one encoding (RFC 8949 4.2.1)."""
    payload = typical().encode()
    return {
        "bad/evidence.claims-invalid+unknown-claim.cbor": cose.sign1(claims_with(L99=1), dev),
        "bad/evidence.claims-invalid+missing-claim.cbor": cose.sign1(
            claims_with(**{f"L{CONSENT}": None}), dev
        ),
        "bad/evidence.claims-invalid+validity-too-long.cbor": cose.sign1(
            claims_with(**{f"L{EXP}": NOW + 301}), dev
        ),
        "bad/evidence.claims-invalid+erasure-incomplete.cbor": cose.sign1(
            claims_with(**{f"L{ERASURE}": [148, 147, 2]}), dev
        ),
        "bad/evidence.claims-invalid+non-canonical.cbor": cose.sign1(
            payload.replace(b"\x06\x1a", b"\x06\x1b\x00\x00\x00\x00", 1), dev
        ),
        "bad/evidence.claims-invalid+not-cbor.cbor": cose.sign1(b"\xff" + payload, dev),
    }


def appraisal_vectors(dev: Signer) -> dict[str, bytes]:
    """Valid, signed claims that the appraisal refuses against context.json."""
    models = sample_measurements()
    active, passed = LivenessMethod.ACTIVE_NONCE, Outcome.PASSED
    chip = AntiClone.CHIP_AUTHENTICATION
    expired = sample_evidence(nonce=NONCE, cti=CTI, now=NOW - 400)
    early = sample_evidence(nonce=NONCE, cti=CTI, now=ISSUED_AT - CLOCK_SKEW_S - 1, validity=300)
    evs = {
        "nonce.unknown": typical(nonce=OTHER_NONCE, liveness=liveness(active, NONCE, passed)),
        "evidence.expired": expired,
        "evidence.not-yet-valid": sample_evidence(nonce=NONCE, cti=CTI, now=NOW + CLOCK_SKEW_S + 1),
        "evidence.before-challenge": early,
        "reference.unknown-release": typical(
            measurements={**models, MeasuredItem.RELEASE_MANIFEST: bytes(32)}
        ),
        "reference.unknown-model": typical(
            measurements={**models, MeasuredItem.EMBEDDING_MODEL: bytes(32)}
        ),
        "document.not-authenticated": typical(
            document=DocumentAuth(Outcome.FAILED, chip, passed, False)
        ),
        "document.expired": typical(document=DocumentAuth(passed, chip, passed, True)),
        "liveness.demo-method": typical(
            liveness=liveness(LivenessMethod.ACTIVE_FIXED_DEMO, NONCE, passed)
        ),
        "liveness.wrong-challenge": typical(liveness=liveness(active, OTHER_NONCE, passed)),
        "liveness.failed": typical(liveness=liveness(active, NONCE, Outcome.FAILED, 0)),
        "consent.missing": typical(consent=Consent(False, ConsentMethod.OPERATOR_CONFIRMED)),
    }
    return {f"bad/{code}.cbor": tok(ev, dev) for code, ev in evs.items()}


def context(dev: Signer, ed: Signer) -> dict[str, Any]:
    """The verifier's state every vector is appraised against (one enrolled key per file)."""
    models = sample_measurements()
    release = models.pop(MeasuredItem.RELEASE_MANIFEST)
    return {
        "profile": "urn:edgeproof:v1",
        "now": NOW,
        "devices": [
            {"kid": dev.kid.hex(), "alg": dev.alg, "cose_key": "keys/device-es256.cose_key"},
            {"kid": ed.kid.hex(), "alg": ed.alg, "cose_key": "keys/device-ed25519.cose_key"},
        ],
        "nonce": {
            "nonce": NONCE.hex(),
            "issued_at": ISSUED_AT,
            "expires_at": EXPIRES_AT,
            "consumed": False,
            "liveness_method": int(LivenessMethod.ACTIVE_NONCE),
            "challenge": [g.value for g in derive_challenge(NONCE)],
        },
        "cti_seen": False,
        "references": {release.hex(): sorted(d.hex() for d in models.values())},
        "policy": {
            "id": "edgeproof-production-v1",
            "liveness_method": int(LivenessMethod.ACTIVE_NONCE),
            "clock_skew_s": CLOCK_SKEW_S,
            "reject_expired_document": True,
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the files, write nothing")
    args = ap.parse_args()
    write = not args.check
    dev = load_key("device-es256", ES256, write)
    ed = load_key("device-ed25519", ED25519, write)
    stranger = load_key("unenrolled-es256", ES256, write)
    files = {k: v for k, v in vectors(dev, ed, stranger).items()}
    files["context.json"] = (json.dumps(context(dev, ed), indent=2) + "\n").encode()
    differ = []
    for rel, data in sorted(files.items()):
        path = HERE / rel
        if write:
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
        elif not path.exists() or path.read_bytes() != data:
            differ.append(rel)
    if write:
        print(f"wrote {len(files)} files under {HERE}")
    for rel in differ:
        print(f"differs: {rel}", file=sys.stderr)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
