"""The software key file: 0600 from the first byte, never overwritten, refused when loose."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from attest import cose
from attest.keys import ED25519, EDDSA, ES256, PublicKey, SigningKey
from attest.manifest import ReleaseManifest, verify_manifest
from edge.keystore import (
    CoseSigner,
    InsecureKeyFileError,
    KeyExistsError,
    KeyFileFormatError,
    KeyNotFoundError,
    KeySpecError,
    KeyStore,
    SigningError,
    SoftwareKeyStore,
    cose_signer,
    create_keystore,
    open_keystore,
    parse_alg,
)


@pytest.mark.parametrize("alg", [ES256, ED25519])  # an Ed25519 PEM reads back as -19
def test_create_load_sign(tmp_path: Path, alg: int) -> None:
    path = tmp_path / "device.pem"
    store = SoftwareKeyStore.create(path, alg)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert isinstance(store, KeyStore)
    again = SoftwareKeyStore.load(path)
    assert (again.alg, again.kid) == (alg, store.kid)
    sig = again.sign(b"to be signed")
    store.public_key().verify(sig, b"to be signed")
    assert len(sig) == 64  # r||s for ES256 (RFC 9053 2.1), or an Ed25519 signature


def test_create_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        SoftwareKeyStore.create(tmp_path / "k.pem")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["k.pem"]  # no temporary left behind


def test_create_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "device.pem"
    first = SoftwareKeyStore.create(path)
    before = path.read_bytes()
    with pytest.raises(KeyExistsError) as info:
        SoftwareKeyStore.create(path, EDDSA)
    assert info.value.code == "keystore.key-exists"
    assert path.read_bytes() == before
    assert SoftwareKeyStore.load(path).kid == first.kid
    assert sorted(p.name for p in tmp_path.iterdir()) == ["device.pem"]


def test_create_needs_the_directory(tmp_path: Path) -> None:
    with pytest.raises(KeyNotFoundError) as info:
        SoftwareKeyStore.create(tmp_path / "missing" / "k.pem")
    assert info.value.code == "keystore.no-directory"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o700])
def test_load_refuses_loose_permissions(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "device.pem"
    SoftwareKeyStore.create(path)
    before = path.read_bytes()
    path.chmod(mode)
    if mode & 0o077:
        with pytest.raises(InsecureKeyFileError) as info:
            SoftwareKeyStore.load(path)
        assert info.value.code == "keystore.insecure-file"
        assert f"chmod 600 {path}" in str(info.value)
        assert path.read_bytes() == before  # refused, not "fixed" or removed
    else:
        SoftwareKeyStore.load(path)  # 0700: owner-only is fine


def test_load_refuses_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.pem"
    SoftwareKeyStore.create(real)
    link = tmp_path / "link.pem"
    link.symlink_to(real)
    with pytest.raises(InsecureKeyFileError, match="symlink"):
        SoftwareKeyStore.load(link)


def test_load_missing_says_how_to_create(tmp_path: Path) -> None:
    with pytest.raises(KeyNotFoundError, match="edgeproof device keygen"):
        SoftwareKeyStore.load(tmp_path / "none.pem")


@pytest.mark.parametrize(
    "content",
    [b"", b"not a key", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"],
)
def test_load_rejects_garbage(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pem"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileFormatError) as info:
        SoftwareKeyStore.load(path)
    assert info.value.code == "keystore.bad-key-file"


def test_load_rejects_an_oversized_file(tmp_path: Path) -> None:
    path = tmp_path / "big.pem"
    path.write_bytes(b"A" * 100_000)
    path.chmod(0o600)
    with pytest.raises(KeyFileFormatError, match="100000 bytes"):
        SoftwareKeyStore.load(path)


def test_load_rejects_other_key_types(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "p384.pem"
    pem = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    with pytest.raises(KeyFileFormatError, match="P-256 and Ed25519"):
        SoftwareKeyStore.load(path)


def test_private_key_never_in_repr_errors_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "device.pem"
    store = SoftwareKeyStore.create(path)
    body = b"".join(path.read_bytes().splitlines()[1:-1]).decode()
    texts = [repr(store), str(store)]
    path.chmod(0o644)
    with pytest.raises(InsecureKeyFileError) as info:
        SoftwareKeyStore.load(path)
    texts.append(str(info.value))
    path.chmod(0o600)
    store.sign(b"x")
    texts.append(caplog.text)
    for text in texts:
        assert "PRIVATE" not in text
        assert body[:16] not in text and body[-16:] not in text
    assert store.kid.hex() in repr(store)


def test_signer_works_with_attest_sign1_and_manifests(tmp_path: Path) -> None:
    store = create_keystore(f"file:{tmp_path}/k.pem", alg=EDDSA)
    signer = cose_signer(store)
    token = cose.sign1(b"payload", signer)
    msg = cose.verify_sign1(token, {store.kid: store.public_key()})
    assert msg.payload == b"payload" and msg.kid == store.kid
    manifest = ReleaseManifest("edgeproof", "1.0", {"edge/x.py": b"\1" * 32}, {})
    token = cose.sign1(manifest.encode(), signer)  # what sign_manifest does
    assert verify_manifest(token, {store.kid: store.public_key()}) == manifest


class _WrongSignatures:
    """A store whose signatures do not match its public key: what a faulty TPM looks like."""

    def __init__(self) -> None:
        self._key = SigningKey.generate(ES256)
        self._other = SigningKey.generate(ES256)

    @property
    def alg(self) -> int:
        return ES256

    @property
    def kid(self) -> bytes:
        return self._key.kid

    def public_key(self) -> PublicKey:
        return self._key.public

    def sign(self, data: bytes) -> bytes:
        return self._other.sign(data)


def test_signer_catches_a_signature_that_does_not_verify() -> None:
    signer = CoseSigner(_WrongSignatures())
    with pytest.raises(SigningError) as info:
        cose.sign1(b"payload", signer)
    assert info.value.code == "keystore.bad-signature"


def test_spec_and_alg_parsing(tmp_path: Path) -> None:
    assert parse_alg("es256") == ES256 and parse_alg("EdDSA") == ED25519  # RFC 9864
    assert parse_alg("-8") == EDDSA
    assert parse_alg("-19") == ED25519
    with pytest.raises(KeySpecError):
        parse_alg("RS256")
    with pytest.raises(KeySpecError):
        open_keystore("file:")
    with pytest.raises(KeySpecError, match="ES256 only"):
        create_keystore(f"tpm:{tmp_path}/k", alg=EDDSA)
    plain = create_keystore(str(tmp_path / "plain.pem"))
    assert isinstance(plain, SoftwareKeyStore) and plain.alg == ES256
    assert open_keystore(str(tmp_path / "plain.pem")).kid == plain.kid
