"""The console's queries on PostgreSQL too (grouping by day, prefix search, counts)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.console.conftest import EXPIRED_DOCUMENT, make_console
from tests.verifier.helpers import PostgresCluster

pytestmark = pytest.mark.rig


def test_console_pages_on_postgresql(tmp_path: Path) -> None:
    cluster = PostgresCluster()
    try:
        c = make_console(tmp_path, cluster.new_database())
        try:
            c.appraise()
            bad = c.appraise(document=EXPIRED_DOCUMENT)
            client = c.login()
            html = client.get("/console/").text
            assert '<td id="tree-size">2</td>' in html
            assert '<span class="ok">consistent</span>' in html  # rebuilt from PostgreSQL
            html = client.get(
                f"/console/appraisals?id={bad['appraisal_id'][:8]}&from=2000-01-01"
            ).text
            assert bad["appraisal_id"] in html and html.count("<tr>") == 2  # header + one row
            # The reason, decision and device filters (substring matches) on PostgreSQL.
            html = client.get(
                "/console/appraisals?reason=document.expired&decision=match&device=device-1"
            ).text
            assert bad["appraisal_id"] in html and html.count("<tr>") == 2
            html = client.get("/console/appraisals?decision=no-match").text
            assert "No appraisal matches" in html
            html = client.get("/console/charts?days=3").text
            assert re.search(r"<title>[0-9-]+: 2 match</title>", html)
            assert re.search(r"<title>[0-9-]+: 1 affirming</title>", html)
            assert re.search(r"<title>[0-9-]+: 1 document.expired</title>", html)
            assert client.get("/console/devices").status_code == 200
            assert (
                "Verified here"
                in client.get(f"/console/appraisals/{bad['appraisal_id']}/proof").text
            )
        finally:
            c.v.engine.dispose()
    finally:
        cluster.stop()
