"""`edgeproof device enroll` against the real verifier (gunicorn on loopback), and the
device CLI's key commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from attest.keys import PublicKey, SigningKey, b64url, b64url_decode, public_key_from_pem
from edge.keystore import SoftwareKeyStore
from edge.keystore.enroll import hardware_model
from edgeproof_cli import main
from rig.tpm import SoftwareTpm
from tests.rig import free_port
from tests.verifier.helpers import VerifierServer


def cli(*args: object) -> int:
    """The edgeproof command line; arguments may be paths."""
    return main([str(a) for a in args])


def enroll(verifier: VerifierServer, *args: object) -> int:
    """`edgeproof device enroll` against the test verifier, as its admin."""
    return cli("device", "enroll", "--verifier", verifier.base, "--token", verifier.admin, *args)


@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VerifierServer]:
    server = VerifierServer(
        tmp_path_factory.mktemp("enrol-verifier"), SigningKey.generate(), workers=1
    ).start()
    try:
        yield server
    finally:
        server.stop()


def _record(verifier: VerifierServer, kid: bytes) -> dict[str, object]:
    r = httpx.get(
        f"{verifier.base}/v1/devices/{b64url(kid)}",
        headers={"Authorization": f"Bearer {verifier.admin}"},
    )
    assert r.status_code == 200, r.text
    doc: dict[str, object] = r.json()
    return doc


def test_enroll_creates_the_key_and_registers_it(
    verifier: VerifierServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = f"file:{tmp_path}/device.pem"
    args = ("--key", spec, "--device-id", "office-7:desk-2", "--create", "--alg", "EdDSA")
    assert enroll(verifier, *args) == 0
    out = capsys.readouterr().out
    assert "created a new device key" in out and "enrolled" in out
    store = SoftwareKeyStore.load(tmp_path / "device.pem")
    record = _record(verifier, store.kid)
    # "EdDSA" makes an Ed25519 key pinned to -19 (RFC 9864; -8 enrolments are refused).
    assert record["device_id"] == "office-7:desk-2" and record["alg"] == -19
    assert record["hardware_model"] == hardware_model() and record["hardware_model"]
    assert isinstance(record["cose_key"], str)
    assert PublicKey.from_cose_key(b64url_decode(record["cose_key"])).kid == store.kid
    # Again: the same key is already enrolled; that is reported, not an error.
    assert enroll(verifier, *args) == 0
    assert "already enrolled" in capsys.readouterr().out


def test_enroll_a_tpm_key(
    verifier: VerifierServer, swtpm: SoftwareTpm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = f"tpm:{tmp_path}/device.tpmkey"
    assert cli("device", "keygen", "--key", spec, "--tcti", swtpm.tcti) == 0
    args = ("--key", spec, "--tcti", swtpm.tcti, "--device-id", "tpm-device")
    assert enroll(verifier, *args) == 0
    kid_line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("kid:    "))
    record = _record(verifier, b64url_decode(kid_line.split()[-1]))
    assert record["alg"] == -7 and record["device_id"] == "tpm-device"


def test_enroll_failures_are_clear(
    verifier: VerifierServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = f"file:{tmp_path}/device.pem"
    base = ["device", "enroll", "--key", spec, "--device-id", "d1"]
    # No key and no --create: says how to make one.
    assert cli(*base, "--verifier", verifier.base, "--token", verifier.admin) == 1
    assert "edgeproof device keygen" in capsys.readouterr().err
    assert cli("device", "keygen", "--key", spec) == 0
    capsys.readouterr()
    assert cli(*base, "--verifier", verifier.base, "--token", "wrong-token") == 1
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "request.unauthorized" in err
    dead = f"http://127.0.0.1:{free_port()}"
    assert cli(*base, "--verifier", dead, "--token", verifier.admin) == 1
    assert "cannot reach the verifier" in capsys.readouterr().err
    assert (
        cli(*base, "--verifier", verifier.base, "--token", verifier.admin, "--device-id", "bad id!")
        == 1
    )
    assert "keystore.bad-device-id" in capsys.readouterr().err


def test_keygen_and_show_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = f"file:{tmp_path}/device.pem"
    assert cli("device", "keygen", "--key", spec) == 0
    made = capsys.readouterr().out
    assert cli("device", "keygen", "--key", spec) == 1
    assert "keystore.key-exists" in capsys.readouterr().err
    assert cli("device", "keygen", "--key", f"file:{tmp_path}/x.pem", "--alg", "RS256") == 2
    capsys.readouterr()
    store = SoftwareKeyStore.load(tmp_path / "device.pem")
    assert store.kid.hex() in made
    outputs = [made]
    for fmt in ("text", "jwk", "cose", "pem"):
        assert cli("device", "show-key", "--key", spec, "--format", fmt) == 0
        outputs.append(capsys.readouterr().out)
    assert public_key_from_pem(outputs[-1].encode()).kid == store.kid
    assert PublicKey.from_cose_key(b64url_decode(outputs[-2].strip())).kid == store.kid
    secret = (tmp_path / "device.pem").read_text().splitlines()[1]
    for text in outputs:
        assert "PRIVATE" not in text and secret not in text
