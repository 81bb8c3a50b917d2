"""The auditor console: server-rendered pages over the verifier's own records (issue 8).

Auditors (and admins) log in once with their bearer token; the console keeps a random
session id in a signed, HttpOnly, SameSite=Strict session cookie, and the session itself
on the server (verifier/console_base.py). This module is what the app registers: it loads
every page module, whose views attach themselves to the one blueprint, and re-exports the
names other code and the tests use.

  console_base.py        blueprint, login and session, CSRF, page renderer, formats
  console_overview.py    /console/            checkpoint, counts, the log's consistency
  console_appraisals.py  /console/appraisals  search, one appraisal, its proof
  console_devices.py     /console/devices     keys by device, with their history
  console_charts.py      /console/charts      per-day charts as inline SVG
"""

from __future__ import annotations

from verifier import console_appraisals, console_charts, console_devices, console_overview
from verifier.console_base import (
    DECISION_COLOURS,
    PALETTE,
    STATUS_COLOURS,
    bp,
    init_app,
    session_secret,
    utc,
    utc_epoch,
)
from verifier.console_charts import _nice_step, stacked_chart
from verifier.console_overview import log_consistency

PAGES = (console_overview, console_appraisals, console_devices, console_charts)

__all__ = [
    "DECISION_COLOURS",
    "PAGES",
    "PALETTE",
    "STATUS_COLOURS",
    "_nice_step",
    "bp",
    "init_app",
    "log_consistency",
    "session_secret",
    "stacked_chart",
    "utc",
    "utc_epoch",
]
