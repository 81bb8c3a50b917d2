"""The Flask app factory: one `Verifier` per worker, its blueprints and error handlers.

The views (verifier/api.py, tlog_api.py, console.py) and what they share (verifier/http.py)
never import this module, so it can import them at the top: no cycle among verifier
modules (tests/verifier/test_import_cycles.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flask import Flask, Response, g, request

from verifier import metrics
from verifier.api import bp as api_bp
from verifier.config import Config, load_config
from verifier.console import bp as console_bp
from verifier.console import init_app as init_console
from verifier.http import MAX_BODY, install_error_handlers
from verifier.service import Verifier
from verifier.tlog_api import bp as tlog_bp

log = logging.getLogger("verifier")


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

    install_error_handlers(app)
    app.register_blueprint(api_bp)
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
