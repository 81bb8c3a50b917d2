"""What every HTTP view shares: problem documents, bearer auth, body and argument checks.

Why one module: the API (verifier/api.py), the C2SP log routes (verifier/tlog_api.py), the
console (verifier/console*.py) and the app factory (verifier/app.py) all need these; when
they lived in app.py, the views imported the factory that imported the views. Here they
depend only on the facade's types (verifier.service) and verifier.errors, so no verifier
module imports back into the app (tests/verifier/test_import_cycles.py holds that).

Every failure leaves as an RFC 9457 problem document (application/problem+json) with a
stable `code` from verifier.errors.REASONS; an unexpected exception is logged with its
trace on the server and answered with `request.internal`, never with the trace.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Flask, Response, g, json, jsonify, request
from sqlalchemy.exc import DatabaseError, IntegrityError
from werkzeug.exceptions import HTTPException

from verifier.errors import REASONS, RequestError, VerifierError
from verifier.service import Caller, Verifier

try:  # gunicorn reads the body for the app: a broken framing surfaces as its exceptions
    from gunicorn.http.errors import NoMoreData, ParseException

    _BAD_FRAMING: tuple[type[BaseException], ...] = (ParseException, NoMoreData)
except ImportError:  # pragma: no cover - another WSGI server
    _BAD_FRAMING = ()

log = logging.getLogger("verifier")
PROBLEM_TYPE = "urn:edgeproof:problem:"
MAX_BODY = 300 * 1024  # the largest body any route accepts (a signed release manifest)

P = ParamSpec("P")
R = TypeVar("R")

_HTTP_CODES = {
    401: "request.unauthorized",
    403: "request.forbidden",
    404: "request.not-found",
    405: "request.method-not-allowed",
    413: "request.too-large",
    415: "request.unsupported-media-type",
}


def problem(code: str, detail: str, **extra: Any) -> Response:
    """An RFC 9457 problem document; a 401 also names the scheme (RFC 6750 section 3)."""
    reason = REASONS[code]
    body = {
        "type": PROBLEM_TYPE + code,
        "title": reason.title,
        "status": reason.status,
        "detail": detail,
        "code": code,
        **extra,
    }
    resp = Response(json.dumps(body), status=reason.status, mimetype="application/problem+json")
    if reason.status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="edgeproof-verifier"'
    return resp


def install_error_handlers(app: Flask) -> None:
    """Every error the app can meet, as a problem document (a blueprint may override)."""

    @app.errorhandler(VerifierError)
    def _verifier_error(exc: VerifierError) -> Response:
        return problem(exc.code, exc.message, **exc.extra)

    @app.errorhandler(DatabaseError)
    def _db_error(exc: DatabaseError) -> Response:
        if isinstance(exc, IntegrityError):  # a constraint the code should have checked: a bug
            return _unexpected(exc)
        log.error("database error: %s", exc.__class__.__name__)
        return problem("request.unavailable", "the database is not reachable; retry later")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = _HTTP_CODES.get(exc.code or 400, "request.malformed")
        return problem(code, exc.description or code)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if isinstance(exc, _BAD_FRAMING):
            # RFC 9112 section 7.1: a chunked body whose framing is broken (size not hex,
            # a missing CRLF, a bad extension, the data cut short) is the client's error,
            # found while the view reads the body. A 400, never a 500 with a trace.
            log.info("malformed request body: %s", type(exc).__name__)
            return problem("request.malformed", "the request body's framing is malformed")
        log.exception("unexpected error")
        return problem("request.internal", "internal error; the server log has details")


def verifier() -> Verifier:
    """The worker's facade, put on `g` by the app before each request."""
    v: Verifier = g.verifier
    return v


def caller() -> Caller:
    """Who `require` (or the console's session) authenticated for this request."""
    c: Caller = g.caller
    return c


def require(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Bearer-token authentication (RFC 6750 section 2.1) and a role check."""

    def deco(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            auth = request.headers.get("Authorization", "")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token or len(token) > 256:
                raise VerifierError("send Authorization: Bearer TOKEN", code="request.unauthorized")
            who = verifier().authenticate(token.strip())
            if who is None:
                raise VerifierError("unknown or revoked token", code="request.unauthorized")
            if who.role not in roles:
                raise VerifierError(
                    f"role {who.role} may not do this; needs {' or '.join(roles)}",
                    code="request.forbidden",
                )
            g.caller = who
            return view(*args, **kwargs)

        return wrapped

    return deco


def body(media_type: str, limit: int, *, optional: bool = False) -> bytes:
    """The request body, checked for content type (exact, parameters ignored) and size."""
    if request.content_length is not None and request.content_length > limit:
        raise VerifierError(f"body over {limit} bytes", code="request.too-large")
    data = request.get_data(cache=False)
    if len(data) > limit:
        raise VerifierError(f"body over {limit} bytes", code="request.too-large")
    if optional and not data:
        return data
    if request.mimetype != media_type:
        raise VerifierError(
            f"send Content-Type: {media_type} (got {request.mimetype or 'none'})",
            code="request.unsupported-media-type",
        )
    return data


def json_body(*, optional: bool = False) -> dict[str, Any]:
    """A JSON object body, bounded in size and depth (a deep array must not crash a worker)."""
    data = body("application/json", verifier().config.max_json_bytes, optional=optional)
    if not data:
        return {}
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested beyond the stack
        raise RequestError("body is not JSON (or nested too deeply)") from None
    if not isinstance(doc, dict):
        raise RequestError("body must be a JSON object")
    return doc


def only(doc: dict[str, Any], allowed: set[str]) -> None:
    """Unknown members are refused, not ignored: a misspelt option must not pass silently."""
    extra = sorted(set(doc) - allowed)
    if extra:
        raise RequestError(f"unknown members {extra}; allowed: {sorted(allowed)}")


def created(doc: dict[str, Any], location: str | None = None) -> Response:
    """201 with the new resource's Location (RFC 9110 section 15.3.2)."""
    resp = jsonify(doc)
    resp.status_code = 201
    if location:
        resp.headers["Location"] = location
    return resp


def int_arg(name: str, default: int | None = None, hi: int = 2**31, lo: int = 0) -> int:
    """A decimal query argument in lo..hi; None as default makes it required."""
    raw = request.args.get(name)
    if raw is None:
        if default is None:
            raise RequestError(f"query parameter {name} is required")
        return default
    if not re.fullmatch(r"[0-9]{1,10}", raw) or not lo <= int(raw) <= hi:
        raise RequestError(f"{name} must be an integer in {lo}..{hi}")
    return int(raw)
