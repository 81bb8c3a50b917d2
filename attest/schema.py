"""Profile v1 as text for people: the CDDL (RFC 8610), the claim table, diagnostic notation.

Generated from the code's own registry and constants, so the specification in
docs/attestation.md cannot drift from what the code signs and accepts: a test regenerates
these blocks, compares them with the document, and validates tokens against the CDDL with
an independent validator.
"""

from __future__ import annotations

import hashlib
from enum import IntEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from attest import cbor, cose, evidence
from attest.challenge import MAX_STEPS
from attest.commitment import TXN_SALT_BYTES, transaction_nonce
from attest.evidence import (
    GESTURE_BY_CODE,
    REGISTRY,
    AntiClone,
    ConsentMethod,
    DebugStatus,
    Decision,
    IntendedUse,
    LivenessMethod,
    MeasuredItem,
    Outcome,
    ScoreBand,
)
from attest.keys import ALG_NAMES, ED25519, PublicKey, SigningKey
from attest.sample import sample_evidence


def _choice(cls: type[IntEnum]) -> str:
    return " / ".join(str(int(m)) for m in cls)


def _comment(cls: type[IntEnum]) -> str:
    return ", ".join(f"{int(m)} {m.name.lower()}" for m in cls)


CLAIM_CDDL: dict[int, str] = {
    evidence.EAT_NONCE: f"bstr .size ({evidence.NONCE_MIN}..{evidence.NONCE_MAX})",
    evidence.IAT: "time-s",
    evidence.EXP: "time-s",
    evidence.CTI: f"bstr .size ({evidence.CTI_MIN}..{evidence.CTI_MAX})",
    evidence.EAT_PROFILE: f'"{evidence.PROFILE_V1}"',
    evidence.SWNAME: "ident",
    evidence.SWVERSION: "[ident]",
    evidence.MEASUREMENTS: f"[[{evidence.CONTENT_FORMAT_CBOR}, bstr .cbor measurement-map]]",
    evidence.DBGSTAT: "dbgstat",
    evidence.INTUSE: "intuse",
    evidence.DECISION: "[decision, score-band]",
    evidence.THRESHOLD: "[threshold-id: ident, far-exp: -12..-1]",
    evidence.LIVENESS: "[liveness-method, [1*8 gesture], liveness-result, failed-step / null]",
    evidence.DOCUMENT: "[passive: outcome, anticlone-method, anticlone: outcome, expired: bool]",
    evidence.CONSENT: "[recorded: bool, consent-method]",
    evidence.ERASURE: "[captured: frames, erased: frames, seconds-before-iat: time-s]",
    evidence.RP_COMMITMENT: "bool",
}


def cddl() -> str:
    """The CDDL of an evidence token, claim by claim from the registry."""
    width = max(len(str(s.label)) for s in REGISTRY) + 6
    lines = []
    for s in REGISTRY:
        key = f"{'' if s.required else '? '}{s.label} =>"
        lines.append(f"  {key:<{width}} {CLAIM_CDDL[s.label]},  ; {s.name}")
    algs = " / ".join(str(a) for a in ALG_NAMES)
    alg_names = ", ".join(f"{a} {n}" for a, n in ALG_NAMES.items())
    items = "\n".join(
        f"  {'' if m is MeasuredItem.RELEASE_MANIFEST else '? '}{int(m)} => sha256,"
        f"  ; {m.name.lower()}"
        for m in MeasuredItem
    )
    gestures = ", ".join(f"{c} {g.value}" for c, g in GESTURE_BY_CODE.items())
    liveness_results = " / ".join(str(int(o)) for o in Outcome if o is not Outcome.NOT_SUPPORTED)
    return f"""\
; edgeproof evidence profile v1 ({evidence.PROFILE_V1}): a CWT (RFC 8392) with EAT claims
; (RFC 9711) in a tagged COSE_Sign1 (RFC 9052), deterministic CBOR (RFC 8949 section 4.2.1).
evidence-token = #6.18([
  protected: bstr .cbor protected-header,
  unprotected: {{}},
  payload: bstr .cbor evidence-claims,
  signature: bstr .size 64,
])

protected-header = {{
  1 => alg,                ; alg, the one pinned for the key at enrolment
  4 => bstr .size 32,      ; kid: RFC 9679 SHA-256 thumbprint of the COSE_Key
}}
alg = {algs}  ; {alg_names} (-8: only keys pinned to it before RFC 9864)

evidence-claims = {{
{chr(10).join(lines)}
}}

measurement-map = {{
{items}
}}
sha256 = bstr .size 32
time-s = 0..{2**40}
ident = tstr .regexp "[A-Za-z0-9][A-Za-z0-9._+-]{{0,31}}"
frames = 0..{evidence.MAX_FRAMES}
failed-step = 0..{MAX_STEPS - 1}
dbgstat = {_choice(DebugStatus)}  ; {_comment(DebugStatus)}
intuse = {_choice(IntendedUse)}  ; {_comment(IntendedUse)}
decision = {_choice(Decision)}  ; {_comment(Decision)}
score-band = {_choice(ScoreBand)}  ; {_comment(ScoreBand)}
outcome = {_choice(Outcome)}  ; {_comment(Outcome)}
liveness-result = {liveness_results}  ; an outcome, never "not supported"
anticlone-method = {_choice(AntiClone)}  ; {_comment(AntiClone)}
liveness-method = {_choice(LivenessMethod)}  ; {_comment(LivenessMethod)}
consent-method = {_choice(ConsentMethod)}  ; {_comment(ConsentMethod)}
gesture = {" / ".join(str(c) for c in GESTURE_BY_CODE)}  ; {gestures}
"""


def claims_table() -> str:
    """The registry as a Markdown table: label, name, CBOR type, kind of data, meaning."""
    rows = [
        "| label | name | CBOR (CDDL) | required | kind of data | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for s in REGISTRY:
        rows.append(
            f"| {s.label} | `{s.name}` | `{CLAIM_CDDL[s.label]}` | "
            f"{'yes' if s.required else 'no'} | {s.data_kind} | {s.meaning} |"
        )
    return "\n".join(rows)


class Embedded:
    """A byte string holding CBOR, shown decoded as << ... >> (RFC 8610 appendix G.3)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def diag(value: Any, indent: int = 0) -> str:
    """CBOR diagnostic notation (RFC 8949 section 8) of a decoded value, one entry a line."""
    pad = "  " * (indent + 1)
    if isinstance(value, Embedded):
        return f"<< {diag(value.value, indent)} >>"
    if isinstance(value, cbor.Tag):
        return f"{value.tag}({diag(value.value, indent)})"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return f"h'{value.hex()}'"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        if all(not isinstance(v, list | dict | cbor.Tag | Embedded) for v in value):
            return "[" + ", ".join(diag(v) for v in value) + "]"
        inner = ",\n".join(pad + diag(v, indent + 1) for v in value)
        return "[\n" + inner + "\n" + "  " * indent + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = ",\n".join(f"{pad}{diag(k)}: {diag(v, indent + 1)}" for k, v in value.items())
        return "{\n" + inner + "\n" + "  " * indent + "}"
    raise TypeError(f"no diagnostic notation for {type(value).__name__}")


def example_token() -> tuple[bytes, PublicKey]:
    """The specification's example: the sample evidence, signed with a published example key.

    Ed25519 signatures are deterministic (RFC 8032 section 5.1.6), so the same bytes come out
    every time and the document can be checked byte for byte. The key is derived from a
    public label: it is an example, and no verifier may ever enrol it.
    """
    seed = hashlib.sha256(b"edgeproof example key: published, never enrol it").digest()
    key = SigningKey(ED25519, ed25519.Ed25519PrivateKey.from_private_bytes(seed))
    # A challenge bound to a relying party's transaction: the nonce commits to it.
    ev = sample_evidence(
        nonce=transaction_nonce(
            hashlib.sha256(b"example salt").digest()[:TXN_SALT_BYTES],
            hashlib.sha256(b"example transaction").digest(),
        ),
        cti=bytes(range(16)),
        now=1_790_000_000,
    )
    return evidence.sign_evidence(ev, key), key.public


def diag_token(token: bytes) -> str:
    """A COSE_Sign1 in diagnostic notation, with its embedded CBOR shown as << ... >>."""
    msg = cose.decode_sign1(token)
    claims = cbor.decode(msg.payload)
    if isinstance(claims, dict) and evidence.MEASUREMENTS in claims:
        fmt, raw = claims[evidence.MEASUREMENTS][0]
        claims[evidence.MEASUREMENTS] = [[fmt, Embedded(cbor.decode(raw))]]
    body = [
        Embedded(cbor.decode(msg.protected_bytes)),
        msg.unprotected,
        Embedded(claims),
        msg.signature,
    ]
    return diag(cbor.Tag(cose.COSE_SIGN1_TAG, body))


def hex_lines(data: bytes, width: int = 32) -> str:
    return "\n".join(data[i : i + width].hex() for i in range(0, len(data), width))
