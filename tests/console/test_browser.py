"""The console in a real browser: Debian's headless Chromium, driven by Playwright.

Against the real verifier under gunicorn on 127.0.0.1: log in with an auditor token, open
an appraisal, read the claims the page shows, and check a screenshot is not blank.
Playwright never downloads a browser here: it launches /usr/bin/chromium (Debian's
`chromium`, installed by scripts/apt-packages.txt), with no network features.
"""

from __future__ import annotations

import io
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
