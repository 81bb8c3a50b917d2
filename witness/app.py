"""The witness's HTTP face (c2sp.org/tlog-witness@v1.0.0): a small Flask app under gunicorn.

POST /add-checkpoint           the submission API
GET  /<origin hash>/checkpoint the monitoring API: the latest cosigned checkpoint
GET  /healthz
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Response, request

from attest import paths
from witness import config as wconfig
from witness.core import Answer, Witness
from witness.store import Store

MAX_BODY = 20 * 1024


def _answer(a: Answer) -> Response:
    resp = Response(a.body, status=a.status, content_type=a.content_type)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def create_app(cfg: wconfig.WitnessConfig, clock: Callable[[], float] = time.time) -> Flask:
    app = Flask("witness")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    w = Witness(cfg.signer(), cfg.logs, Store(cfg.db), clock)
    app.extensions["witness"] = w

    @app.post(paths.WITNESS_ADD_CHECKPOINT)
    def add_checkpoint() -> Response:
        return _answer(w.add_checkpoint(request.get_data(cache=False)))

    @app.get(paths.WITNESS_CHECKPOINT_RULE)
    def checkpoint(ohash: str) -> Response:
        if not re.fullmatch(r"[0-9a-f]{64}", ohash):
            return _answer(Answer(404, "text/plain", "not found\n"))
        return _answer(w.checkpoint(ohash))

    @app.get(paths.HEALTHZ)
    def healthz() -> Response:
        return _answer(Answer(200, "text/plain", f"{cfg.name}\n"))

    @app.errorhandler(413)
    def _too_large(_exc: Exception) -> Response:
        return _answer(Answer(413, "text/plain", f"body over {MAX_BODY} bytes\n"))

    return app


def create_app_from_env() -> Flask:
    """gunicorn's entry point: `witness.app:create_app_from_env()`."""
    logging.basicConfig(level=logging.INFO)
    return create_app(wconfig.load(Path(os.environ[wconfig.ENV_DIR])))
