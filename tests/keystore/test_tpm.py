"""The TPM key store against a real software TPM (swtpm): ES256, non-exportable, persistent."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from attest import cbor, cose
from edge.keystore import (
    KeyExistsError,
    KeyFileFormatError,
    KeyStore,
    TpmError,
    close_keystore,
    cose_signer,
    create_keystore,
    open_keystore,
)
from rig.tpm import SoftwareTpm


def test_create_sign_verify(swtpm: SoftwareTpm, tmp_path: Path) -> None:
    from edge.keystore.tpm import TpmKeyStore

    path = tmp_path / "device.tpmkey"
    with TpmKeyStore.create(path, swtpm.tcti) as store:
        assert isinstance(store, KeyStore)
        assert store.alg == -7
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        sig = store.sign(b"evidence bytes")
        assert len(sig) == 64
        # Check with cryptography directly, not only through attest.
        pub = store.public_key()
        raw = pub.cose_key()
        point = ec.EllipticCurvePublicNumbers(
            int.from_bytes(raw[-2], "big"), int.from_bytes(raw[-3], "big"), ec.SECP256R1()
        ).public_key()
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        point.verify(der, b"evidence bytes", ec.ECDSA(hashes.SHA256()))
        # ECDSA is randomised: two signatures differ, both verify.
        assert store.sign(b"evidence bytes") != sig
        token = cose.sign1(b"payload", cose_signer(store))
        assert cose.verify_sign1(token, {store.kid: pub}).payload == b"payload"


def test_the_tpm_reports_the_key_non_exportable(swtpm: SoftwareTpm, tmp_path: Path) -> None:
    from edge.keystore.tpm import TpmKeyStore

    with TpmKeyStore.create(tmp_path / "k", swtpm.tcti) as store:
        attrs = store.object_attributes()
    # TPM 2.0 Part 2, 8.3.3.1: fixedTPM and fixedParent forbid duplication; the key was
    # generated inside the TPM (sensitiveDataOrigin); a signing-only key (no decrypt).
    assert {"fixedtpm", "fixedparent", "sensitivedataorigin", "sign"} <= attrs
    assert "decrypt" not in attrs and "restricted" not in attrs


def test_same_key_after_a_tpm_restart(swtpm: SoftwareTpm, tmp_path: Path) -> None:
    spec = f"tpm:{tmp_path}/device.tpmkey"
    store = create_keystore(spec, tcti=swtpm.tcti)
    kid, public = store.kid, store.public_key()
    close_keystore(store)
    swtpm.restart()  # power cycle: transient objects are gone, the seeds stay
    again = open_keystore(spec, tcti=swtpm.tcti)
    try:
        assert again.kid == kid
        public.verify(again.sign(b"after restart"), b"after restart")
    finally:
        close_keystore(again)


def test_create_never_overwrites(swtpm: SoftwareTpm, tmp_path: Path) -> None:
    spec = f"tpm:{tmp_path}/device.tpmkey"
    close_keystore(create_keystore(spec, tcti=swtpm.tcti))
    before = (tmp_path / "device.tpmkey").read_bytes()
    with pytest.raises(KeyExistsError):
        create_keystore(spec, tcti=swtpm.tcti)
    assert (tmp_path / "device.tpmkey").read_bytes() == before
    # The failed attempt flushed what it loaded: the TPM still has room to load the key.
    close_keystore(open_keystore(spec, tcti=swtpm.tcti))


def test_a_blob_from_another_tpm_is_rejected(
    swtpm: SoftwareTpm, other_swtpm: SoftwareTpm, tmp_path: Path
) -> None:
    spec = f"tpm:{tmp_path}/device.tpmkey"
    close_keystore(create_keystore(spec, tcti=swtpm.tcti))
    with pytest.raises(TpmError) as info:
        open_keystore(spec, tcti=other_swtpm.tcti)
    assert info.value.code == "keystore.tpm-key-rejected"
    assert "another TPM" in str(info.value)


def _rewrite_blob(path: Path, **changes: bytes) -> None:
    m = cbor.decode(path.read_bytes())
    m.update(changes)
    path.write_bytes(cbor.encode(m))


def test_a_tampered_private_blob_is_rejected_by_the_tpm(swtpm: SoftwareTpm, tmp_path: Path) -> None:
    path = tmp_path / "device.tpmkey"
    close_keystore(create_keystore(f"tpm:{path}", tcti=swtpm.tcti))
    private = bytearray(cbor.decode(path.read_bytes())["private"])
    private[-1] ^= 1
    _rewrite_blob(path, private=bytes(private))
    with pytest.raises(TpmError) as info:
        open_keystore(f"tpm:{path}", tcti=swtpm.tcti)
    assert info.value.code == "keystore.tpm-key-rejected"


def test_a_blob_describing_an_exportable_key_is_refused(swtpm: SoftwareTpm, tmp_path: Path) -> None:
    import tpm2_pytss as t

    path = tmp_path / "device.tpmkey"
    close_keystore(create_keystore(f"tpm:{path}", tcti=swtpm.tcti))
    public, _ = t.TPM2B_PUBLIC.unmarshal(cbor.decode(path.read_bytes())["public"])
    public.publicArea.objectAttributes &= ~t.TPMA_OBJECT.FIXEDTPM
    _rewrite_blob(path, public=bytes(public.marshal()))
    with pytest.raises(KeyFileFormatError, match="non-exportable"):
        open_keystore(f"tpm:{path}", tcti=swtpm.tcti)


@pytest.mark.parametrize("content", [b"", b"\xa0", cbor.encode({"format": "x"})])
def test_malformed_blob_files(swtpm: SoftwareTpm, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "device.tpmkey"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileFormatError):
        open_keystore(f"tpm:{path}", tcti=swtpm.tcti)


def test_unreachable_tpm_is_a_clear_error(tmp_path: Path) -> None:
    import importlib.util

    from tests.rig import free_port, require

    require(importlib.util.find_spec("tpm2_pytss") is not None, "Python package tpm2-pytss")

    with pytest.raises(TpmError) as info:
        create_keystore(f"tpm:{tmp_path}/k", tcti=f"swtpm:host=127.0.0.1,port={free_port()}")
    assert info.value.code == "keystore.tpm-unavailable"
    assert not (tmp_path / "k").exists()
