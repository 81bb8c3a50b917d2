"""`edgeproof firmware manifest build|sign|verify` end to end on a staged installation.

`build` runs the device's own measurement (python -m edge.measure) in a child process; the
staged copy is made "the installation" by PYTHONPATH, and the model folder by
EDGEPROOF_MODEL_DIR, exactly as the device's face code would find it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from attest.keys import SigningKey
from attest.manifest import ReleaseManifest, verify_manifest
from edge.measure import measure
from edgeproof_cli import main
from tests.firmware.conftest import Stage


def cli(*args: object) -> int:
    """The edgeproof command line; arguments may be paths."""
    return main([str(a) for a in args])


@pytest.fixture
def staged_env(stage: Stage, monkeypatch: pytest.MonkeyPatch) -> Stage:
    monkeypatch.setenv("PYTHONPATH", str(stage.root))
    monkeypatch.setenv("EDGEPROOF_MODEL_DIR", str(stage.models))
    return stage


def _keys(tmp_path: Path) -> tuple[Path, Path, SigningKey]:
    key = SigningKey.generate()
    priv, pub = tmp_path / "release.key", tmp_path / "release.pub"
    priv.write_bytes(key.private_pem())
    priv.chmod(0o600)
    pub.write_bytes(key.public.pem())
    return priv, pub, key


def test_build_sign_verify_then_tamper(
    staged_env: Stage, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    priv, pub, key = _keys(tmp_path)
    unsigned, signed = tmp_path / "release.manifest", tmp_path / "release.cose"

    assert cli("firmware", "manifest", "build", "--out", unsigned) == 0
    built = ReleaseManifest.decode(unsigned.read_bytes())
    # The child measured the staged copy, with the same rule the device runs in-process.
    here = measure(packages=staged_env.packages, model_dir=staged_env.models, version=built.version)
    assert built == here.manifest
    assert "firmware/models/manifest.json" in built.files and len(built.models) == 1

    assert cli("firmware", "manifest", "sign", unsigned, "--key", priv, "--out", signed) == 0
    assert verify_manifest(signed.read_bytes(), {key.kid: key.public}) == built
    out = capsys.readouterr().out
    assert built.digest().hex() in out

    assert cli("firmware", "manifest", "verify", signed, "--trust", pub, "--installed") == 0
    assert "matches this release" in capsys.readouterr().out

    victim = staged_env.root / "edge" / "keystore" / "base.py"
    victim.write_text(victim.read_text() + "\n# tampered\n")
    assert cli("firmware", "manifest", "verify", signed, "--trust", pub, "--installed") == 1
    err = capsys.readouterr().err
    assert "DIFFERS" in err and "changed: edge/keystore/base.py" in err


def test_verify_refuses_an_untrusted_signer(
    staged_env: Stage, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    priv, _pub, _ = _keys(tmp_path)
    other = tmp_path / "other.pub"
    other.write_bytes(SigningKey.generate().public.pem())
    unsigned, signed = tmp_path / "m", tmp_path / "s"
    assert cli("firmware", "manifest", "build", "--out", unsigned) == 0
    assert cli("firmware", "manifest", "sign", unsigned, "--key", priv, "--out", signed) == 0
    capsys.readouterr()
    assert cli("firmware", "manifest", "verify", signed, "--trust", other) == 1
    assert "key.unknown-kid" in capsys.readouterr().err
    # A flipped byte in the signed file: refused, whoever signed it.
    data = bytearray(signed.read_bytes())
    data[-1] ^= 1
    signed.write_bytes(bytes(data))
    assert cli("firmware", "manifest", "verify", signed, "--trust", _pub) == 1


def test_sign_refuses_a_readable_release_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    priv, _, _ = _keys(tmp_path)
    unsigned = tmp_path / "m"
    unsigned.write_bytes(ReleaseManifest("edgeproof", "1", {}, {}).encode())
    priv.chmod(0o644)
    assert (
        cli("firmware", "manifest", "sign", unsigned, "--key", priv, "--out", str(tmp_path / "s"))
        == 2
    )
    assert "chmod 600" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_sign_refuses_what_is_not_a_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    priv, _, _ = _keys(tmp_path)
    bogus = tmp_path / "m"
    bogus.write_bytes(b"\xa1\x01\x02")
    assert (
        cli("firmware", "manifest", "sign", bogus, "--key", priv, "--out", str(tmp_path / "s")) == 2
    )
    assert "release.bad-manifest" in capsys.readouterr().err


def test_build_expect_version_and_failures(
    staged_env: Stage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "m"
    assert cli("firmware", "manifest", "build", "--out", out, "--expect-version", "99.0") == 2
    assert "not 99.0" in capsys.readouterr().err and not out.exists()
    monkeypatch.setenv("EDGEPROOF_MODEL_DIR", str(tmp_path / "no-models"))
    assert cli("firmware", "manifest", "build", "--out", out) == 2
    assert "release.build-failed" in capsys.readouterr().err


def test_the_verifier_takes_the_signed_manifest_as_reference_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import httpx

    from tests.verifier.helpers import VerifierServer

    priv, _pub, key = _keys(tmp_path)
    unsigned, signed = tmp_path / "m", tmp_path / "s"
    assert cli("firmware", "manifest", "build", "--out", unsigned) == 0
    assert cli("firmware", "manifest", "sign", unsigned, "--key", priv, "--out", signed) == 0
    (tmp_path / "verifier").mkdir()
    server = VerifierServer(tmp_path / "verifier", key, workers=1).start()
    try:
        r = httpx.put(
            f"{server.base}/v1/reference-values",
            content=signed.read_bytes(),
            headers={"Authorization": f"Bearer {server.admin}", "Content-Type": "application/cose"},
        )
    finally:
        server.stop()
    assert r.status_code == 201, r.text
    # The verifier's reference digest is the digest the built manifest has, which is what
    # the installation reports (test_build_sign_verify_then_tamper).
    from attest.keys import b64url

    assert r.json()["digest"] == b64url(ReleaseManifest.decode(unsigned.read_bytes()).digest())
