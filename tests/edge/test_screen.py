"""What the person and the clerk see (issue 19): the verdict table (docs/operator.md,
"Verdicts"), and the person's page in real headless Chromium (Debian's /usr/bin/chromium
through Playwright, as tests/console/test_browser.py), driven by the same Screen and
PublishingOverlay the device service uses. Screenshots for docs/img/device-*.png on request."""

from __future__ import annotations

import io
import json
import os
import socket
import urllib.request
from pathlib import Path

import pytest

from attest.challenge import Gesture
from edge.liveness.prompts import Prompt, PublishingOverlay
from edge.screen.page import TEXT, Screen, serve
from edge.screen.verdict import CLERK, LANGS, PERSON, Plain, Verdict, from_error, from_result
from tests.rig import require_binary

REPO = Path(__file__).resolve().parents[2]

# (EAR status, decision, reason) -> plain verdict; the table of docs/operator.md.
TABLE = [
    ("affirming", "match", None, Plain.VERIFIED),
    ("affirming", "no-match", None, Plain.NOT_SAME_PERSON),
    ("warning", "no-match", "document.expired", Plain.NOT_SAME_PERSON),
    ("affirming", "inconclusive", None, Plain.TRY_AGAIN),
    ("warning", "match", "document.expired", Plain.CHECK_BY_HAND),
    ("contraindicated", "match", "liveness.failed", Plain.TRY_AGAIN),
    ("contraindicated", "match", "document.not-authenticated", Plain.CHECK_BY_HAND),
    ("contraindicated", "match", "device.revoked", Plain.DEVICE_PROBLEM),
    ("contraindicated", "match", "reference.unknown-release", Plain.DEVICE_PROBLEM),
    ("contraindicated", None, None, Plain.CHECK_BY_HAND),
    ("none", None, "evidence.claims-invalid", Plain.DEVICE_PROBLEM),
    (None, None, None, Plain.PENDING),
]

ERRORS = [
    ("session.no-consent", Plain.NO_CONSENT),
    ("pcsc.no-card", Plain.TRY_AGAIN),
    ("pcsc.chip-timeout", Plain.TRY_AGAIN),
    ("bac.auth-failed", Plain.CHECK_MRZ),
    ("pace.mutual-auth-failed", Plain.CHECK_MRZ),
    ("pa.csca-untrusted", Plain.CHECK_BY_HAND),
    ("sod.bad-signature", Plain.CHECK_BY_HAND),
    ("session.verifier-unreachable", Plain.DEVICE_PROBLEM),
    ("session.erasure-unproven", Plain.TRY_AGAIN),
]


@pytest.mark.parametrize(("status", "decision", "reason", "plain"), TABLE)
def test_verdict_table(
    status: str | None, decision: str | None, reason: str | None, plain: Plain
) -> None:
    v = from_result(status, decision, reason)
    assert v.plain is plain
    if reason:
        assert v.clerk("en").endswith(f"[{reason}]") and v.clerk("fr").endswith(f"[{reason}]")


@pytest.mark.parametrize(("code", "plain"), ERRORS)
def test_session_errors(code: str, plain: Plain) -> None:
    assert from_error(code).plain is plain
    assert f"[{code}]" in from_error(code).clerk("en")


def test_every_verdict_has_both_languages_and_the_table_is_documented() -> None:
    doc = (REPO / "docs" / "operator.md").read_text()
    for lang in LANGS:
        assert set(PERSON[lang]) == set(Plain) == set(CLERK[lang])
        assert set(TEXT[lang]) == set(TEXT["en"])
    for plain in Plain:
        assert PERSON["en"][plain] != PERSON["fr"][plain] or plain is Plain.VERIFIED
        assert f"`{plain.value}`" in doc, plain  # each verdict has its row in the docs
    # Only affirming + match says "verified"; unknown language falls back to English.
    verified = [row for row in TABLE if row[3] is Plain.VERIFIED]
    assert verified == [("affirming", "match", None, Plain.VERIFIED)]
    assert Verdict(Plain.VERIFIED, None).person("de") == PERSON["en"][Plain.VERIFIED]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_page_state_carries_nothing_personal_and_only_loopback() -> None:
    screen = Screen("en")
    server = serve(screen, _free_port())
    try:
        assert server.server_address[0] == "127.0.0.1"
        base = f"http://127.0.0.1:{server.server_address[1]}"
        overlay = PublishingOverlay(screen.prompt, window_s=6.0)
        overlay.show(Prompt(1, 2, Gesture.TURN_LEFT))
        with urllib.request.urlopen(f"{base}/state", timeout=5) as resp:
            state = json.loads(resp.read())
        assert state["phase"] == "prompt" and state["gesture"] == "turn_left"
        assert state["deadline_ms"] > 0 and state["detail"] == "Step 1 of 2"
        assert set(state) <= {"phase", "title", "detail", "gesture", "deadline_ms",
                              "seconds_word", "verdict", "seq", "lang"}  # fmt: skip
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{base}/../etc/passwd", timeout=5)
    finally:
        server.shutdown()
        server.server_close()


def test_person_page_in_chromium(tmp_path: Path) -> None:
    """Consent, passport, a gesture with its countdown, the verdict; en and fr.
    With EDGEPROOF_UPDATE_SCREENSHOTS=1 the screenshots go to docs/img, so the docs show
    what the tests saw."""
    chromium = require_binary("chromium")
    from PIL import Image
    from playwright.sync_api import sync_playwright

    screen = Screen("en")
    server = serve(screen, _free_port())
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    overlay = PublishingOverlay(screen.prompt, window_s=6.0)
    # docs/img only on request (as tests/console/test_browser.py): a run leaves the tree clean.
    update = os.environ.get("EDGEPROOF_UPDATE_SCREENSHOTS") == "1"
    out = REPO / "docs" / "img" if update else tmp_path / "img"
    out.mkdir(exist_ok=True)
    args = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ]  # fmt: skip
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(
                str(tmp_path / "profile"),
                executable_path=chromium,
                args=args,
                headless=True,
                viewport={"width": 1024, "height": 600},  # the Pi's 7-inch touch display
            )
            try:
                page = browser.new_page()
                page.set_default_timeout(10_000)
                page.goto(base)

                def shows(title: str, name: str) -> str:
                    page.wait_for_function(
                        "t => document.getElementById('title').textContent === t", arg=title
                    )
                    png = page.screenshot()
                    (out / f"device-{name}.png").write_bytes(png)
                    img = Image.open(io.BytesIO(png)).convert("L")
                    lo, hi = img.getextrema()
                    assert isinstance(lo, int) and isinstance(hi, int)
                    assert hi - lo > 100, f"{name}: blank screenshot"
                    return page.inner_text("main")

                screen.phase("consent")
                text = shows(TEXT["en"]["consent"], "consent")
                assert "erases them" in text and "You do not have to accept" in text
                screen.phase("passport")
                shows(TEXT["en"]["passport"], "passport")
                overlay.show(Prompt(1, 2, Gesture.BLINK))
                shows("Blink once", "gesture")
                count = page.inner_text("#count")
                assert count.isdigit() and 1 <= int(count) <= 6, count
                page.wait_for_function(
                    "c => document.getElementById('count').textContent !== c", arg=count
                )  # the countdown runs
                assert int(page.inner_text("#count")) < int(count)
                screen.verdict(from_result("affirming", "match"))
                shows("Verified", "verified")
                assert "verdict-verified" in page.evaluate("document.body.className")
                screen.set_lang("fr")
                screen.verdict(from_result("affirming", "no-match"))
                shows("Pas la même personne", "not-same-person-fr")
                assert page.evaluate("document.documentElement.lang") == "fr"
                screen.set_lang("en")
                screen.verdict(from_result("contraindicated", "match", "pa.csca-untrusted"))
                text = shows("Please see the clerk", "check-by-hand")
                assert "pa." not in text  # reason codes are for the clerk only
                screen.phase("problem")
                shows(TEXT["en"]["problem"], "problem")
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()


def test_reason_from_the_verifier_is_a_plain_code() -> None:
    """The reason shown to the clerk comes from an unsigned part of the verifier's answer:
    only a dotted code passes, never control characters or terminal escapes."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from edge.verifier_link import _first_reason

    assert _first_reason([{"code": None}, {"code": "pa.csca-untrusted"}]) == "pa.csca-untrusted"
    assert _first_reason([{"code": "\x1b[2Jpa.x"}]) is None
    assert _first_reason("x") is None and _first_reason([1, None, []]) is None

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.dictionaries(st.just("code"), st.one_of(st.none(), st.text()))))
    def fuzz(checks: list[dict[str, str | None]]) -> None:
        got = _first_reason(checks)
        assert got is None or (got.isascii() and got.isprintable() and len(got) <= 128)

    fuzz()
