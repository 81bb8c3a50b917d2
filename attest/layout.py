"""The one byte layout of an evidence token, as one compiled pattern: the parse's fast path.

Why: RFC 8949 section 4.2.1 leaves exactly one encoding for each claims set (map keys in
bytewise order, every head as short as possible), and the strict COSE profile
(attest.cose) leaves one envelope around it. The patterns below spell that encoding out
for profile v1, built from the same constants as attest.claims, so they cannot drift from
them. A payload they match is deterministic CBOR whose values have the profile's types,
sizes and enumerations; `build` then checks the rules across fields (validity window,
erasure, decision and band, ...) and returns the checked fields of an Evidence. Anything
not matched, or any rule broken, goes to the general path (attest.evidence), which names
the reason. `TOKEN` checks the whole token (COSE envelope and claims) in one match.

Objects are built only through attest.trusted.trusted (its contract: the same object the
checked constructor builds from the same fields); tests/attest/test_trusted.py proves it.

The code is written for few objects and little Python: it runs next to the signature
check, whose large OpenSSL tables leave the CPU caches cold for it, so every extra call,
temporary or object costs about twice what it does in isolation. Hence fixed runs of
one-byte items are captured as one group and read by index, enumerations are looked up in
tuples indexed by their one-byte encoding, and the small nested claims come from complete
tables of their values.
"""

from __future__ import annotations

import re
from enum import IntEnum
from itertools import combinations, product
from typing import Any, TypeVar

from attest import cbor, cose
from attest.challenge import MAX_STEPS
from attest.claims import (
    _ENUM_TABLES,
    _REQUIRED,
    CONSENT,
    CONTENT_FORMAT_CBOR,
    CTI,
    CTI_MAX,
    CTI_MIN,
    DBGSTAT,
    DECISION,
    DIGEST_SIZE,
    DOCUMENT,
    EAT_NONCE,
    EAT_PROFILE,
    ERASURE,
    EXP,
    GESTURE_BY_CODE,
    IAT,
    INTUSE,
    LIVENESS,
    MAX_FRAMES,
    MAX_VALIDITY_S,
    MEASUREMENTS,
    NONCE_MAX,
    NONCE_MIN,
    PROFILE_V1,
    REGISTRY,
    RP_COMMITMENT,
    SWNAME,
    SWVERSION,
    THRESHOLD,
    AntiClone,
    Consent,
    ConsentMethod,
    DebugStatus,
    Decision,
    DocumentAuth,
    Erasure,
    IntendedUse,
    Liveness,
    LivenessMethod,
    MeasuredItem,
    Outcome,
    ScoreBand,
    Threshold,
)
from attest.errors import ClaimsError
from attest.trusted import trusted

E = TypeVar("E", bound=IntEnum)
T = TypeVar("T")


_UINT = (
    rb"(?:[\x00-\x17]|\x18[\x18-\xff]|\x19[\x01-\xff].|\x1a(?:[\x01-\xff].{3}|\x00[\x01-\xff].{2})"
    rb"|\x1b(?:[\x01-\xff].{7}|\x00[\x01-\xff].{6}|\x00\x00[\x01-\xff].{5}"
    rb"|\x00\x00\x00[\x01-\xff].{4}))"
)
_BOOL = rb"[\xf4\xf5]"
_TRUE, _NULL = b"\xf5"[0], b"\xf6"[0]  # RFC 8949 section 3.3: simple values 21 and 22


def _p_bstr(lo: int, hi: int) -> bytes:
    return (
        b"(?:"
        + b"|".join(re.escape(cbor.bstr_head(n)) + b".{%d}" % n for n in range(lo, hi + 1))
        + b")"
    )


def _p_ident() -> bytes:
    first, rest = rb"[A-Za-z0-9]", rb"[A-Za-z0-9._+\-]"
    alts = [
        re.escape(cbor.encode("x" * n)[:-n]) + first + rest + b"{%d}" % (n - 1)
        for n in range(1, 33)
    ]
    return b"(?:" + b"|".join(alts) + b")"


def _p_small(values: Any) -> bytes:
    """One-byte items: unsigned (or, for negatives, negative) integers below 24."""
    return b"[" + b"".join(re.escape(cbor.encode(int(v))) for v in values) + b"]"


def _p_label(label: int) -> bytes:
    return re.escape(cbor.encode(label))


def _p_measurement_maps() -> bytes:
    """The measurement map as the bstr it travels in: every key set the schema allows.

    Keys ascend bytewise (RFC 8949 section 4.2.1) and the release manifest (key 0) is
    required, so a map is key 0 followed by an ascending subset of the other items; the
    bstr and map heads are spelled out for each size, so they always agree with the
    entries that follow.
    """
    first, *others = MeasuredItem
    alts = []
    for n in range(len(others) + 1):
        for keys in combinations(others, n):
            size = 1 + (n + 1) * (DIGEST_SIZE + 3)
            alts.append(
                re.escape(cbor.bstr_head(size) + bytes((0xA0 + n + 1,)))
                + b"".join(
                    _p_small([k]) + re.escape(cbor.bstr_head(DIGEST_SIZE)) + b".{%d}" % DIGEST_SIZE
                    for k in (first, *keys)
                )
            )
    return b"(?:" + b"|".join(alts) + b")"


_CLAIM_PATTERNS: dict[int, bytes] = {
    EXP: b"(" + _UINT + b")",
    IAT: b"(" + _UINT + b")",
    CTI: b"(" + _p_bstr(CTI_MIN, CTI_MAX) + b")",
    EAT_NONCE: b"(" + _p_bstr(NONCE_MIN, NONCE_MAX) + b")",
    DBGSTAT: b"(" + _p_small(DebugStatus) + b")",
    EAT_PROFILE: re.escape(cbor.encode(PROFILE_V1)),
    SWNAME: b"(" + _p_ident() + b")",
    SWVERSION: b"\x81(" + _p_ident() + b")",
    MEASUREMENTS: re.escape(cbor.encode([[CONTENT_FORMAT_CBOR, b""]])[:-1])
    + b"("
    + _p_measurement_maps()
    + b")",
    INTUSE: b"(" + _p_small(IntendedUse) + b")",
    # One group per array: decision and band; threshold id and far_exp; ...
    DECISION: b"\x82(" + _p_small(Decision) + _p_small(ScoreBand) + b")",
    THRESHOLD: b"\x82(" + _p_ident() + _p_small(range(-12, 0)) + b")",
    # ... liveness method and challenge array; liveness result and failed step (or null).
    LIVENESS: b"\x84("
    + _p_small(LivenessMethod)
    + b"(?:"
    + b"|".join(
        bytes((0x80 + n,)) + _p_small(GESTURE_BY_CODE) + b"{%d}" % n
        for n in range(1, MAX_STEPS + 1)
    )
    + b"))("
    + _p_small(o for o in Outcome if o is not Outcome.NOT_SUPPORTED)
    + b"(?:"
    + _p_small(range(MAX_STEPS))
    + rb"|\xf6))",
    DOCUMENT: b"\x84(" + _p_small(Outcome) + _p_small(AntiClone) + _p_small(Outcome) + _BOOL + b")",
    CONSENT: b"\x82(" + _BOOL + _p_small(ConsentMethod) + b")",
    ERASURE: b"\x83(" + _UINT + b")(" + _UINT + b")(" + _UINT + b")",
    RP_COMMITMENT: b"(" + _BOOL + b")",
}
_CANONICAL_LABELS = sorted(_CLAIM_PATTERNS, key=cbor.encode)  # RFC 8949 section 4.2.1
_CLAIMS = (
    b"(["
    + b"".join(re.escape(bytes((0xA0 + n,))) for n in range(len(_REQUIRED), len(REGISTRY) + 1))
    + b"])"
    + b"".join(
        (b"" if label in _REQUIRED else b"(?:")
        + _p_label(label)
        + _CLAIM_PATTERNS[label]
        + (b"" if label in _REQUIRED else b")?")
        for label in _CANONICAL_LABELS
    )
)
CLAIMS = re.compile(_CLAIMS, re.DOTALL)
# A whole token: the COSE_Sign1 layout of the strict profile around the claims (one match
# checks both; cose.in_layout then checks the payload's length).
TOKEN = re.compile(cose.LAYOUT_HEAD + _CLAIMS + cose.LAYOUT_TAIL, re.DOTALL)


def _by_byte(cls: type[E]) -> tuple[E | None, ...]:
    """Members of `cls` indexed by their one-byte encoding (values 0..23 encode as themselves)."""
    return tuple(cls(b) if b in _ENUM_TABLES[cls] else None for b in range(24))


# Indexed by the byte the pattern has already restricted to valid values: never None.
_DECISION_AT = _by_byte(Decision)
_BAND_AT = _by_byte(ScoreBand)
_OUTCOME_AT = _by_byte(Outcome)
_LIVENESS_METHOD_AT = _by_byte(LivenessMethod)
_DBGSTAT_AT = _by_byte(DebugStatus)
_INTUSE_AT = _by_byte(IntendedUse)
_ITEM_AT = _by_byte(MeasuredItem)


# Every value of the small nested claims, by its encoding inside the claim's array: built
# once by the constructors themselves, so they hold exactly what the constructors accept
# (None where they refuse), by the same rules. The objects are frozen value objects, shared
# as enum members are; sharing one between tokens is invisible to == and to every field
# read. These are complete tables of finite domains, filled at import, not caches.
def _every_value(cls: type[T], domains: Any) -> dict[bytes, T | None]:
    table: dict[bytes, T | None] = {}
    for values in product(*domains):
        key = bytes(cbor.encode(v)[0] for v in values)  # one-byte items (RFC 8949 section 3)
        try:
            table[key] = cls(*values)
        except ClaimsError:
            table[key] = None
    return table


_DOCUMENTS = _every_value(DocumentAuth, (Outcome, AntiClone, Outcome, (False, True)))
_CONSENTS = _every_value(Consent, ((False, True), ConsentMethod))
# Challenges of up to four steps, by their gesture codes; longer ones are two lookups.
_CHALLENGE_PART = 4
_CHALLENGES = {
    bytes(codes): tuple(GESTURE_BY_CODE[c] for c in codes)
    for n in range(1, _CHALLENGE_PART + 1)
    for codes in product(GESTURE_BY_CODE, repeat=n)
}


def _every_liveness() -> dict[bytes, Liveness]:
    """Every liveness claim with a challenge of up to _CHALLENGE_PART steps, by its bytes.

    The key is the claim's two groups (method and challenge array; result and failed step
    or null) as the pattern captures them; each value is built by Liveness's own checked
    constructor, and only values it accepts are listed. Production challenges have 3
    steps (attest.challenge.DEFAULT_STEPS), so a token's liveness is one lookup.
    """
    table: dict[bytes, Liveness] = {}
    for method, n in product(LivenessMethod, range(1, _CHALLENGE_PART + 1)):
        for codes in product(GESTURE_BY_CODE, repeat=n):
            head = bytes((method, 0x80 + n, *codes))
            challenge = _CHALLENGES[bytes(codes)]
            for result in (Outcome.PASSED, Outcome.FAILED, Outcome.INCONCLUSIVE):
                steps = [None, *range(n)] if result is Outcome.FAILED else [None]
                for step in steps:
                    tail = bytes((result, _NULL if step is None else step))
                    table[head + tail] = Liveness(method, challenge, result, step)
    return table


_LIVENESS = _every_liveness()


def _long_liveness(lv_challenge: bytes, lv_result: bytes) -> Liveness:
    """A liveness claim the table does not hold (more steps); the rules were checked."""
    codes = lv_challenge[2:]
    failed_step = lv_result[1]
    liveness, f = trusted(Liveness)
    f["method"] = _LIVENESS_METHOD_AT[lv_challenge[0]]
    f["challenge"] = (
        _CHALLENGES[codes]
        if len(codes) <= _CHALLENGE_PART
        else _CHALLENGES[codes[:_CHALLENGE_PART]] + _CHALLENGES[codes[_CHALLENGE_PART:]]
    )
    f["result"] = _OUTCOME_AT[lv_result[0]]
    f["failed_step"] = None if failed_step == _NULL else failed_step
    return liveness


# A uint item read as one big-endian number still carries its head; the mask keeps the
# argument. One-byte items (0..23) are their own value (RFC 8949 section 3.1).
# Indexed by the item's length: 1, 2, 3, 5 or 9 bytes (the pattern allows no other).
_UINT_MASK = (0, 0xFF, 0xFF, 0xFFFF, 0, 0xFFFFFFFF, 0, 0, 0, 0xFFFFFFFFFFFFFFFF)
_N_REQUIRED = len(_REQUIRED)
_RELEASE_MANIFEST = MeasuredItem.RELEASE_MANIFEST
assert DIGEST_SIZE == 32 and len(MeasuredItem) == 4  # the offsets in _measurements()
_FAILED = Outcome.FAILED
_MATCH, _LOW = Decision.MATCH, ScoreBand.LOW
_MAX_TIME = 2**40


def build(m: re.Match[bytes], cls: type[T]) -> T | None:
    """The Evidence (`cls`, passed in by attest.evidence) of a match of CLAIMS or TOKEN.

    None means "not for the fast path": the general path decides, and names the reason.
    The objects are built by attest.trusted.trusted from values the pattern and the rules
    below have checked as their constructors would.
    """
    # One group per run of items, in claim order (RFC 8949 section 4.2.1).
    (
        count,
        exp,
        iat,
        cti,
        nonce,
        dbg,
        swname,
        swver,
        meas,
        intuse,
        dec,
        thr,
        lv_challenge,
        lv_result,
        doc,
        con,
        captured,
        erased,
        before,
        rp,
    ) = m.groups()
    # Optional claims present must match the map's count (RFC 8949 section 3.1, major type 5).
    if count[0] - 0xA0 != _N_REQUIRED + (rp is not None):
        return None
    # The pattern fixed every type, size, identifier and enumeration; what is left are the
    # rules across fields. Any of them broken: the general path says which.
    iat_v = int.from_bytes(iat, "big") & _UINT_MASK[len(iat)]
    exp_v = int.from_bytes(exp, "big") & _UINT_MASK[len(exp)]
    # Counts and offsets are mostly below 256: one- or two-byte items, their last byte.
    captured_v = (
        captured[-1]
        if len(captured) < 3
        else int.from_bytes(captured, "big") & _UINT_MASK[len(captured)]
    )
    before_v = (
        before[-1] if len(before) < 3 else int.from_bytes(before, "big") & _UINT_MASK[len(before)]
    )
    failed_step = lv_result[1]
    decision = _DECISION_AT[dec[0]]
    band = _BAND_AT[dec[1]]
    result = _OUTCOME_AT[lv_result[0]]
    document = _DOCUMENTS[doc]  # None: the anti-clone fields disagree
    consent = _CONSENTS[con]
    if (
        document is None
        or consent is None
        or exp_v > _MAX_TIME
        or not 0 < exp_v - iat_v <= MAX_VALIDITY_S
        or before_v > iat_v
        or captured != erased  # same encoding, same count (deterministic heads)
        or captured_v > MAX_FRAMES
        or (decision is _MATCH and band is _LOW)
        or (
            failed_step != _NULL and (result is not _FAILED or failed_step >= len(lv_challenge) - 2)
        )
    ):
        return None

    threshold, f = trusted(Threshold)
    f["id"] = (thr[1:-1] if thr[0] < 0x78 else thr[2:-1]).decode("ascii")
    f["far_exp"] = 0x1F - thr[-1]  # 0x20..0x2b encode -1..-12 (RFC 8949 3.1, type 1)
    erasure, f = trusted(Erasure)
    f["captured"] = f["erased"] = captured_v
    f["at"] = iat_v - before_v
    ev, f = trusted(cls)
    # Byte strings of 8..64 bytes: head 0x48..0x57, or 0x58 and one length byte.
    f["nonce"] = nonce[1:] if nonce[0] < 0x58 else nonce[2:]
    f["iat"] = iat_v
    f["exp"] = exp_v
    f["cti"] = cti[1:] if cti[0] < 0x58 else cti[2:]
    # Identifiers of 1..32 characters: head 0x61..0x77, or 0x78 and one length byte.
    f["swname"] = (swname[1:] if swname[0] < 0x78 else swname[2:]).decode("ascii")
    f["swversion"] = (swver[1:] if swver[0] < 0x78 else swver[2:]).decode("ascii")
    f["measurements"] = _measurements(meas)
    f["decision"] = decision
    f["score_band"] = band
    f["threshold"] = threshold
    f["liveness"] = _LIVENESS.get(lv_challenge + lv_result) or _long_liveness(
        lv_challenge, lv_result
    )
    f["document"] = document
    f["consent"] = consent
    f["erasure"] = erasure
    f["dbgstat"] = _DBGSTAT_AT[dbg[0]]
    f["intuse"] = _INTUSE_AT[intuse[0]]
    f["rp_commitment_matched"] = None if rp is None else rp == b"\xf5"  # true
    f["profile"] = PROFILE_V1
    return ev


def _measurements(meas: bytes) -> dict[Any, bytes]:
    """The measurement map from its bstr, as the pattern laid it out.

    Its head (2 bytes), the map head (1), then 1 to 4 entries of 35 bytes: key (1),
    digest head 58 20 (2), digest (32). The pattern put key 0 (the release manifest) first
    and the others ascending, so entry n starts at 3 + 35 * n.
    """
    measurements: dict[Any, bytes] = {_RELEASE_MANIFEST: meas[6:38]}
    if len(meas) > 38:
        measurements[_ITEM_AT[meas[38]]] = meas[41:73]
        if len(meas) > 73:
            measurements[_ITEM_AT[meas[73]]] = meas[76:108]
            if len(meas) > 108:
                measurements[_ITEM_AT[meas[108]]] = meas[111:143]
    return measurements
