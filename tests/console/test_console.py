"""The auditor console through Flask's test client: who gets in, what each page shows.

The app is the real one (create_app) on a real SQLite database; appraisals are made through
the verifier's own submit path (tests/console/conftest.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import update

from attest.keys import SigningKey, b64url, b64url_decode
from attest.merkle import leaf_hash
from tests.console.conftest import Console, csrf_of, make_console
from verifier import console as console_mod
from verifier import console_appraisals
from verifier.storage import Appraisal, LogEntry

PAGES = ("/console/", "/console/appraisals", "/console/devices", "/console/charts")


def _aid(c: Console, i: int = 0) -> str:
    aid: str = c.results[i]["appraisal_id"]
    return aid


# -- authentication ----------------------------------------------------------------------


def test_every_page_needs_a_session(console: Console) -> None:
    c = console.client()
    for path in (
        *PAGES,
        f"/console/appraisals/{_aid(console)}",
        f"/console/appraisals/{_aid(console)}/proof",
    ):
        r = c.get(path)
        assert r.status_code == 303, path
        assert r.headers["Location"].endswith("/console/login")
    # A bearer token is not a console session.
    r = c.get("/console/", headers={"Authorization": f"Bearer {console.tokens['auditor']}"})
    assert r.status_code == 303


def test_unknown_token_is_refused(console: Console) -> None:
    c = console.client()
    csrf = csrf_of(c.get("/console/login").text)
    r = c.post("/console/login", data={"token": "ep_not-a-token", "csrf": csrf})
    assert r.status_code == 401
    assert "unknown or revoked token" in r.text
    assert c.get("/console/").status_code == 303


def test_relying_party_token_is_refused(console: Console) -> None:
    c = console.client()
    csrf = csrf_of(c.get("/console/login").text)
    r = c.post("/console/login", data={"token": console.tokens["relying-party"], "csrf": csrf})
    assert r.status_code == 403
    assert "relying-party token cannot open the auditor console" in r.text
    assert c.get("/console/").status_code == 303


def test_login_without_the_form_token_is_refused(console: Console) -> None:
    c = console.client()
    r = c.post("/console/login", data={"token": console.tokens["auditor"]})
    assert r.status_code == 400
    assert c.get("/console/").status_code == 303


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_login_sets_a_strict_http_only_cookie_and_logout_ends_it(
    console: Console, role: str
) -> None:
    c = console.client()
    csrf = csrf_of(c.get("/console/login").text)
    r = c.post("/console/login", data={"token": console.tokens[role], "csrf": csrf})
    assert r.status_code == 303 and r.headers["Location"].endswith("/console/")
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("edgeproof_console=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert console.tokens[role] not in cookie  # the token itself never goes into the cookie
    for path in PAGES:
        assert c.get(path).status_code == 200, path
    page = c.get("/console/")
    assert f"{role} (token" in page.text
    # Logout needs the form's CSRF token, then ends the session.
    assert c.post("/console/logout", data={"csrf": "wrong"}).status_code == 400
    assert c.get("/console/").status_code == 200
    r = c.post("/console/logout", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["Location"].endswith("/console/login")
    assert c.get("/console/").status_code == 303


def test_a_cookie_captured_before_logout_no_longer_works(console: Console) -> None:
    """Issue 16, finding 11: logout ends the session on the server, not just in the
    browser that pressed the button."""
    c = console.login()
    page = c.get("/console/")
    assert page.status_code == 200
    captured = c.get_cookie("edgeproof_console", path="/console")
    assert captured is not None
    thief = console.client()
    thief.set_cookie("edgeproof_console", captured.value, path="/console")
    assert thief.get("/console/").status_code == 200  # the same session, before logout
    r = c.post("/console/logout", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    r = thief.get("/console/")
    assert r.status_code == 303 and r.headers["Location"].endswith("/console/login")
    # A second login opens a new session; the old cookie stays dead.
    c2 = console.login()
    assert c2.get("/console/").status_code == 200
    assert thief.get("/console/").status_code == 303


def test_revoking_the_token_ends_the_session(console: Console) -> None:
    c = console.login()
    assert c.get("/console/").status_code == 200
    who = console.v.authenticate(console.tokens["auditor"])
    assert who is not None
    console.v.revoke_token(who.token_id)
    assert c.get("/console/").status_code == 303


def test_a_forged_session_cookie_is_ignored(console: Console, tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    other = make_console(tmp_path / "other")
    try:
        forged = other.login()  # signed with another instance's key
        cookie = forged.get_cookie("edgeproof_console", path="/console")
        assert cookie is not None
        c = console.client()
        c.set_cookie("edgeproof_console", cookie.value, path="/console")
        assert c.get("/console/").status_code == 303
    finally:
        other.v.engine.dispose()


def test_session_secret_is_derived_from_the_result_key() -> None:
    k1, k2 = SigningKey.generate(), SigningKey.generate()
    s1 = console_mod.session_secret(k1)
    assert s1 == console_mod.session_secret(SigningKey.from_private_pem(k1.private_pem()))
    assert s1 != console_mod.session_secret(k2)
    assert len(s1) == 32 and s1 not in k1.private_pem()


# -- pages -------------------------------------------------------------------------------


def test_overview_shows_the_latest_checkpoint_and_counts(console: Console) -> None:
    c = console.login()
    html = c.get("/console/").text
    cp = console.v.checkpoint()
    assert '<td id="tree-size">3</td>' in html
    root_hex = b64url_decode(cp["root_hash"]).hex()
    assert root_hex in html
    counts = dict(
        re.findall(r'<span class="status (\w+)">\w+</span></td>\s*<td><a[^>]*>(\d+)</a>', html)
    )
    assert counts == {"affirming": "2", "warning": "0", "contraindicated": "1"}
    assert "1 device(s), 1 key(s), 0 revoked" in html


def test_search_by_id_time_and_status_with_paging(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = console.login()
    ids = [r["appraisal_id"] for r in console.results]
    html = c.get("/console/appraisals").text
    assert all(i in html for i in ids)
    # By id prefix: only that one.
    html = c.get(f"/console/appraisals?id={ids[1][:10]}").text
    assert ids[1] in html and ids[0] not in html and ids[2] not in html
    # By status.
    html = c.get("/console/appraisals?status=contraindicated").text
    assert ids[2] in html and ids[0] not in html
    # By time: a range in the future holds nothing; one around now holds all.
    assert "No appraisal matches" in c.get("/console/appraisals?from=2999-01-01").text
    html = c.get("/console/appraisals?from=2000-01-01T00:00&to=2999-12-31").text
    assert all(i in html for i in ids)
    # Paged, newest first.
    monkeypatch.setattr(console_appraisals, "PAGE_SIZE", 2)
    first = c.get("/console/appraisals").text
    assert ids[2] in first and ids[1] in first and ids[0] not in first
    nxt = re.search(r'rel="next" href="([^"]+)"', first)
    assert nxt is not None
    second = c.get(nxt.group(1).replace("&amp;", "&")).text
    assert ids[0] in second and ids[2] not in second
    assert 'rel="next"' not in second and 'rel="prev"' in second


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("id=xyz", "up to 32 hexadecimal digits"),
        ("status=great", "status must be one of"),
        ("page=0", "page must be"),
        ("from=yesterday", "from must be a UTC date"),
        ("from=2026-02-02&to=2026-01-01", "before its start"),
    ],
)
def test_search_rejects_bad_input_clearly(console: Console, query: str, message: str) -> None:
    r = console.login().get(f"/console/appraisals?{query}")
    assert r.status_code == 400
    assert message in r.text


def test_appraisal_page_explains_the_result_claim_by_claim(console: Console) -> None:
    c = console.login()
    bad = console.results[2]
    r = c.get(f"/console/appraisals/{bad['appraisal_id']}")
    assert r.status_code == 200
    html = r.text
    assert 'id="status">contraindicated<' in html
    assert "edgeproof-production-v1" in html
    # Checks with their reason codes.
    assert re.search(
        r"document-valid</td><td>sourced-data</td><td>failed</td>\s*<td><code>document.expired</code>",
        html,
    )
    # Every EAR claim, with the names and meanings attest.report gives `attest inspect`.
    from attest.report import describe

    report = describe(b64url_decode(bad["ear"]["cwt"]), console.v.keyset)
    assert report.ok and report.signature_valid
    ear_table = html[html.index('id="claims"') :]
    names = re.findall(r'<td class="claim-name">([^<]+)</td>', ear_table)
    assert names == [e.name for e in report.claims]
    # The device's evidence, claim by claim, its signature checked with the pinned key.
    ev_table = html[html.index('id="evidence-claims"') : html.index('id="claims"')]
    ev_names = re.findall(r'<td class="claim-name">([^<]+)</td>', ev_table)
    assert "eat_nonce" in ev_names and "liveness" in ev_names and "erasure" in ev_names
    assert "device key pinned at enrolment" in html
    for e in report.claims:
        assert f"<td>{e.meaning}</td>".replace("'", "&#39;") in html
    assert "signature valid" in html
    assert "ear_status</th><td>contraindicated" in html  # draft-ietf-rats-ear-04 names
    # The evidence digest, the log index and the link to the inclusion proof.
    ext = report.claims[[e.name for e in report.claims].index("urn:edgeproof:ear:result")]
    assert isinstance(ext.value, dict) and ext.value["1"] in html
    assert (
        f'<td>{bad["log_index"]} · <a href="/console/appraisals/{bad["appraisal_id"]}/proof">'
        in html
    )
    assert bad["ear"]["jwt"] in html


def test_proof_page_verifies_inclusion_in_the_latest_checkpoint(console: Console) -> None:
    c = console.login()
    html = c.get(f"/console/appraisals/{_aid(console, 1)}/proof").text
    assert "Verified here" in html
    assert "<td>3 (checkpoint of" in html
    assert len(re.findall(r"<li><code>[0-9a-f]{64}</code></li>", html)) == 2  # log2(3) rounded


def test_a_rewritten_record_fails_its_proof_on_the_page(console: Console) -> None:
    """The page recomputes the leaf from the stored result, so tampering shows."""
    aid = _aid(console, 0)
    other = b64url_decode(console.results[1]["ear"]["cwt"])
    with console.v.writer() as s, s.begin():
        s.execute(update(Appraisal).where(Appraisal.id == aid).values(ear_cwt=other))
    html = console.login().get(f"/console/appraisals/{aid}/proof").text
    assert "Does not verify" in html and "merkle.root-mismatch" in html
    assert "differs from the log" in html


def test_unknown_appraisal_is_a_404_page(console: Console) -> None:
    c = console.login()
    for aid in ("0" * 32, "not-an-id"):
        r = c.get(f"/console/appraisals/{aid}")
        assert r.status_code == 404
        assert r.mimetype == "text/html"
        assert "no such appraisal" in r.text


def test_devices_show_enrolment_rotation_and_revocation(console: Console) -> None:
    old = console.device.public.kid
    new_key = SigningKey.generate()
    console.v.rotate_device(old, new_key.public, 600)
    console.v.revoke_device(new_key.public.kid)
    third = SigningKey.generate()
    console.v.enrol("device-2", third.public)
    html = console.login().get("/console/devices").text
    assert "<h2>device-1</h2>" in html and "<h2>device-2</h2>" in html
    assert f'id="key-{b64url(old)}"' in html
    new_kid = b64url(new_key.public.kid)
    history = re.findall(r"<li>[^<]*: (key [^<]*)</li>", html)
    # Issue 19: key ids in full (base64url), never cut off; times in UTC with the epoch.
    rotated = f"key {b64url(old)} rotated to {new_kid}; still accepted until "
    assert len(history) == 5
    assert history[0] == f"key {b64url(old)} enrolled"
    assert history[1].startswith(rotated)
    assert re.fullmatch(r".* \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+\)", history[1])
    assert history[2:] == [
        f"key {new_kid} enrolled",
        f"key {new_kid} revoked",
        f"key {b64url(third.public.kid)} enrolled",
    ]
    states = re.findall(r'<span class="state (\w+)">', html)
    assert states == ["retiring", "revoked", "active"]
    # Three appraisals were signed by the first key.
    assert re.search(rf'id="key-{re.escape(b64url(old))}">.*?<td>3</td>\s*</tr>', html, re.S)


def test_charts_count_statuses_and_reasons_per_day(console: Console) -> None:
    c = console.login()
    html = c.get("/console/charts?days=7").text
    assert html.count("<svg") >= 2 and 'id="chart-status"' in html and 'id="chart-reasons"' in html
    assert re.search(r"<title>\d{4}-\d\d-\d\d: 2 affirming</title>", html)
    assert re.search(r"<title>\d{4}-\d\d-\d\d: 1 contraindicated</title>", html)
    assert re.search(r"<title>\d{4}-\d\d-\d\d: 1 document.expired</title>", html)
    assert "<td><code>document.expired</code></td><td>1</td>" in html
    assert len(re.findall(r'<text [^>]*text-anchor="middle"', html)) >= 7 * 2 // 2
    assert c.get("/console/charts?days=0").status_code == 400
    assert c.get("/console/charts?days=abc").status_code == 400


def test_stacked_chart_layout() -> None:
    days = [0, 86_400, 2 * 86_400]
    chart = console_mod.stacked_chart(
        "t", days, [("a", "#111111", [1, 0, 7]), ("b", "#222222", [2, 0, 0])]
    )
    assert len(chart.bars) == 3  # zero segments are not drawn
    tallest = max(b.h for b in chart.bars)
    assert [t for _, t in chart.y_ticks] == ["0", "2", "4", "6", "8"]  # peak 7, step 2
    assert tallest == pytest.approx((chart.baseline - 16) * 7 / 8)
    stacked = [b for b in chart.bars if b.x == chart.bars[0].x]
    assert stacked[1].y + stacked[1].h == pytest.approx(stacked[0].y)  # b sits on a
    assert [console_mod._nice_step(n) for n in (1, 5, 6, 11, 30, 99, 1000)] == [
        1,
        1,
        2,
        5,
        10,
        20,
        200,
    ]
    empty = console_mod.stacked_chart("e", days, [])
    assert empty.bars == () and empty.legend == ()


# -- escaping and headers ----------------------------------------------------------------


def test_everything_is_escaped(console: Console) -> None:
    evil = '"><script>alert(1)</script>'
    aid = _aid(console, 0)
    checks = json.loads(json.dumps(console.results[0]["checks"]))
    checks[0]["detail"] = evil
    checks[1]["code"] = evil
    with console.v.writer() as s, s.begin():
        s.execute(
            update(Appraisal)
            .where(Appraisal.id == aid)
            .values(checks=json.dumps(checks), policy_id="<b>policy</b>")
        )
    c = console.login()
    pages = [
        c.get(f"/console/appraisals/{aid}").text,
        c.get("/console/appraisals", query_string={"from": evil}).text,
        c.get("/console/appraisals").text,
    ]
    for html in pages:
        assert "<script>" not in html and "<b>policy" not in html
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    assert "&lt;b&gt;policy&lt;/b&gt;" in pages[0] and "&lt;b&gt;policy&lt;/b&gt;" in pages[2]
    assert "&lt;script&gt;" in pages[1]


def test_pages_forbid_scripts_and_framing(console: Console) -> None:
    c = console.login()
    for path in (*PAGES, "/console/login"):
        r = c.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Cache-Control"] == "no-store"
        assert "<script" not in r.text
    css = c.get("/static/console.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    css.close()


def test_result_profile_setting_issues_the_2023_profile(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`result_profile = "veraison-2023"` (verifier.toml): results in the profile Veraison's
    libraries read, when the request does not ask for one; the default is draft-04."""
    import dataclasses

    from attest.ear import EAR_PROFILE, LEGACY_PROFILE, verify_ear_cwt, verify_ear_jwt

    assert console.results[0]["ear"]["cwt"]
    first = verify_ear_cwt(b64url_decode(console.results[0]["ear"]["cwt"]), console.v.keyset)
    assert first.profile == EAR_PROFILE
    legacy = dataclasses.replace(console.v.config, result_profile="veraison-2023")
    monkeypatch.setattr(console.v, "config", legacy)
    out = console.appraise()
    console.results.pop()  # the other tests count the fixture's own appraisals
    assert verify_ear_cwt(b64url_decode(out["ear"]["cwt"]), console.v.keyset).profile == (
        LEGACY_PROFILE
    )
    claims = verify_ear_jwt(out["ear"]["jwt"], console.v.keyset).to_json_claims()
    assert "ear.appraisal-policy-id" in claims["submods"]["edgeproof-device"]
    with pytest.raises(Exception, match="result_profile"):
        dataclasses.replace(console.v.config, result_profile="ear-03")


def _consistency(html: str) -> str:
    start = html.index('id="consistency"')
    return html[start : html.index("</section>", start)]


def test_overview_states_the_log_is_consistent(console: Console) -> None:
    part = _consistency(console.login().get("/console/").text)
    assert '<span class="ok">consistent</span>' in part
    assert "The 3 entries rebuild every checkpoint below" in part
    assert "first-bad" not in part


@pytest.mark.parametrize("coherent", [False, True])
def test_an_overwritten_entry_makes_the_overview_say_inconsistent(
    console: Console, coherent: bool
) -> None:
    """Issue 19, finding 5: one log entry overwritten (its bytes, or bytes and leaf hash
    together) and the overview looked as before; now it says so and links the entry."""
    other = b64url_decode(console.results[2]["ear"]["cwt"])
    values: dict[str, object] = {"data": other}
    if coherent:
        values["leaf_hash"] = leaf_hash(other)
    with console.v.writer() as s, s.begin():
        s.execute(update(LogEntry).where(LogEntry.idx == 1).values(**values))
    part = _consistency(console.login().get("/console/").text)
    assert '<span class="bad">inconsistent</span>' in part
    aid = _aid(console, 1)
    assert (
        '<p id="first-bad">First bad entry: <strong>log index 1</strong>, appraisal\n'
        f'<a href="/console/appraisals/{aid}"><code>{aid}</code></a>'
    ) in part
    assert f'<a href="/console/appraisals/{aid}/proof">its inclusion proof</a>' in part
    if coherent:  # the tree rebuilt from the database is not the one the checkpoint signed
        assert '<td>signed checkpoint (this page)</td><td><span class="bad">no</span>' in part
    else:
        assert f"entry 1&#39;s bytes hash to {leaf_hash(other).hex()}" in part


def test_list_shows_reason_device_and_filters_by_them(console: Console) -> None:
    """Issue 19, finding 6: the reason in the row, the device's name beside its full key
    id, and filters by device, reason and decision (with the time filter above)."""
    c = console.login()
    ids = [r["appraisal_id"] for r in console.results]
    kid = b64url(console.device.public.kid)
    html = c.get("/console/appraisals").text
    assert (
        '<td class="reason"><a href="/console/appraisals?reason=document.expired">'
        "<code>document.expired</code></a></td>"
    ) in html
    assert html.count('<td class="reason"></td>') == 2  # the affirming ones have none
    assert f'<code class="kid">{kid}</code>' in html and "device-1</a><br>" in html
    assert f"{kid[:16]}…" not in html  # never cut off
    html = c.get("/console/appraisals?reason=document.expired").text
    assert ids[2] in html and ids[0] not in html and ids[1] not in html
    assert "No appraisal matches" in c.get("/console/appraisals?reason=liveness.failed").text
    html = c.get("/console/appraisals?decision=match").text
    assert all(i in html for i in ids)
    assert "No appraisal matches" in c.get("/console/appraisals?decision=no-match").text
    html = c.get("/console/appraisals?device=device-1&decision=match&status=affirming").text
    assert ids[0] in html and ids[1] in html and ids[2] not in html
    assert "No appraisal matches" in c.get("/console/appraisals?device=device-9").text
    for bad, message in (
        ("reason=Robert%27);--", "a reason code is dotted lowercase"),
        ("decision=maybe", "decision must be one of"),
        ("device=" + "x" * 65, "at most 64 characters"),
    ):
        r = c.get(f"/console/appraisals?{bad}")
        assert r.status_code == 400 and message in r.text, bad
    # The appraisal page puts the failing check's reason at the top, above the checks.
    page = c.get(f"/console/appraisals/{ids[2]}").text
    assert page.index('id="reason"') < page.index("<h2>Checks</h2>")
    assert (
        "<code>document.expired</code> (document-valid, failed): the document has expired" in page
    )
    assert "device-1 · <a href" in page


def test_charts_show_decisions_and_warnings_apart(console: Console) -> None:
    html = console.login().get("/console/charts?days=7").text
    assert 'id="chart-decisions"' in html and 'id="chart-warnings"' in html
    assert re.search(r"<title>\d{4}-\d\d-\d\d: 3 match</title>", html)
    decisions = html[html.index('id="chart-decisions"') : html.index('id="chart-reasons"')]
    assert 'fill="#1565c0"' in decisions  # match's colour, used for nothing else
    # Red is the contraindicated tier's only: no reason or decision bar is drawn in it.
    assert html.count('fill="#c62828"') == 1 + 1  # its bar and its legend swatch
    assert "<td><code>document.expired</code></td><td>1</td><td>failed</td>" in html
    warnings = html[html.index('id="chart-warnings"') : html.index("<h2>Reasons")]
    assert "<rect x=" not in warnings and "no data" in warnings  # no warning in this data


def test_one_encoding_per_kind_of_value(console: Console) -> None:
    """Issue 19, finding 7: hashes lowercase hex, key ids base64url, times UTC (epoch)."""
    c = console.login()
    cp = console.v.checkpoint()
    root_b64, root_hex = cp["root_hash"], b64url_decode(cp["root_hash"]).hex()
    stamp = f"{console_mod.utc(cp['timestamp'])} ({cp['timestamp']})"
    overview = c.get("/console/").text
    assert root_hex in overview and stamp in overview
    proof = c.get(f"/console/appraisals/{_aid(console)}/proof").text
    assert root_hex in proof and root_b64 not in proof
    kid = b64url(console.device.public.kid)
    for path in ("/console/appraisals", f"/console/appraisals/{_aid(console)}", "/console/devices"):
        html = c.get(path).text
        if "<h2>Checks</h2>" in html:  # claim values are quoted as attest.report gives them
            html = html[: html.index('<pre class="wrap">')]
            assert f"<code>{kid} (base64url)</code>" in html  # the COSE kid header
            html = html[: html.index("claim by claim</h2>")]
        assert kid in html and console.device.public.kid.hex() not in html, path
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d{9,}\)", html), path


def test_one_colour_one_meaning() -> None:
    """Issue 19, finding 6 ("red means two things"): tiers, decisions and reasons never
    share a colour, and the stylesheet draws a revoked key in no tier's colour."""
    tiers = set(console_mod.STATUS_COLOURS.values())
    decisions = set(console_mod.DECISION_COLOURS.values())
    reasons = set(console_mod.PALETTE)
    assert len(tiers) + len(decisions) + len(reasons) == len(tiers | decisions | reasons)
    css = (Path(console_mod.__file__).parent / "static" / "console.css").read_text()
    revoked = re.search(r"\.state\.revoked \{ background: (#[0-9a-f]{6}); \}", css)
    assert revoked is not None and revoked.group(1) not in tiers | decisions | reasons


def test_a_log_entry_naming_another_appraisal_is_inconsistent(console: Console) -> None:
    with console.v.writer() as s, s.begin():
        s.execute(update(LogEntry).where(LogEntry.idx == 0).values(appraisal_id=_aid(console, 2)))
    part = _consistency(console.login().get("/console/").text)
    assert '<span class="bad">inconsistent</span>' in part
    assert f"entry 0 names appraisal {_aid(console, 2)}, but appraisal {_aid(console, 0)}" in part
    assert "<strong>log index 0</strong>" in part
