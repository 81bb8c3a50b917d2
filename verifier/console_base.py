"""The auditor console: server-rendered pages over the verifier's own records (issue 8).

Auditors (and admins) log in once with their bearer token; the console keeps a random
session id in a signed, HttpOnly, SameSite=Strict session cookie, and the session itself
(its token and expiry) on the server, re-read on every request: revoking the token ends the
session at once, and logging out deletes it, so a copy of the cookie is worth nothing.
Relying-party tokens are refused: a relying party may see only its own results, through
the API.

Everything is rendered by Jinja with autoescaping (the pages show device-supplied and
verifier-signed data); charts are inline SVG computed in Python, so the pages need no
JavaScript and no external asset. Claims are explained by attest.report, the same text
`edgeproof attest inspect` prints.

This module holds what every console page shares: the blueprint, the session and its
CSRF token, the page renderer and the formats (times, key ids); the pages are in
verifier/console_overview.py, console_appraisals.py, console_devices.py and
console_charts.py, and verifier/console.py loads them all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
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
from sqlalchemy import delete, select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from attest.ear import DECISION_NAMES, decode_ear_unverified
from attest.errors import AttestError
from attest.keys import SigningKey, b64url, b64url_decode
from verifier.errors import VerifierError
from verifier.http import verifier
from verifier.service import Caller
from verifier.storage import ApiToken, ConsoleSession, Device

log = logging.getLogger("verifier.console")
bp = Blueprint("console", __name__, url_prefix="/console")
CONSOLE_ROLES = ("auditor", "admin")
SESSION_LIFETIME = timedelta(hours=8)
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


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(f"console/{template}", **context), status


@bp.errorhandler(VerifierError)
def _verifier_error(exc: VerifierError) -> tuple[str, int]:
    return page("error.html", exc.status, code=exc.code, message=exc.message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    status = exc.code or 400
    return page("error.html", status, code=f"http.{status}", message=exc.description or "")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return page("login.html")
    if not _check_csrf():
        return page("login.html", 400, error="the form expired; please try again")
    token = request.form.get("token", "").strip()
    who = verifier().authenticate(token) if 0 < len(token) <= 256 else None
    if who is None:
        log.info("console login refused: unknown or revoked token")
        return page("login.html", 401, error="unknown or revoked token")
    if who.role not in CONSOLE_ROLES:
        log.info("console login refused: role %s", who.role)
        return page("login.html", 403, error=f"a {who.role} token cannot open the auditor console")
    _close_session()  # a session open in this browser ends with a new login
    session.clear()  # a fresh session (and CSRF token) at each login
    session["sid"] = _open_session(who.token_id)
    log.info("console login: token %d (%s)", who.token_id, who.role)
    return redirect(url_for("console.overview"), code=303)


@bp.post("/logout")
def logout() -> Any:
    if not _check_csrf():
        return page("error.html", 400, code="request.malformed", message="the form expired")
    _close_session()  # on the server: the cookie, if kept or copied, names nothing now
    session.clear()
    return redirect(url_for("console.login"), code=303)


def b64_to_hex(text: str) -> str:
    return b64url_decode(text).hex()


def device_names() -> dict[bytes, str]:
    """Every key id's device, so lists show a name beside the key (issue 19, finding 6)."""
    with verifier().reader() as s:
        return {bytes(k): d for k, d in s.execute(select(Device.kid, Device.device_id)).all()}


def decision_of(cwt: bytes) -> str:
    try:
        d = decode_ear_unverified(cwt).decision
    except AttestError:
        return "unreadable"
    return DECISION_NAMES[d] if d is not None else "-"
