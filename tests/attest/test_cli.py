"""`edgeproof attest ...` (including `attest demo`), run as the installed console script."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from attest import cbor, cose
from attest.ear import sign_ear_cwt
from attest.keys import ED25519, EDDSA, SigningKey
from attest.keyset import KeySet
from edgeproof_cli import main
from tests.attest.conftest import evidence
from tests.attest.test_ear import sample_ear

EDGEPROOF = str(Path(sys.executable).with_name("edgeproof"))


def run(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EDGEPROOF, *args],
        input=stdin.decode("latin-1") if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


def inspect_json(*args: str, stdin: bytes | None = None) -> tuple[int, dict[str, Any]]:
    r = run("attest", "inspect", *args, "--json", stdin=stdin)
    return r.returncode, json.loads(r.stdout)


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A key pair and a signed sample token, made by the command itself."""
    d = tmp_path_factory.mktemp("cli")
    assert run("attest", "keygen", str(d / "dev")).returncode == 0
    r = run("attest", "sign-sample", "--key", str(d / "dev.key"), "--out", str(d / "t.cbor"))
    assert r.returncode == 0, r.stderr
    return d


def test_help_on_every_level(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--help"], ["attest", "inspect", "--help"]):  # the installed script
        r = run(*args)
        assert r.returncode == 0 and "usage:" in r.stdout, args
    assert "Exit codes" in run("attest", "inspect", "--help").stdout
    for args in (["attest"], ["attest", "keygen"], ["attest", "sign-sample"], ["attest", "demo"]):
        with pytest.raises(SystemExit) as exit_:  # the same parser, in process (faster)
            main([*args, "--help"])
        assert exit_.value.code == 0 and "usage:" in capsys.readouterr().out


def test_keygen_writes_a_private_key_only_its_owner_can_read(keyed: Path) -> None:
    assert stat.S_IMODE(os.stat(keyed / "dev.key").st_mode) == 0o600
    assert b"PRIVATE KEY" in (keyed / "dev.key").read_bytes()
    assert b"PUBLIC KEY" in (keyed / "dev.pub").read_bytes()
    r = run("attest", "keygen", str(keyed / "dev"))
    assert r.returncode == 2 and "exists" in r.stderr


def test_inspect_every_input_form(keyed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = (keyed / "t.cbor").read_bytes()
    (keyed / "t.hex").write_text(token.hex() + "\n")
    (keyed / "t.b64").write_text(base64.b64encode(token).decode())
    (keyed / "t.b64url").write_text(base64.urlsafe_b64encode(token).decode().rstrip("="))
    forms = (("t.cbor", "cbor"), ("t.hex", "hex"), ("t.b64", "base64"), ("t.b64url", "base64"))
    for name, form in forms:
        assert main(["attest", "inspect", str(keyed / name), "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["ok"] and doc["encoding"] == form, name
        assert doc["kind"] == "evidence" and doc["size"] == len(token)
        names = [c["name"] for c in doc["claims"]]
        assert "eat_nonce" in names and "erasure" in names
        assert all(c["meaning"] and c["data_kind"] for c in doc["claims"])
        assert doc["signature"]["checked"] is False
    code, doc = inspect_json("-", stdin=token.hex().encode())  # the installed script, stdin
    assert code == 0 and doc["encoding"] == "hex"


def test_inspect_text_names_every_claim(keyed: Path) -> None:
    r = run("attest", "inspect", str(keyed / "t.cbor"), "--key", str(keyed / "dev.pub"))
    assert r.returncode == 0, r.stdout + r.stderr
    for text in (
        "alg",
        "ES256 (-7)",
        "eat_nonce",
        "-65542",
        "erasure",
        "frames captured",
        "signature: 64 bytes, valid",
        "result: OK",
    ):
        assert text in r.stdout, text


def test_inspect_with_every_key_form(
    keyed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = SigningKey.from_private_pem((keyed / "dev.key").read_bytes())
    forms = {
        "pub.pem": key.public.pem(),
        "priv.pem": key.private_pem(),
        "key.jwk": json.dumps(key.public.jwk()).encode(),
        "keys.jwks": KeySet.of([key.public]).dumps().encode(),
        "key.cose": key.public.cose_key_bytes(),
        "key.cosehex": key.public.cose_key_bytes().hex().encode(),
    }
    for name, data in forms.items():
        (tmp_path / name).write_bytes(data)
        args = ["attest", "inspect", str(keyed / "t.cbor"), "--key", str(tmp_path / name)]
        assert main([*args, "--json"]) == 0, name
        sig = json.loads(capsys.readouterr().out)["signature"]
        assert sig["checked"] is True and sig["valid"] is True, name


def test_inspect_refusals(keyed: Path, tmp_path: Path) -> None:
    token = (keyed / "t.cbor").read_bytes()
    other = SigningKey.generate(EDDSA)
    (tmp_path / "other.pub").write_bytes(other.public.pem())
    code, doc = inspect_json(str(keyed / "t.cbor"), "--key", str(tmp_path / "other.pub"))
    assert code == 1 and doc["findings"][0]["code"] == "key.unknown-kid"

    tampered = bytearray(token)
    tampered[len(token) // 2] ^= 1
    (tmp_path / "bad.cbor").write_bytes(bytes(tampered))
    r = run("attest", "inspect", str(tmp_path / "bad.cbor"), "--key", str(keyed / "dev.pub"))
    assert r.returncode == 1 and "REJECTED" in r.stdout

    (tmp_path / "junk").write_bytes(b"\xd2\x84\x01")
    r = run("attest", "inspect", str(tmp_path / "junk"))
    assert r.returncode == 1 and "cbor.truncated" in r.stderr

    r = run("attest", "inspect", str(tmp_path / "missing"))
    assert r.returncode == 2 and "input.unreadable" in r.stderr
    (tmp_path / "badkey").write_text("not a key")
    r = run("attest", "inspect", str(keyed / "t.cbor"), "--key", str(tmp_path / "badkey"))
    assert r.returncode == 2 and "key" in r.stderr
    r = run("attest", "inspect", "-", stdin=b"eyJhbGciOiJFUzI1NiJ9.e30.c2ln")
    assert r.returncode == 2 and "input.jwt" in r.stderr


def test_claim_outside_the_registry_is_a_privacy_finding(tmp_path: Path) -> None:
    key = SigningKey.generate(EDDSA)
    claims = {**evidence().to_claims(), -70000: "Jane Doe 1980-01-01"}
    (tmp_path / "leaky.cbor").write_bytes(cose.sign1(cbor.encode(claims), key))
    code, doc = inspect_json(str(tmp_path / "leaky.cbor"))
    assert code == 3
    finding = doc["findings"][0]
    assert finding["severity"] == "privacy" and finding["code"] == "claims.unknown-claim"
    assert "-70000" in finding["message"]
    assert all(c["label"] != -70000 for c in doc["claims"])  # reported, not shown as a claim
    r = run("attest", "inspect", str(tmp_path / "leaky.cbor"))
    assert r.returncode == 3 and "PRIVACY FINDING claims.unknown-claim" in r.stdout


def test_inspect_results_and_profile_violations(tmp_path: Path) -> None:
    key = SigningKey.generate(ED25519)  # a PEM reads back as Ed25519 (-19, RFC 9864)
    (tmp_path / "ear.cbor").write_bytes(sign_ear_cwt(sample_ear(), key))
    (tmp_path / "key.pub").write_bytes(key.public.pem())
    code, doc = inspect_json(str(tmp_path / "ear.cbor"), "--key", str(tmp_path / "key.pub"))
    assert code == 0 and doc["kind"] == "ear"
    assert {c["name"] for c in doc["claims"]} >= {
        "submods",
        "urn:edgeproof:ear:result",
        "ear_status",
    }
    # alg in the unprotected header: decoded, shown, and refused with the profile's reason.
    payload = evidence().encode()
    sig = key.sign(cose.sig_structure(b"", payload))
    (tmp_path / "loose.cbor").write_bytes(
        cbor.encode(cbor.Tag(18, [b"", {1: -8, 4: key.kid}, payload, sig]))
    )
    code, doc = inspect_json(str(tmp_path / "loose.cbor"))
    assert code == 1 and doc["findings"][0]["code"] == "cose.alg-unprotected"
    assert doc["unprotected"][0]["name"] == "alg"


def test_sign_sample_output_forms(keyed: Path) -> None:
    r = run(
        "attest",
        "sign-sample",
        "--key",
        str(keyed / "dev.key"),
        "--nonce",
        "00" * 16,
        "--now",
        "1790000000",
    )
    assert r.returncode == 0
    token = bytes.fromhex(r.stdout.strip())
    assert cose.decode_sign1(token).tagged
    r = run("attest", "sign-sample", "--key", str(keyed / "dev.key"), "--nonce", "00")
    assert r.returncode == 2 and "eat_nonce" in r.stderr


def test_demo_runs_every_step_and_keeps_files_with_out(tmp_path: Path) -> None:
    r = run("attest", "demo", "--out", str(tmp_path / "demo"))
    assert r.returncode == 0, r.stderr
    for n in range(1, 6):
        assert f"== step {n}:" in r.stdout
    assert "refused, as it must be: cose.bad-signature" in r.stdout
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [
        "device.key",
        "device.pub",
        "evidence.cbor",
    ]
    r = run(
        "attest",
        "inspect",
        str(tmp_path / "demo" / "evidence.cbor"),
        "--key",
        str(tmp_path / "demo" / "device.pub"),
    )
    assert r.returncode == 0
    # Without --out nothing is left behind in the working directory.
    work = tmp_path / "cwd"
    work.mkdir()
    r = run("attest", "demo", "--alg", "eddsa", cwd=work)
    assert r.returncode == 0 and "EDDSA" in r.stdout and list(work.iterdir()) == []


def test_python_dash_m_is_the_same_command() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "edgeproof_cli", "attest", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0 and "inspect" in r.stdout
