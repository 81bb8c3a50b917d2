"""The console's appraisal pages: search (by id, time, status, device, reason, decision),
one appraisal claim by claim, and its inclusion proof checked on the page.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from flask import (
    request,
)
from sqlalchemy import select

from attest import merkle
from attest.ear import DECISION_NAMES, Status, decode_ear_unverified
from attest.errors import AttestError
from attest.keys import PublicKey, b64url, b64url_decode
from attest.report import describe
from verifier.console_base import (
    DECISION_COLOURS,
    STATUS_COLOURS,
    b64_to_hex,
    bp,
    decision_of,
    device_names,
    page,
)
from verifier.errors import RequestError, VerifierError
from verifier.http import verifier
from verifier.storage import Appraisal, Device

PAGE_SIZE = 50
MAX_PAGE = 10_000
_APPRAISAL_ID = re.compile(r"[0-9a-f]{32}")
_ID_PREFIX = re.compile(r"[0-9a-f]{1,32}")
_REASON = re.compile(r"[a-z0-9-]{1,32}(\.[a-z0-9-]{1,32}){1,4}")


@dataclass(frozen=True)
class Search:
    id_prefix: str
    start: int | None
    end: int | None
    status: str
    page: int
    device: str = ""
    reason: str = ""
    decision: str = ""

    @classmethod
    def from_args(cls, args: Any) -> Search:
        prefix = args.get("id", "").strip().lower()
        if prefix and not _ID_PREFIX.fullmatch(prefix):
            raise RequestError("an appraisal id is up to 32 hexadecimal digits")
        status = args.get("status", "")
        if status and status not in STATUS_COLOURS:
            raise RequestError(f"status must be one of {', '.join(STATUS_COLOURS)}")
        page = args.get("page", "1")
        if not re.fullmatch(r"[0-9]{1,5}", page) or not 1 <= int(page) <= MAX_PAGE:
            raise RequestError(f"page must be 1..{MAX_PAGE}")
        start = _parse_time(args.get("from", ""), "from")
        end = _parse_time(args.get("to", ""), "to")
        if start is not None and end is not None and end < start:
            raise RequestError("the end of the time range is before its start")
        device = args.get("device", "").strip()
        if len(device) > 64:
            raise RequestError("a device id is at most 64 characters")
        reason = args.get("reason", "").strip()
        if reason and not _REASON.fullmatch(reason):
            raise RequestError("a reason code is dotted lowercase, such as document.expired")
        decision = args.get("decision", "")
        if decision and decision not in DECISION_COLOURS:
            raise RequestError(f"decision must be one of {', '.join(DECISION_COLOURS)}")
        return cls(prefix, start, end, status, int(page), device, reason, decision)

    def args(self, **changes: Any) -> dict[str, Any]:
        out = {
            "id": self.id_prefix,
            "from": request.args.get("from", ""),
            "to": request.args.get("to", ""),
            "status": self.status,
            "device": self.device,
            "reason": self.reason,
            "decision": self.decision,
            "page": self.page,
        }
        out.update(changes)
        return {k: v for k, v in out.items() if v not in ("", None)}


def _parse_time(text: str, name: str) -> int | None:
    """A UTC time from a date or datetime-local field (YYYY-MM-DD[THH:MM[:SS]])."""
    text = text.strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            t = dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
        return int(t.timestamp())
    raise RequestError(f"{name} must be a UTC date or time: YYYY-MM-DD or YYYY-MM-DDTHH:MM")


@bp.get("/appraisals")
def appraisals() -> Any:
    names = device_names()
    try:
        q = Search.from_args(request.args)
    except RequestError as exc:
        return page("appraisals.html", 400, error=str(exc), rows=[], search=None, **_filters(names))
    stmt = select(
        Appraisal.id,
        Appraisal.created_at,
        Appraisal.status,
        Appraisal.policy_id,
        Appraisal.device_kid,
        Appraisal.log_index,
        Appraisal.ear_cwt,
        Appraisal.checks,
    )
    if q.id_prefix:
        stmt = stmt.where(Appraisal.id.startswith(q.id_prefix))  # hex only: no LIKE escapes
    if q.start is not None:
        stmt = stmt.where(Appraisal.created_at >= q.start)
    if q.end is not None:
        stmt = stmt.where(Appraisal.created_at <= q.end)
    if q.status:
        stmt = stmt.where(Appraisal.status == int(Status[q.status.upper()]))
    if q.device:
        stmt = stmt.where(Appraisal.device_kid.in_([k for k, d in names.items() if d == q.device]))
    if q.reason:
        # The checks column is compact JSON written by verifier/service.py; a reason code
        # appears only as a check's "code" value.
        stmt = stmt.where(Appraisal.checks.contains(f'"code":"{q.reason}"', autoescape=True))
    if q.decision:
        # The decision is the last check (verifier/appraisal.py), its detail the Decision
        # member's name; the signed result says the same (the row shows it from there).
        name = q.decision.replace("-", "_")
        stmt = stmt.where(
            Appraisal.checks.contains('"check":"decision"', autoescape=True),
            Appraisal.checks.endswith(f'"detail":"{name}"}}]', autoescape=True),
        )
    stmt = stmt.order_by(Appraisal.log_index.desc())
    stmt = stmt.limit(PAGE_SIZE + 1).offset((q.page - 1) * PAGE_SIZE)
    with verifier().reader() as s:
        found = s.execute(stmt).all()
    rows = [
        {
            "id": r.id,
            "created_at": r.created_at,
            "status": Status(r.status).label,
            "decision": decision_of(r.ear_cwt),
            "reason": _reason(r.checks),
            "policy_id": r.policy_id,
            "kid": b64url(r.device_kid),
            "device": names.get(r.device_kid, "unknown device"),
            "log_index": r.log_index,
        }
        for r in found[:PAGE_SIZE]
    ]
    return page(
        "appraisals.html",
        rows=rows,
        search=q,
        more=len(found) > PAGE_SIZE,
        **_filters(names),
    )


def _filters(names: dict[bytes, str]) -> dict[str, Any]:
    return {
        "devices": sorted(set(names.values())),
        "decisions": tuple(DECISION_COLOURS),
    }


def _reason(checks: str) -> str:
    """The reason code a person should read first: the first failed check's, else the
    first warning's ("" for a clean result)."""
    try:
        items = json.loads(checks)
    except ValueError:
        return "unreadable"
    for outcome in ("failed", "warning"):
        for c in items:
            if c.get("outcome") == outcome and c.get("code"):
                return str(c["code"])
    return ""


def _appraisal_row(appraisal_id: str) -> Appraisal:
    row: Appraisal | None = None
    if _APPRAISAL_ID.fullmatch(appraisal_id):
        with verifier().reader() as s:
            row = s.get(Appraisal, appraisal_id)
    if row is None:
        raise VerifierError("no such appraisal", code="request.not-found")
    return row


@bp.get("/appraisals/<appraisal_id>")
def appraisal(appraisal_id: str) -> Any:
    row = _appraisal_row(appraisal_id)
    report = describe(row.ear_cwt, verifier().keyset)
    evidence = None
    if row.evidence is not None:
        with verifier().reader() as s:
            dev = s.get(Device, row.device_kid)
        keys = {dev.kid: PublicKey.from_cose_key(dev.cose_key)} if dev is not None else None
        evidence = describe(row.evidence, keys)
    checks = json.loads(row.checks)
    return page(
        "appraisal.html",
        a=row,
        device=device_names().get(row.device_kid, "unknown device"),
        failing=[c for c in checks if c.get("outcome") in ("failed", "warning") and c.get("code")],
        submod=_submod(row.ear_cwt),
        tier=Status(row.status).label,
        decision=decision_of(row.ear_cwt),
        checks=checks,
        report=report,
        claims=_claims(report),
        headers=_headers_shown(report),
        evidence=evidence,
        evidence_claims=_claims(evidence) if evidence else [],
        evidence_headers=_headers_shown(evidence) if evidence else [],
    )


def _headers_shown(report: Any) -> list[dict[str, Any]]:
    """COSE headers, with the key id in the console's one key-id encoding (base64url, as
    the device list and the key set write it; attest.report prints it hex)."""
    out = []
    for h in [*report.protected, *report.unprotected]:
        text = h.text
        raw = h.value
        if isinstance(raw, str) and re.fullmatch(r"(?:[0-9a-f]{2})+", raw):
            raw = bytes.fromhex(raw)  # attest.report's JSON-ready form of bytes
        if h.name == "kid" and isinstance(raw, bytes):
            text = f"{b64url(raw)} (base64url)"
        out.append(
            {"label": h.label, "name": h.name, "meaning": h.meaning, "data_kind": h.data_kind}
            | {"text": text}
        )
    return out


def _claims(report: Any) -> list[dict[str, Any]]:
    """attest.report's entries, with structured values pretty-printed for the page."""
    return [
        {
            "label": e.label,
            "name": e.name,
            "meaning": e.meaning,
            "kind": e.data_kind,
            "text": e.text,
            "detail": json.dumps(e.value, indent=2, sort_keys=True)
            if isinstance(e.value, dict | list)
            else None,
        }
        for e in report.claims
    ]


def _submod(cwt: bytes) -> list[tuple[str, str]]:
    """The submodule's claims by their EAR names (draft-ietf-rats-ear-04 section 3.1)."""
    try:
        e = decode_ear_unverified(cwt)
    except AttestError:
        return []
    tiers = {int(t): t.label for t in Status}
    out = [("ear_status", e.status.label)]
    out += [
        (f"ear_trustworthiness_vector / {name}", f"{n} ({tiers.get(n, 'no tier')})")
        for name, n in e.trust_vector.items()
    ]
    out.append(("ear_appraisal_policy_ids", e.policy_id))
    decision = DECISION_NAMES[e.decision] if e.decision is not None else "none"
    out.append(("urn:edgeproof:ear:face-match / decision", decision))
    out.append(("eat_profile", e.profile))
    return out


@bp.get("/appraisals/<appraisal_id>/proof")
def proof(appraisal_id: str) -> Any:
    """The entry's inclusion proof in the latest checkpoint, checked here as well.

    The page recomputes the leaf hash from the stored EAR and the root from the audit
    path (RFC 9162 section 2.1.3.2), so a record that differs from its log entry shows.
    """
    row = _appraisal_row(appraisal_id)
    v = verifier()
    checkpoint = v.checkpoint()
    incl = v.inclusion(row.log_index, checkpoint["tree_size"])
    path = [b64url_decode(p) for p in incl["inclusion_proof"]]
    leaf = merkle.leaf_hash(row.ear_cwt)
    try:
        merkle.verify_inclusion(
            leaf, row.log_index, incl["tree_size"], path, b64url_decode(checkpoint["root_hash"])
        )
        verdict, problem = True, ""
    except AttestError as exc:
        verdict, problem = False, f"{exc.code}: {exc.message}"
    return page(
        "proof.html",
        a=row,
        checkpoint=checkpoint,
        inclusion=incl,
        path_hex=[p.hex() for p in path],
        root_hex=b64_to_hex(checkpoint["root_hash"]),
        leaf_hex=leaf.hex(),
        log_leaf_hex=b64_to_hex(incl["leaf_hash"]),
        verified=verdict,
        problem=problem,
    )
