"""The Flask app factory and everything every request shares: problems, auth, bodies.

Every failure leaves as an RFC 9457 problem document (application/problem+json) with a
stable `code` from verifier.errors.REASONS; an unexpected exception is logged with its
trace on the server and answered with `request.internal`, never with the trace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Flask, Response, g, json, request
from sqlalchemy.exc import DatabaseError, IntegrityError
from werkzeug.exceptions import HTTPException

from verifier import metrics
from verifier.config import Config, load_config
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


def problem(code: str, detail: str, **extra: Any) -> Response:
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


_HTTP_CODES = {
    401: "request.unauthorized",
    403: "request.forbidden",
    404: "request.not-found",
    405: "request.method-not-allowed",
    413: "request.too-large",
    415: "request.unsupported-media-type",
}


def verifier() -> Verifier:
    v: Verifier = g.verifier
    return v


def caller() -> Caller:
    c: Caller = g.caller
    return c


def require(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Bearer-token authentication (RFC 6750) and a role check."""

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


def create_app(config: Config, *, clock: Callable[[], float] = time.time) -> Flask:
    app = Flask("verifier", instance_path=str(config.instance_path.resolve()))
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    v = Verifier(config, clock)
    app.extensions["verifier"] = v
    log.info("verifier configured: %s", config.describe())

    @app.before_request
    def _start() -> None:
        g.verifier = v
        g.started = time.perf_counter()

    @app.after_request
    def _done(resp: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.observe(request.method, rule, resp.status_code, time.perf_counter() - g.started)
        resp.headers.setdefault("Cache-Control", "no-store")  # tiles set their own
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

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

    from verifier.api import bp
    from verifier.console import bp as console_bp
    from verifier.console import init_app as init_console

    app.register_blueprint(bp)
    from verifier.tlog_api import bp as tlog_bp

    app.register_blueprint(tlog_bp)
    v.start_publisher()
    init_console(app, v.result_key)  # the console's session cookie and filters
    app.register_blueprint(console_bp)
    return app


def create_app_from_env() -> Flask:
    """gunicorn's entry point: `verifier.app:create_app_from_env()` (once per worker)."""
    logging.basicConfig(level=logging.INFO)
    app = create_app(load_config())
    app.extensions["verifier"].open_pool()
    return app
