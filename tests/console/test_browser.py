"""The console in a real browser: Debian's headless Chromium, driven by Playwright.

Against the real verifier under gunicorn on 127.0.0.1: log in with an auditor token, open
an appraisal, read the claims the page shows, and check a screenshot is not blank.
Playwright never downloads a browser here: it launches /usr/bin/chromium (Debian's
`chromium`, installed by scripts/apt-packages.txt), with no network features.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from attest.evidence import AntiClone, DocumentAuth, Outcome
from attest.keys import SigningKey, b64url_decode
from attest.report import describe
from tests.rig import require_binary
from tests.verifier.helpers import VerifierServer, release

pytestmark = pytest.mark.rig

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[VerifierServer, dict[str, Any]]]:
    rel = release()
    # Two workers: a session made by one must be honoured by the other (derived key).
    server = VerifierServer(tmp_path_factory.mktemp("console-browser"), rel.key, workers=2)
    server.start()
    try:
        c = server.client()
        device = SigningKey.generate()
        c.enrol(device)
        c.add_release(rel)
        rp, auditor = c.token("relying-party"), c.token("auditor")
        results = []
        cases: tuple[dict[str, Any], ...] = (
            {},
            {},
            {
                "document": DocumentAuth(
                    Outcome.PASSED, AntiClone.CHIP_AUTHENTICATION, Outcome.PASSED, expired=True
                )
            },
        )
        for changes in cases:
            r = c.submit(c.good_token(rp, device, rel, **changes))
            assert r.status_code == 201, r.text
            results.append(r.json())
        c.http.close()
        yield server, {"auditor": auditor, "rp": rp, "results": results}
    finally:
        server.stop()


def test_auditor_logs_in_and_reads_an_appraisal(
    served: tuple[VerifierServer, dict[str, Any]], tmp_path: Path
) -> None:
    chromium = require_binary("chromium")
    from PIL import Image
    from playwright.sync_api import sync_playwright

    server, data = served
    target = data["results"][2]
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh user-data dir
            executable_path=chromium,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            # Not logged in: the console sends the browser to its login page.
            page.goto(f"{server.base}/console/")
            assert page.url.endswith("/console/login")
            # A relying-party token does not get in.
            page.fill("#token", data["rp"])
            page.click("button[type=submit]")
            assert "cannot open the auditor console" in page.inner_text("main")
            # The auditor's does.
            page.fill("#token", data["auditor"])
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/console/$"))
            assert page.inner_text("#tree-size") == "3"
            cookies = {c["name"]: c for c in browser.cookies()}
            assert cookies["edgeproof_console"]["httpOnly"] is True
            assert cookies["edgeproof_console"]["sameSite"] == "Strict"

            # Search by id, then open the appraisal from the result list.
            page.click("text=Appraisals")
            page.fill("input[name=id]", target["appraisal_id"][:12])
            page.click("button:has-text('Search')")
            page.click(f"a:has-text('{target['appraisal_id']}')")
            assert page.inner_text("#status") == "contraindicated"
            names = page.locator("#claims td.claim-name").all_inner_texts()
            report = describe(b64url_decode(target["ear"]["cwt"]))
            assert names == [e.name for e in report.claims]
            claims_text = page.inner_text("#claims")
            for e in report.claims:
                assert e.meaning in claims_text
            assert "document.expired" in page.inner_text("table.checks")
            assert "signature valid" in page.inner_text("main")

            shot = page.screenshot(full_page=True)
            (tmp_path / "appraisal.png").write_bytes(shot)
            image = Image.open(io.BytesIO(shot)).convert("RGB")
            assert image.width >= 1000 and image.height >= 800
            colours = image.getcolors(maxcolors=1 << 20)
            assert colours is not None and len(colours) > 16  # text, tables, status badges
            # The biggest colour (the background) does not cover nearly everything.
            assert max(n for n, _ in colours) < 0.97 * image.width * image.height

            # The inclusion proof verifies; the charts draw bars.
            page.click("text=inclusion proof")
            assert "Verified here" in page.inner_text("main")
            page.click("text=Charts")
            assert page.locator("#chart-status rect").count() >= 2

            # Logging out ends the session.
            page.click("button:has-text('Log out')")
            page.wait_for_url(re.compile(r".*/console/login$"))
            page.goto(f"{server.base}/console/devices")
            assert page.url.endswith("/console/login")
        finally:
            browser.close()


DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
SHOT_WIDTH = 1100  # CSS pixels: the console's main column fits, the PNG stays small
#: `EDGEPROOF_UPDATE_SCREENSHOTS=1 bash scripts/test.sh -k screenshots` rewrites docs/img;
#: an ordinary run checks the same pages into a temporary folder and leaves the tree clean.
SHOTS_DIR = DOCS_IMG if os.environ.get("EDGEPROOF_UPDATE_SCREENSHOTS") == "1" else None


def _shot(page: Any, name: str, into: Path) -> Path:
    """A viewport screenshot as a small palette PNG (docs/auditing.md shows the ones in
    docs/img; made by this test so they show what the console draws today)."""
    from PIL import Image

    image = Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("RGB")
    # Not blank: text, tables and badges give many colours, none covering nearly all.
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 16, name
    assert max(n for n, _ in colours) < 0.97 * image.width * image.height, name
    into.mkdir(exist_ok=True)
    path = into / f"console-{name}.png"
    image.quantize(colors=64).save(path, optimize=True)
    return path


def test_screenshots_of_each_page_for_the_docs(
    served: tuple[VerifierServer, dict[str, Any]], tmp_path: Path
) -> None:
    """Each console page in headless Chromium, saved to docs/img; last, the overview of a
    log with one entry overwritten, which must say "inconsistent" and link the entry."""
    import sqlite3

    chromium = require_binary("chromium")
    from playwright.sync_api import sync_playwright

    server, data = served
    shots_dir = SHOTS_DIR or tmp_path / "img"
    target = data["results"][2]
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": SHOT_WIDTH, "height": 760},
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{server.base}/console/login")
            shots = [_shot(page, "login", shots_dir)]
            page.fill("#token", data["auditor"])
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/console/$"))
            assert page.inner_text("#consistency h2") == "Log consistency: consistent"
            shots.append(_shot(page, "overview", shots_dir))
            page.click("text=Appraisals")
            assert "document.expired" in page.inner_text("td.reason >> nth=0")
            shots.append(_shot(page, "appraisals", shots_dir))
            page.click(f"a:has-text('{target['appraisal_id']}')")
            assert "document.expired" in page.inner_text("#reason")  # at the top
            shots.append(_shot(page, "appraisal", shots_dir))
            page.click("text=inclusion proof")
            assert "Verified here" in page.inner_text("main")
            shots.append(_shot(page, "proof", shots_dir))
            page.click("header >> text=Devices")
            shots.append(_shot(page, "devices", shots_dir))
            page.click("header >> text=Charts")
            assert page.locator("#chart-decisions rect").count() >= 1
            shots.append(_shot(page, "charts", shots_dir))

            # One entry overwritten in the database (its bytes: another genuine result).
            db = sqlite3.connect(server.instance / "verifier.db", timeout=30)
            with db:
                (other,) = db.execute("SELECT data FROM log_entries WHERE idx = 0").fetchone()
                db.execute("UPDATE log_entries SET data = ? WHERE idx = 1", (other,))
            db.close()
            page.click("header >> text=Log")
            assert page.inner_text("#consistency h2") == "Log consistency: inconsistent"
            first = page.inner_text("#first-bad")
            assert "log index 1" in first and data["results"][1]["appraisal_id"] in first
            assert "entry 1's bytes hash to" in page.inner_text("#consistency ul.findings")
            shots.append(_shot(page, "overview-inconsistent", shots_dir))
            # The link opens that appraisal (its record is intact: only the log's copy of
            # its bytes changed, which the overview's list of findings says).
            page.click(f"#first-bad a:has-text('{data['results'][1]['appraisal_id']}')")
            assert data["results"][1]["appraisal_id"] in page.inner_text("h1")
        finally:
            browser.close()
    for path in shots:
        assert path.stat().st_size < 150_000, path  # small enough to keep in the repository
