"""The auditor console: server-rendered pages over the verifier's own records (issue 8).

Auditors (and admins) log in once with their bearer token; the console keeps a random
session id in a signed, HttpOnly, SameSite=Strict session cookie, and the session itself
(its token and expiry) on the server, re-read on every request: revoking the token ends the
session at once, and logging out deletes it, so a copy of the cookie is worth nothing.
Relying-party tokens are refused: a relying party may see only its own results, through
the API.

Everything is rendered by Jinja with autoescaping (the pages show device-supplied and
verifier-signed data); charts are inline SVG computed here, so the pages need no
JavaScript and no external asset. Claims are explained by attest.report, the same text
`edgeproof attest inspect` prints.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlalchemy import Integer, delete, func, literal_column, select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from attest import merkle
from attest.ear import DECISION_NAMES, Status, decode_ear_unverified
from attest.errors import AttestError
from attest.keys import ALG_NAMES, PublicKey, SigningKey, b64url, b64url_decode
from attest.note import NoteError, open_checkpoint
from attest.report import describe
from verifier.errors import RequestError, VerifierError
from verifier.http import verifier
from verifier.service import Caller
from verifier.storage import ApiToken, Appraisal, ConsoleSession, Device, LogEntry

log = logging.getLogger("verifier.console")
bp = Blueprint("console", __name__, url_prefix="/console")
CONSOLE_ROLES = ("auditor", "admin")
PAGE_SIZE = 50
MAX_PAGE = 10_000
MAX_DEVICES = 1000
MAX_REASON_ROWS = 50_000  # appraisals read for the failure-reason chart
SESSION_LIFETIME = timedelta(hours=8)
_APPRAISAL_ID = re.compile(r"[0-9a-f]{32}")
_ID_PREFIX = re.compile(r"[0-9a-f]{1,32}")
_REASON = re.compile(r"[a-z0-9-]{1,32}(\.[a-z0-9-]{1,32}){1,4}")
DAY = 86_400
# One colour, one meaning, on every page (docs/auditing.md, "Colours"): green, amber and
# red are the result tiers only (and the log's consistent/inconsistent verdict); a revoked
# key is dark grey, not red; decisions and reason codes take colours no tier uses.
STATUS_COLOURS = {"affirming": "#2e7d32", "warning": "#f9a825", "contraindicated": "#c62828"}
DECISION_COLOURS = {"match": "#1565c0", "no-match": "#6a1b9a", "inconclusive": "#8d6e63"}
PALETTE = ("#00838f", "#283593", "#ad1457", "#827717", "#37474f", "#9e9e9e")


def session_secret(result_key: SigningKey) -> bytes:
    """The cookie-signing key, derived from the instance's result key.

    Every worker and replica that signs results with this key accepts the same sessions,
    and no second secret has to be created, stored or backed up. HMAC is one-way, so the
    cookie key reveals nothing about the signing key; rotating the result key ends all
    console sessions, which is the safe direction.
    """
    return hmac.new(
        result_key.private_pem(), b"edgeproof console session v1", hashlib.sha256
    ).digest()


class ConsoleSessions(SecureCookieSessionInterface):
    """Sessions exist under /console only (the cookie's path says so too).

    Flask opens the session of every request; for the API that is a cookie lookup and a
    signing serializer built for nothing, on the appraisal hot path.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.path.startswith("/console"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app: Flask, result_key: SigningKey) -> None:
    """Session cookie settings and the template filters the console pages use."""
    app.session_interface = ConsoleSessions()
    app.secret_key = session_secret(result_key)
    app.config.update(
        SESSION_COOKIE_NAME="edgeproof_console",
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        # Non-permanent cookies are not re-signed per request, so the signature's age
        # is the time since login: an absolute limit on a session.
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.jinja_env.filters["utc"] = utc
    app.jinja_env.filters["utc_epoch"] = utc_epoch
    app.jinja_env.filters["b64url"] = b64url


def utc(t: int | None) -> str:
    if t is None:
        return "-"
    try:
        return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{t} (out of range)"


def utc_epoch(t: int | None) -> str:
    """The one way the console and audit reports write a time: UTC, then the epoch."""
    return "-" if t is None else f"{utc(t)} ({t})"


# -- authentication ----------------------------------------------------------------------


def _sid_hash() -> bytes | None:
    sid = session.get("sid")
    if not isinstance(sid, str) or not 16 <= len(sid) <= 64:
        return None
    return hashlib.sha256(sid.encode("ascii", "replace")).digest()


def _session_caller() -> Caller | None:
    """The session's caller, read from the server: the cookie only names a session row
    (issue 16, finding 11: a cookie captured before logout must not work after it)."""
    sid_hash = _sid_hash()
    if sid_hash is None:
        return None
    v = verifier()
    with v.reader() as s:
        open_ = s.get(ConsoleSession, sid_hash)
        if open_ is None or open_.expires_at <= v.now():
            return None
        row = s.get(ApiToken, open_.token_id)
    if row is None or row.revoked_at is not None or row.role not in CONSOLE_ROLES:
        return None
    return Caller(row.id, row.role)


def _open_session(token_id: int) -> str:
    """A new server-side session; expired ones are swept here, so the table stays small."""
    v = verifier()
    now = v.now()
    sid = secrets.token_urlsafe(32)
    with v.writer() as s, s.begin():
        s.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
        s.add(
            ConsoleSession(
                sid_hash=hashlib.sha256(sid.encode("ascii")).digest(),
                token_id=token_id,
                created_at=now,
                expires_at=now + int(SESSION_LIFETIME.total_seconds()),
            )
        )
    return sid


def _close_session() -> None:
    sid_hash = _sid_hash()
    if sid_hash is not None:
        with verifier().writer() as s, s.begin():
            s.execute(delete(ConsoleSession).where(ConsoleSession.sid_hash == sid_hash))


def _csrf() -> str:
    tok = session.get("csrf")
    if not isinstance(tok, str):
        tok = secrets.token_urlsafe(24)
        session["csrf"] = tok
    return tok


def _check_csrf() -> bool:
    sent = request.form.get("csrf", "")
    want = session.get("csrf")
    return isinstance(want, str) and hmac.compare_digest(sent.encode(), want.encode())


@bp.before_request
def _authenticate() -> WerkzeugResponse | None:
    if request.endpoint in ("console.login", "console.logout"):
        return None
    who = _session_caller()
    if who is None:
        session.pop("sid", None)
        return redirect(url_for("console.login"), code=303)
    g.caller = who
    return None


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@bp.context_processor
def _common() -> dict[str, Any]:
    return {"csrf_token": _csrf, "caller": g.get("caller")}


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(f"console/{template}", **context), status


@bp.errorhandler(VerifierError)
def _verifier_error(exc: VerifierError) -> tuple[str, int]:
    return _page("error.html", exc.status, code=exc.code, message=exc.message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    status = exc.code or 400
    return _page("error.html", status, code=f"http.{status}", message=exc.description or "")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return _page("login.html")
    if not _check_csrf():
        return _page("login.html", 400, error="the form expired; please try again")
    token = request.form.get("token", "").strip()
    who = verifier().authenticate(token) if 0 < len(token) <= 256 else None
    if who is None:
        log.info("console login refused: unknown or revoked token")
        return _page("login.html", 401, error="unknown or revoked token")
    if who.role not in CONSOLE_ROLES:
        log.info("console login refused: role %s", who.role)
        return _page("login.html", 403, error=f"a {who.role} token cannot open the auditor console")
    _close_session()  # a session open in this browser ends with a new login
    session.clear()  # a fresh session (and CSRF token) at each login
    session["sid"] = _open_session(who.token_id)
    log.info("console login: token %d (%s)", who.token_id, who.role)
    return redirect(url_for("console.overview"), code=303)


@bp.post("/logout")
def logout() -> Any:
    if not _check_csrf():
        return _page("error.html", 400, code="request.malformed", message="the form expired")
    _close_session()  # on the server: the cookie, if kept or copied, names nothing now
    session.clear()
    return redirect(url_for("console.login"), code=303)


# -- pages -------------------------------------------------------------------------------


@bp.get("/")
def overview() -> Any:
    v = verifier()
    checkpoint = v.checkpoint()
    with v.reader() as s:
        by_status = dict(
            s.execute(select(Appraisal.status, func.count()).group_by(Appraisal.status)).all()
        )
        keys = s.execute(
            select(
                func.count(),
                func.count(Device.revoked_at),
                func.count(func.distinct(Device.device_id)),
            ).select_from(Device)
        ).one()
    counts = [(s.label, int(by_status.get(int(s), 0))) for s in Status if s != Status.NONE]
    return _page(
        "overview.html",
        checkpoint=checkpoint,
        health=log_consistency(v, checkpoint),
        root_hex=_b64_to_hex(checkpoint["root_hash"]),
        counts=counts,
        total=sum(n for _, n in counts),
        keys={"all": keys[0], "revoked": keys[1], "devices": keys[2]},
        witnessing=v.witness_status(),
    )


@dataclass(frozen=True)
class Finding:
    """One way the log disagrees with itself; `index` when it is one entry's fault."""

    what: str
    index: int | None = None
    appraisal_id: str | None = None


@dataclass(frozen=True)
class Consistency:
    size: int  # entries in the database
    views: tuple[tuple[str, bool, str], ...]  # (what was compared, agrees, detail)
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad(self) -> Finding | None:
        at = [f for f in self.findings if f.index is not None]
        return min(at, key=lambda f: f.index or 0) if at else None


def log_consistency(v: Any, checkpoint: dict[str, Any]) -> Consistency:
    """Is the log one tree? Rebuilt here from the database on every overview.

    Compared, each against the tree rebuilt from the stored leaf hashes (RFC 9162 section
    2.1.1): each entry's bytes against its leaf hash; each appraisal record against the
    leaf at its log index (what the proof page does for one entry, for all); the signed
    checkpoint this page shows; the C2SP checkpoint the log serves and the cosigned one
    the witnesses signed (c2sp.org/tlog-checkpoint, tlog-cosignature: a witness cosigns
    only a tree consistent with the one it saw before, so a cosigned root the rebuilt tree
    does not have means the entries changed after witnessing). Reading every entry costs
    one pass over the log (32 bytes a leaf kept in memory); that is the price of a
    statement the auditor can trust at a glance.
    """
    tree = merkle.MerkleTree()
    leaves: list[bytes] = []
    findings: list[Finding] = []
    ids: list[str] = []
    with v.reader() as s:
        rows = s.execute(
            select(LogEntry.idx, LogEntry.leaf_hash, LogEntry.data, LogEntry.appraisal_id)
            .order_by(LogEntry.idx)
            .execution_options(yield_per=1000)
        )
        for idx, leaf, data, aid in rows:
            if idx != len(leaves):
                findings.append(
                    Finding(f"entries {len(leaves)}..{idx - 1} are missing", len(leaves))
                )
                break
            leaf = bytes(leaf)
            if merkle.leaf_hash(bytes(data)) != leaf:
                findings.append(
                    Finding(
                        f"entry {idx}'s bytes hash to {merkle.leaf_hash(bytes(data)).hex()}, "
                        f"not its logged leaf hash {leaf.hex()}",
                        idx,
                        aid,
                    )
                )
            leaves.append(leaf)
            ids.append(aid)
            tree.append_hash(leaf)
        records = s.execute(
            select(Appraisal.log_index, Appraisal.id, Appraisal.ear_cwt)
            .order_by(Appraisal.log_index)
            .execution_options(yield_per=1000)
        )
        for index, aid, cwt in records:
            mine = merkle.leaf_hash(bytes(cwt))
            if not 0 <= index < len(leaves):
                findings.append(
                    Finding(f"appraisal {aid} names log index {index}, not in the log", None, aid)
                )
            elif ids[index] != aid:
                findings.append(
                    Finding(
                        f"entry {index} names appraisal {ids[index]}, but appraisal {aid} "
                        "says it was logged there",
                        index,
                        aid,
                    )
                )
            elif mine != leaves[index]:
                findings.append(
                    Finding(
                        f"entry {index}: appraisal {aid}'s stored result hashes to "
                        f"{mine.hex()}, the log's leaf is {leaves[index].hex()}",
                        index,
                        aid,
                    )
                )
    views: list[tuple[str, bool, str]] = []

    def compare(what: str, size: int, root: bytes) -> None:
        if size > len(leaves):
            ok, detail = False, f"size {size} is more than the {len(leaves)} entries stored"
        else:
            mine = tree.root(size)
            ok = mine == root
            detail = f"size {size}, root {root.hex()}" + (
                "" if ok else f"; the entries rebuild {mine.hex()}"
            )
        views.append((what, ok, detail))
        if not ok:
            findings.append(Finding(f"{what}: {detail}"))

    compare(
        "signed checkpoint (this page)",
        checkpoint["tree_size"],
        b64url_decode(checkpoint["root_hash"]),
    )
    witnesses = [w.key for w in v.tlog.witnesses]
    try:
        served = open_checkpoint(v.note_checkpoint(), v.tlog.key.verifier, witnesses)
        compare(
            "C2SP checkpoint served at /log/checkpoint",
            served.checkpoint.size,
            served.checkpoint.root,
        )
    except NoteError as exc:
        views.append(("C2SP checkpoint served at /log/checkpoint", False, exc.message))
        findings.append(Finding(f"the C2SP checkpoint does not verify: {exc.message}"))
    stored = v.tlog.store.read()
    if stored is not None:
        what = "checkpoint the witnesses cosigned"
        try:
            cos = open_checkpoint(stored, v.tlog.key.verifier, witnesses)
        except NoteError as exc:
            views.append((what, False, exc.message))
            findings.append(
                Finding(f"the stored cosigned checkpoint does not verify: {exc.message}")
            )
        else:
            names = ", ".join(sorted(cos.cosigners)) or "no witness"
            compare(f"{what} ({names})", cos.checkpoint.size, cos.checkpoint.root)
    return Consistency(len(leaves), tuple(views), tuple(findings))


def _b64_to_hex(text: str) -> str:
    return b64url_decode(text).hex()


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
    names = _device_names()
    try:
        q = Search.from_args(request.args)
    except RequestError as exc:
        return _page(
            "appraisals.html", 400, error=str(exc), rows=[], search=None, **_filters(names)
        )
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
            "decision": _decision(r.ear_cwt),
            "reason": _reason(r.checks),
            "policy_id": r.policy_id,
            "kid": b64url(r.device_kid),
            "device": names.get(r.device_kid, "unknown device"),
            "log_index": r.log_index,
        }
        for r in found[:PAGE_SIZE]
    ]
    return _page(
        "appraisals.html",
        rows=rows,
        search=q,
        more=len(found) > PAGE_SIZE,
        **_filters(names),
    )


def _device_names() -> dict[bytes, str]:
    """Every key id's device, so lists show a name beside the key (issue 19, finding 6)."""
    with verifier().reader() as s:
        return {bytes(k): d for k, d in s.execute(select(Device.kid, Device.device_id)).all()}


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


def _decision(cwt: bytes) -> str:
    try:
        d = decode_ear_unverified(cwt).decision
    except AttestError:
        return "unreadable"
    return DECISION_NAMES[d] if d is not None else "-"


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
    return _page(
        "appraisal.html",
        a=row,
        device=_device_names().get(row.device_kid, "unknown device"),
        failing=[c for c in checks if c.get("outcome") in ("failed", "warning") and c.get("code")],
        submod=_submod(row.ear_cwt),
        tier=Status(row.status).label,
        decision=_decision(row.ear_cwt),
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
    return _page(
        "proof.html",
        a=row,
        checkpoint=checkpoint,
        inclusion=incl,
        path_hex=[p.hex() for p in path],
        root_hex=_b64_to_hex(checkpoint["root_hash"]),
        leaf_hex=leaf.hex(),
        log_leaf_hex=_b64_to_hex(incl["leaf_hash"]),
        verified=verdict,
        problem=problem,
    )


@bp.get("/devices")
def devices() -> Any:
    v = verifier()
    with v.reader() as s:
        keys = (
            s.execute(select(Device).order_by(Device.device_id, Device.enrolled_at))
            .scalars()
            .all()[: MAX_DEVICES + 1]
        )
        used = dict(
            s.execute(
                select(Appraisal.device_kid, func.count()).group_by(Appraisal.device_kid)
            ).all()
        )
    groups: dict[str, list[dict[str, Any]]] = {}
    events: dict[str, list[tuple[int, str]]] = {}
    enrolled = {k.kid: k for k in keys}
    for k in keys[:MAX_DEVICES]:
        kid = b64url(k.kid)
        groups.setdefault(k.device_id, []).append(
            {
                "kid": kid,
                "alg": ALG_NAMES.get(k.alg, str(k.alg)),
                "enrolled_at": k.enrolled_at,
                "not_after": k.not_after,
                "revoked_at": k.revoked_at,
                "replaced_by": b64url(k.replaced_by) if k.replaced_by else None,
                "appraisals": int(used.get(k.kid, 0)),
                "state": _key_state(k, v.now()),
            }
        )
        ev = events.setdefault(k.device_id, [])
        ev.append((k.enrolled_at, f"key {kid} enrolled"))
        if k.replaced_by is not None:
            # Rotation enrols the new key and closes the old one in one transaction, so
            # the new key's enrolment time is when the rotation happened.
            new = enrolled.get(k.replaced_by)
            until = f"; still accepted until {utc_epoch(k.not_after)}" if k.not_after else ""
            ev.append(
                (
                    new.enrolled_at if new is not None else k.enrolled_at,
                    f"key {kid} rotated to {b64url(k.replaced_by)}{until}",
                )
            )
        if k.revoked_at is not None:
            ev.append((k.revoked_at, f"key {kid} revoked"))
    history = {d: sorted(e, key=lambda x: x[0]) for d, e in events.items()}  # stable
    return _page("devices.html", groups=groups, history=history, truncated=len(keys) > MAX_DEVICES)


def _key_state(k: Device, now: int) -> str:
    if k.revoked_at is not None:
        return "revoked"
    if k.replaced_by is not None:
        return "retiring" if k.not_after is not None and k.not_after > now else "rotated"
    return "active"


# -- charts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str


@dataclass(frozen=True)
class Chart:
    """A stacked bar chart, laid out here; the template only draws it."""

    title: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    x_labels: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    legend: tuple[tuple[str, str, int], ...]  # (name, colour, total)
    baseline: float
    left: float


def stacked_chart(title: str, days: list[int], series: list[tuple[str, str, list[int]]]) -> Chart:
    """Bars per day, one segment per series; axes scaled to a round maximum."""
    width, height, left, top, bottom = 760, 260, 44.0, 16.0, 40.0
    plot_h = height - top - bottom
    totals = [sum(s[2][i] for s in series) for i in range(len(days))]
    peak = max([1, *totals])
    step = _nice_step(peak)
    top_value = step * -(-peak // step)
    slot = (width - left - 8) / max(1, len(days))
    bars: list[Bar] = []
    for i, day in enumerate(days):
        y = top + plot_h
        for name, colour, values in series:
            n = values[i]
            if n == 0:
                continue
            h = plot_h * n / top_value
            y -= h
            bars.append(
                Bar(
                    left + i * slot + slot * 0.15,
                    y,
                    slot * 0.7,
                    h,
                    colour,
                    f"{utc(day)[:10]}: {n} {name}",
                )
            )
    every = max(1, len(days) // 10)
    x_labels = tuple(
        (left + i * slot + slot / 2, utc(d)[5:10]) for i, d in enumerate(days) if i % every == 0
    )
    y_ticks = tuple(
        (top + plot_h - plot_h * t / top_value, str(t)) for t in range(0, top_value + 1, step)
    )
    legend = tuple((name, colour, sum(values)) for name, colour, values in series)
    return Chart(title, width, height, tuple(bars), x_labels, y_ticks, legend, top + plot_h, left)


def _nice_step(peak: int) -> int:
    """1, 2, 5, 10, 20, 50, ...: the smallest that needs at most five grid lines."""
    step = 1
    while peak / step > 5:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    return step


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name, str(default))
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not lo <= int(raw) <= hi:
        raise RequestError(f"{name} must be an integer in {lo}..{hi}")
    return int(raw)


@bp.get("/charts")
def charts() -> Any:
    v = verifier()
    n_days = _int_arg("days", 14, 1, 90)
    first = (v.now() // DAY - n_days + 1) * DAY
    days = [first + i * DAY for i in range(n_days)]
    slot = {d: i for i, d in enumerate(days)}
    # A literal divisor, not a bound one: PostgreSQL needs the GROUP BY expression to be
    # the selected one, and two bound parameters would make them differ.
    day = Appraisal.created_at // literal_column(str(DAY), Integer)
    with v.reader() as s:
        by_day = s.execute(
            select(day, Appraisal.status, func.count())
            .where(Appraisal.created_at >= first)
            .group_by(day, Appraisal.status)
        ).all()
        recent = s.execute(
            select(Appraisal.created_at, Appraisal.checks)
            .where(Appraisal.created_at >= first)
            .order_by(Appraisal.log_index.desc())
            .limit(MAX_REASON_ROWS + 1)
        ).all()
    status_series = {label: [0] * n_days for label in STATUS_COLOURS}
    for day, status, n in by_day:
        i = slot.get(int(day) * DAY)
        label = Status(status).label
        if i is not None and label in status_series:
            status_series[label][i] += int(n)
    decision_series = {name: [0] * n_days for name in DECISION_COLOURS}
    reasons: Counter[str] = Counter()
    per_day: dict[str, dict[str, list[int]]] = {"failed": {}, "warning": {}}
    outcome_of: dict[str, str] = {}
    for created_at, checks in recent[:MAX_REASON_ROWS]:
        i = slot.get(created_at // DAY * DAY)
        if i is None:
            continue
        for c in json.loads(checks):
            outcome = c.get("outcome")
            if c.get("check") == "decision":
                name = str(c.get("detail", "")).replace("_", "-")
                if name in decision_series:
                    decision_series[name][i] += 1
            elif outcome in per_day and c.get("code"):
                code = str(c["code"])
                reasons[code] += 1
                outcome_of.setdefault(code, outcome)
                per_day[outcome].setdefault(code, [0] * n_days)[i] += 1
    # One colour per reason code on both charts, by rank; the rest share "other".
    ranked = [code for code, _ in reasons.most_common(len(PALETTE) - 1)]
    colour = {code: PALETTE[k] for k, code in enumerate(ranked)}

    def reason_series(outcome: str) -> list[tuple[str, str, list[int]]]:
        codes = per_day[outcome]
        out = [(c, colour[c], codes[c]) for c in ranked if c in codes]
        other = [0] * n_days
        for code, values in codes.items():
            if code not in colour:
                other = [a + b for a, b in zip(other, values, strict=True)]
        if any(other):
            out.append(("other", PALETTE[-1], other))
        return out

    return _page(
        "charts.html",
        days=n_days,
        statuses=stacked_chart(
            "Appraisals per day by status",
            days,
            [(name, STATUS_COLOURS[name], vals) for name, vals in status_series.items()],
        ),
        decisions=stacked_chart(
            "Face-match decisions per day",
            days,
            [(name, DECISION_COLOURS[name], vals) for name, vals in decision_series.items()],
        ),
        reasons=stacked_chart("Failure reasons per day", days, reason_series("failed")),
        warnings=stacked_chart("Warning reasons per day", days, reason_series("warning")),
        reason_totals=[(code, n, outcome_of[code]) for code, n in reasons.most_common()],
        truncated=len(recent) > MAX_REASON_ROWS,
    )
