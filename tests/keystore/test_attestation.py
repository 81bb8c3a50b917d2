"""The key store and the measurement together, against the real verifier: evidence signed
in the TPM and carrying this installation's measurement is affirmed; the same evidence
from a tampered installation is not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from attest.challenge import Gesture
from attest.evidence import MeasuredItem, sign_evidence
from attest.keys import SigningKey, b64url, b64url_decode
from attest.manifest import sign_manifest
from edge.keystore import close_keystore, cose_signer, create_keystore
from edge.measure import measure
from rig.tpm import SoftwareTpm
from tests.firmware.conftest import make_stage
from tests.verifier.helpers import Release, VerifierServer, evidence


@pytest.fixture
def installed_release() -> Release:
    key = SigningKey.generate()
    manifest = measure().manifest
    return Release(key, manifest, sign_manifest(manifest, key))


@pytest.fixture
def verifier(tmp_path: Path, installed_release: Release) -> Iterator[VerifierServer]:
    (tmp_path / "verifier").mkdir()
    server = VerifierServer(tmp_path / "verifier", installed_release.key, workers=1).start()
    try:
        yield server
    finally:
        server.stop()


def test_tpm_signed_evidence_with_the_measurement(
    verifier: VerifierServer, installed_release: Release, swtpm: SoftwareTpm, tmp_path: Path
) -> None:
    client = verifier.client()
    rp = client.token("relying-party")
    client.add_release(installed_release)
    store = create_keystore(f"tpm:{tmp_path}/device.tpmkey", tcti=swtpm.tcti)
    try:
        enrolled = client.http.post(
            f"{verifier.base}/v1/devices",
            json={"device_id": "tpm-1", "cose_key": b64url(store.public_key().cose_key_bytes())},
            headers=client.h(verifier.admin),
        )
        assert enrolled.status_code == 201, enrolled.text

        def submit(measurements: dict[MeasuredItem, bytes]) -> dict[str, object]:
            ch = client.challenge(rp)
            ev = evidence(
                b64url_decode(ch["nonce"]),
                tuple(Gesture(g) for g in ch["liveness"]["challenge"]),
                installed_release,
                measurements=measurements,
            )
            r = client.submit(sign_evidence(ev, cose_signer(store)))
            doc: dict[str, object] = r.json()
            doc["http_status"] = r.status_code
            return doc

        good = installed_release.measurements()
        assert good[MeasuredItem.RELEASE_MANIFEST] == installed_release.manifest.digest()
        ok = submit(good)
        assert (ok["http_status"], ok["status"]) == (201, "affirming"), ok

        stage = make_stage(tmp_path / "stage")
        victim = stage.root / "edge" / "measure.py"
        victim.write_text(victim.read_text() + "\n# tampered\n")
        tampered = measure(packages=stage.packages, version=installed_release.manifest.version)
        assert tampered.digest != good[MeasuredItem.RELEASE_MANIFEST]
        bad = submit({**good, MeasuredItem.RELEASE_MANIFEST: tampered.digest})
        # Genuine, fresh evidence from tampered software: a signed "contraindicated" result.
        assert (bad["http_status"], bad["status"]) == (201, "contraindicated"), bad
        failed = [c["code"] for c in bad["checks"] if c["outcome"] == "failed"]  # type: ignore[attr-defined]
        assert failed == ["reference.unknown-release"]
    finally:
        close_keystore(store)
