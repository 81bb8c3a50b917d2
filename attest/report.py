"""What a token says, claim by claim, for auditors (`edgeproof attest inspect`).

`describe` never trusts the token: it decodes the COSE_Sign1 structurally (RFC 9052),
names every header and claim, says what kind of data each holds, and lists every way the
token departs from the strict profile as a finding with its stable reason code. A claim
outside the closed registry is a privacy finding: it is reported, never shown as if it
belonged. With keys, the signature is checked too.

Pure (no I/O, no clock): the command-line glue prints the report as text or JSON.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from attest import cbor, cose, ear, evidence, manifest
from attest.errors import AttestError, DecodeError, PrivacyError
from attest.evidence import REGISTRY_BY_LABEL, Evidence
from attest.keys import ALG_NAMES

Kind = Literal["evidence", "ear", "release-manifest", "unknown"]
Severity = Literal["error", "privacy"]

# COSE header labels (IANA COSE Header Parameters registry; RFC 9052 section 3.1).
HEADER_NAMES = {
    1: ("alg", "signature algorithm"),
    2: ("crit", "header parameters the verifier must understand"),
    3: ("content type", "media type of the payload"),
    4: ("kid", "key id: RFC 9679 SHA-256 thumbprint of the signer's COSE_Key"),
    5: ("IV", "initialisation vector"),
    6: ("Partial IV", "partial initialisation vector"),
}

EAR_CLAIMS: dict[int, tuple[str, str, str]] = {
    ear.L_PROFILE: (
        "eat_profile",
        "the EAR profile (and draft version) this result follows",
        "identifier",
    ),
    ear.L_IAT: ("iat", "when the verifier issued this result", "time"),
    ear.L_EXP: ("exp", "after this time the result must not be accepted", "time"),
    ear.L_STATUS: ("ear_status", "overall trust tier (draft-ietf-rats-ear-04)", "outcome"),
    ear.L_VERIFIER_ID: ("ear_verifier_id", "who appraised: developer and build", "identifier"),
    ear.L_NONCE: ("eat_nonce", "the nonce of the appraised evidence, echoed", "random bytes"),
    ear.L_SUBMODS: (
        "submods",
        "status, trust vector, policy ids, nonce and face-match decision",
        "outcome",
    ),
    ear.L_EXT_RESULT: (
        ear.J_EXT_RESULT,
        "appraisal id, SHA-256 of the evidence, device key thumbprint, transaction hash and salt",
        "identifier and digests",
    ),
    # Bare values of results issued under the 2023 profile before draft-ietf-rats-ear-04.
    ear.L_APPRAISAL_ID: (
        "edgeproof.appraisal-id",
        "the verifier's id for this appraisal",
        "identifier",
    ),
    ear.L_EVIDENCE_DIGEST: ("edgeproof.evidence-digest", "SHA-256 of the evidence token", "digest"),
    ear.L_DEVICE_KID: (
        "edgeproof.device-kid",
        "thumbprint of the device key that signed the evidence",
        "digest",
    ),
    ear.L_TXN_HASH: (
        "edgeproof.txn-hash",
        "relying party's transaction hash, echoed",
        "digest chosen by the relying party",
    ),
    ear.L_TXN_SALT: (
        "edgeproof.txn-salt",
        "salt the verifier made eat_nonce from, with the transaction hash",
        "random bytes",
    ),
}


@dataclass(frozen=True)
class Entry:
    """One header parameter or claim, named and explained."""

    label: int | str
    name: str
    meaning: str
    data_kind: str
    value: Any  # JSON-ready
    text: str  # one line for people

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "name": self.name,
            "meaning": self.meaning,
            "data_kind": self.data_kind,
            "value": self.value,
        }


@dataclass(frozen=True)
class Finding:
    """A departure from the profile, with the same reason code the verifier would give."""

    code: str
    message: str
    severity: Severity = "error"

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "severity": self.severity}


@dataclass(frozen=True)
class TokenReport:
    size: int
    tagged: bool
    kind: Kind
    protected: tuple[Entry, ...]
    unprotected: tuple[Entry, ...]
    claims: tuple[Entry, ...]
    signature: bytes
    findings: tuple[Finding, ...]
    signature_checked: bool = False
    signature_valid: bool = False
    payload_size: int = 0

    @property
    def ok(self) -> bool:
        """Well-formed under the profile (and validly signed when keys were given)."""
        return not self.findings and (self.signature_valid or not self.signature_checked)

    @property
    def privacy_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "privacy")

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "kind": self.kind,
            "size": self.size,
            "payload_size": self.payload_size,
            "tagged": self.tagged,
            "protected": [e.to_json() for e in self.protected],
            "unprotected": [e.to_json() for e in self.unprotected],
            "claims": [e.to_json() for e in self.claims],
            "signature": {
                "bytes": self.signature.hex(),
                "checked": self.signature_checked,
                "valid": self.signature_valid if self.signature_checked else None,
            },
            "findings": [f.to_json() for f in self.findings],
        }


def plain(value: Any) -> Any:
    """A decoded CBOR value as JSON-ready data: bytes as hex, map keys as text."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, cbor.Tag):
        return {"tag": value.tag, "value": plain(value.value)}
    return value


def _kind_of(value: Any) -> str:
    """What kind of data an unregistered value is, without trusting its label."""
    if isinstance(value, bytes):
        return f"byte string of {len(value)} bytes"
    if isinstance(value, str):
        return f"text of {len(value)} characters"
    if isinstance(value, bool) or value is None:
        return "simple value"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, list):
        return f"array of {len(value)} items"
    if isinstance(value, dict):
        return f"map of {len(value)} entries"
    return type(value).__name__


def _time(t: int) -> str:
    try:
        return _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "out of range"


def _short(v: Any, limit: int = 96) -> str:
    s = v if isinstance(v, str) else v.hex() if isinstance(v, bytes) else repr(plain(v))
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _header_entries(header: dict[Any, Any]) -> tuple[Entry, ...]:
    out = []
    for label, value in header.items():
        name, meaning = HEADER_NAMES.get(label, (f"unknown ({label})", "not part of the profile"))
        if label == cose.HDR_ALG and isinstance(value, int):
            text = f"{ALG_NAMES.get(value, 'unsupported')} ({value})"
        else:
            text = _short(value)
        out.append(Entry(label, name, meaning, "header parameter", plain(value), text))
    return tuple(out)


# -- evidence claims, rendered from the typed object -------------------------------------


def _evidence_values(ev: Evidence) -> dict[int, tuple[Any, str]]:
    lv, doc = ev.liveness, ev.document
    meas = {m.name.lower(): d.hex() for m, d in sorted(ev.measurements.items())}
    out: dict[int, tuple[Any, str]] = {
        evidence.EAT_NONCE: (ev.nonce.hex(), f"{ev.nonce.hex()} ({len(ev.nonce)} bytes)"),
        evidence.IAT: (ev.iat, f"{ev.iat} ({_time(ev.iat)})"),
        evidence.EXP: (ev.exp, f"{ev.exp} ({_time(ev.exp)}, {ev.exp - ev.iat} s after iat)"),
        evidence.CTI: (ev.cti.hex(), ev.cti.hex()),
        evidence.EAT_PROFILE: (ev.profile, ev.profile),
        evidence.SWNAME: (ev.swname, ev.swname),
        evidence.SWVERSION: (ev.swversion, ev.swversion),
        evidence.MEASUREMENTS: (meas, ", ".join(f"{k}={v[:16]}..." for k, v in meas.items())),
        evidence.DBGSTAT: (ev.dbgstat.name.lower(), ev.dbgstat.name.lower()),
        evidence.INTUSE: (ev.intuse.name.lower(), ev.intuse.name.lower()),
        evidence.DECISION: (
            {"decision": ev.decision.name.lower(), "score_band": ev.score_band.name.lower()},
            f"{ev.decision.name.lower()}, score band {ev.score_band.name.lower()}",
        ),
        evidence.THRESHOLD: (
            {"id": ev.threshold.id, "far_exp": ev.threshold.far_exp},
            f"{ev.threshold.id}, false-accept rate 1e{ev.threshold.far_exp}",
        ),
        evidence.LIVENESS: (
            {
                "method": lv.method.name.lower(),
                "challenge": [g.value for g in lv.challenge],
                "result": lv.result.name.lower(),
                "failed_step": lv.failed_step,
            },
            f"{lv.method.name.lower()}: {','.join(g.value for g in lv.challenge)} -> "
            f"{lv.result.name.lower()}"
            + (f" at step {lv.failed_step}" if lv.failed_step is not None else ""),
        ),
        evidence.DOCUMENT: (
            {
                "passive": doc.passive.name.lower(),
                "anticlone_method": doc.anticlone_method.name.lower(),
                "anticlone": doc.anticlone.name.lower(),
                "expired": doc.expired,
                "authenticated": doc.authenticated,
            },
            f"passive {doc.passive.name.lower()}, {doc.anticlone_method.name.lower()} "
            f"{doc.anticlone.name.lower()}, expired {str(doc.expired).lower()}",
        ),
        evidence.CONSENT: (
            {"recorded": ev.consent.recorded, "method": ev.consent.method.name.lower()},
            f"recorded {str(ev.consent.recorded).lower()} ({ev.consent.method.name.lower()})",
        ),
        evidence.ERASURE: (
            {"captured": ev.erasure.captured, "erased": ev.erasure.erased, "at": ev.erasure.at},
            f"{ev.erasure.captured} frames captured, {ev.erasure.erased} erased at "
            f"{_time(ev.erasure.at)}",
        ),
    }
    if ev.rp_commitment_matched is not None:
        m = ev.rp_commitment_matched
        out[evidence.RP_COMMITMENT] = (m, "matched" if m else "did not match")
    return out


def _evidence_claims(claims: dict[Any, Any], findings: list[Finding]) -> tuple[Entry, ...]:
    unknown = [k for k in claims if k not in REGISTRY_BY_LABEL]
    for k in unknown:
        v = claims[k]
        findings.append(
            Finding(
                "claims.unknown-claim",
                f"claim {k!r} is outside the profile v1 registry ({_kind_of(v)}: "
                f"{_short(v, 64)}); the schema is closed, so it may carry personal data",
                "privacy",
            )
        )
    typed: dict[int, tuple[Any, str]] = {}
    if not unknown:
        try:
            typed = _evidence_values(Evidence.from_claims(claims))
        except AttestError as exc:
            findings.append(Finding(exc.code, exc.message, _severity(exc)))
    entries = []
    for label, value in claims.items():
        spec = REGISTRY_BY_LABEL.get(label)
        if spec is None:
            continue
        shown, text = typed.get(label, (plain(value), _short(value)))
        entries.append(Entry(label, spec.name, spec.meaning, spec.data_kind, shown, text))
    return tuple(entries)


def _severity(exc: AttestError) -> Severity:
    return "privacy" if isinstance(exc, PrivacyError) else "error"


def _ear_claims(claims: dict[Any, Any], findings: list[Finding]) -> tuple[Entry, ...]:
    try:
        ear.Ear.from_cbor_claims(claims)
    except AttestError as exc:
        findings.append(Finding(exc.code, exc.message))
    # A relying party ignores these (draft-ietf-rats-ear-04 section 4); shown as findings
    # here because a result is published data and edgeproof's own profile is closed.
    for extra in ear.unknown_claims(claims):
        findings.append(Finding("ear.unknown-claim", f"claim {extra} is outside the profile"))
    entries = []
    for label, value in claims.items():
        name, meaning, kind = EAR_CLAIMS.get(
            label, (f"unknown ({label})", "not in the EAR profile", _kind_of(value))
        )
        text = (
            f"{value} ({_time(value)})"
            if label == ear.L_IAT and isinstance(value, int)
            else _short(value)
        )
        entries.append(Entry(label, name, meaning, kind, plain(value), text))
    return tuple(entries)


def _manifest_claims(m: dict[Any, Any], findings: list[Finding]) -> tuple[Entry, ...]:
    try:
        manifest.ReleaseManifest.decode(cbor.encode(m))
    except AttestError as exc:
        findings.append(Finding(exc.code, exc.message))
    meanings = {
        "format": "manifest format version",
        "name": "release name",
        "version": "release version",
        "files": "SHA-256 of each installed code and configuration file",
        "models": "SHA-256 of each model file",
    }
    entries = []
    for k, v in m.items():
        text = f"{len(v)} entries" if isinstance(v, dict) else _short(v)
        kind = "software digests" if isinstance(v, dict) else "identifier"
        entries.append(
            Entry(
                str(k),
                str(k),
                meanings.get(str(k), "not in the manifest format"),
                kind,
                plain(v),
                text,
            )
        )
    return tuple(entries)


_RENDERERS: dict[Kind, Callable[[dict[Any, Any], list[Finding]], tuple[Entry, ...]]] = {
    "evidence": _evidence_claims,
    "ear": _ear_claims,
    "release-manifest": _manifest_claims,
}


def _kind(payload: Any) -> Kind:
    if not isinstance(payload, dict):
        return "unknown"
    profile = payload.get(evidence.EAT_PROFILE)
    if profile == evidence.PROFILE_V1:
        return "evidence"
    if profile in ear.PROFILES:
        return "ear"
    if payload.get("format") == manifest.MANIFEST_FORMAT:
        return "release-manifest"
    return "unknown"


def describe(token: bytes, keys: cose.KeyLookup | None = None) -> TokenReport:
    """Decode and explain `token`; AttestError only if it is not a COSE_Sign1 at all."""
    msg = cose.decode_sign1(token, require_tag=False, max_size=manifest.MAX_MANIFEST_SIZE + 1024)
    findings: list[Finding] = []
    try:
        cose.check_profile(msg)
    except AttestError as exc:
        findings.append(Finding(exc.code, exc.message))
    kind: Kind = "unknown"
    claims: tuple[Entry, ...] = ()
    try:
        payload = cbor.decode(msg.payload, max_size=manifest.MAX_MANIFEST_SIZE, max_items=1 << 16)
    except DecodeError as exc:
        findings.append(Finding(exc.code, f"payload: {exc.message}"))
    else:
        kind = _kind(payload)
        if kind == "unknown":
            findings.append(
                Finding(
                    "inspect.unknown-profile",
                    "the payload is not edgeproof evidence, an EAR or a release manifest",
                )
            )
            if isinstance(payload, dict):
                claims = tuple(
                    Entry(
                        k if isinstance(k, int | str) else str(k),
                        f"unknown ({k})",
                        "not part of any edgeproof profile",
                        _kind_of(v),
                        plain(v),
                        _short(v),
                    )
                    for k, v in payload.items()
                )
        else:
            claims = _RENDERERS[kind](payload, findings)
    checked = valid = False
    if keys is not None:
        checked = True
        try:
            cose.verify_sign1(token, keys, max_size=manifest.MAX_MANIFEST_SIZE + 1024)
            valid = True
        except AttestError as exc:
            if not any(f.code == exc.code for f in findings):
                findings.append(Finding(exc.code, exc.message))
    return TokenReport(
        size=len(token),
        tagged=msg.tagged,
        kind=kind,
        protected=_header_entries(msg.protected),
        unprotected=_header_entries(msg.unprotected),
        claims=claims,
        signature=msg.signature,
        findings=tuple(findings),
        signature_checked=checked,
        signature_valid=valid,
        payload_size=len(msg.payload),
    )
