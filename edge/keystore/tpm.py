"""A TPM 2.0 device key: ES256, generated inside the TPM and never leaving it.

How the key persists: as a *key blob file*, not a persistent handle. At keygen the TPM
creates a P-256 signing key under the storage root key (SRK) and hands back its public
area and its private area wrapped (encrypted and integrity-protected) under the SRK's
seed; both go into one 0600 file. At each start the SRK is re-derived from the owner
hierarchy's seed with the standard template (same seed, same template: same SRK), and
TPM2_Load unwraps the blob inside the TPM. Why a blob rather than TPM2_EvictControl to a
persistent handle:
- no NV slot is used (a TPM has a handful, and they wear), and no handle number can collide
  with another program that provisioned the same TPM;
- the blob is worthless anywhere else: only this TPM's owner seed unwraps it, and the key
  is FIXEDTPM and FIXEDPARENT, so the TPM refuses to duplicate it (TPM 2.0 Library Part 1,
  section 23.2 and Part 2, section 8.3.3.1);
- re-enrolment is deleting a file; a TPM clear (new owner seed) makes the old blob unusable,
  which is the right outcome for a key the verifier pinned.
Re-deriving the SRK costs one key generation per start (tens of milliseconds on swtpm;
more on a hardware TPM), once, not per signature.
The SRK template is the TCG Provisioning Guidance one (ECC NIST P-256, AES-128-CFB,
restricted decrypt, unique zeroed), so it is the same key other TPM tools derive or
persist at 0x81000001.

The owner hierarchy must have an empty authorization (the state of a fresh TPM) and the
service user needs the TPM resource manager (/dev/tpmrm0, group `tss`).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from attest import cbor
from attest.errors import DecodeError
from attest.keys import ES256, PublicKey, low_s
from edge.keystore import files
from edge.keystore.errors import (
    BackendMissingError,
    KeyFileFormatError,
    KeySpecError,
    TpmError,
)

DEFAULT_TCTI = "device:/dev/tpmrm0"
BLOB_FORMAT = "edgeproof-tpm-key/1"
PARENT = "tcg-srk-ecc-p256"


def _tss() -> Any:
    try:
        import tpm2_pytss
    except ImportError as exc:
        raise BackendMissingError(
            f"the TPM key store needs tpm2-pytss (pip install 'edgeproof[tpm]', with "
            f"Debian's libtss2-dev): {exc}"
        ) from None
    return tpm2_pytss


def _srk_template(t: Any) -> Any:
    attrs = (
        t.TPMA_OBJECT.RESTRICTED
        | t.TPMA_OBJECT.DECRYPT
        | t.TPMA_OBJECT.FIXEDTPM
        | t.TPMA_OBJECT.FIXEDPARENT
        | t.TPMA_OBJECT.SENSITIVEDATAORIGIN
        | t.TPMA_OBJECT.USERWITHAUTH
        | t.TPMA_OBJECT.NODA
    )
    template = t.TPM2B_PUBLIC.parse("ecc256:aes128cfb", objectAttributes=attrs)
    template.publicArea.unique.ecc.x = b"\0" * 32
    template.publicArea.unique.ecc.y = b"\0" * 32
    return template


def _signing_attrs(t: Any) -> Any:
    # Part 2, 8.3: sign only (no DECRYPT, not RESTRICTED, so it signs external digests),
    # generated inside the TPM and bound to this TPM and parent.
    return (
        t.TPMA_OBJECT.SIGN_ENCRYPT
        | t.TPMA_OBJECT.FIXEDTPM
        | t.TPMA_OBJECT.FIXEDPARENT
        | t.TPMA_OBJECT.SENSITIVEDATAORIGIN
        | t.TPMA_OBJECT.USERWITHAUTH
    )


def _connect(t: Any, tcti: str) -> Any:
    name, _, conf = tcti.partition(":")
    if not name or not name.isidentifier():
        raise KeySpecError(
            f"TCTI {tcti!r} is not NAME:CONFIG (e.g. {DEFAULT_TCTI} or swtpm:port=2321)",
            code="keystore.bad-tcti",
        )
    try:
        return t.ESAPI(t.TCTILdr(name, conf or None))
    except t.TSS2_Exception as exc:
        raise TpmError(
            f"cannot reach the TPM through {tcti!r} ({exc}); check that the device exists "
            "and that the service user is in the `tss` group",
            code="keystore.tpm-unavailable",
        ) from None


def _release(esapi: Any, handles: list[Any]) -> None:
    """Flush transient objects (a TPM without a resource manager keeps them) and close."""
    try:
        for handle in reversed(handles):
            esapi.flush_context(handle)
    finally:
        esapi.close()


class TpmKeyStore:
    """An ES256 key inside a TPM; this process only ever holds a handle to it."""

    alg = ES256

    def __init__(
        self, path: Path, tcti: str, esapi: Any, srk: Any, handle: Any, public: Any
    ) -> None:
        self._path = path
        self._tcti = tcti
        self._esapi = esapi
        self._srk = srk
        self._handle = handle
        self._lock = threading.Lock()
        self._public = self._public_key(public)

    # -- lifecycle -----------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, tcti: str = DEFAULT_TCTI) -> TpmKeyStore:
        """A fresh key made by the TPM (TPM2_Create, Part 3 section 12.1); blob to `path`."""
        t = _tss()
        target = Path(path)
        esapi = _connect(t, tcti)
        handles: list[Any] = []
        try:
            srk = cls._primary(t, esapi)
            handles.append(srk)
            attrs = _signing_attrs(t)
            template = t.TPM2B_PUBLIC.parse("ecc256:ecdsa-sha256", objectAttributes=attrs)
            private, public, *_ = esapi.create(srk, t.TPM2B_SENSITIVE_CREATE(), template)
            blob = cbor.encode(
                {
                    "format": BLOB_FORMAT,
                    "parent": PARENT,
                    "public": bytes(public.marshal()),
                    "private": bytes(private.marshal()),
                }
            )
            files.write_new(target, blob)
            handles.append(esapi.load(srk, private, public))
            return cls(target, tcti, esapi, srk, handles[-1], public)
        except t.TSS2_Exception as exc:
            _release(esapi, handles)
            raise TpmError(f"the TPM refused to create the key: {exc}") from None
        except BaseException:
            _release(esapi, handles)
            raise

    @classmethod
    def load(cls, path: str | Path, tcti: str = DEFAULT_TCTI) -> TpmKeyStore:
        """The key whose blob is in `path`, loaded into the TPM (TPM2_Load, Part 3 12.2)."""
        t = _tss()
        target = Path(path)
        public, private = cls._read_blob(t, target)
        esapi = _connect(t, tcti)
        handles: list[Any] = []
        try:
            srk = cls._primary(t, esapi)
            handles.append(srk)
            handles.append(esapi.load(srk, private, public))
            return cls(target, tcti, esapi, srk, handles[-1], public)
        except t.TSS2_Exception as exc:
            _release(esapi, handles)
            raise TpmError(
                f"the TPM refused the key blob {target} ({exc}); it was made by another TPM, "
                "or this TPM was cleared since: generate and enrol a new key",
                code="keystore.tpm-key-rejected",
            ) from None
        except BaseException:
            _release(esapi, handles)
            raise

    def close(self) -> None:
        """Flush the transient objects and close the TPM connection."""
        with self._lock:
            if self._esapi is not None:
                _release(self._esapi, [self._handle, self._srk])
                self._esapi = None

    def __enter__(self) -> TpmKeyStore:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the KeyStore protocol -----------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    @property
    def kid(self) -> bytes:
        return self._public.kid

    def public_key(self) -> PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        """ES256 over `data`: SHA-256 here, ECDSA in the TPM (TPM2_Sign, Part 3 20.2)."""
        t = _tss()
        digest = hashlib.sha256(data).digest()
        scheme = t.TPMT_SIG_SCHEME(scheme=t.TPM2_ALG.ECDSA)
        scheme.details.any.hashAlg = t.TPM2_ALG.SHA256
        # A NULL ticket: the key is not restricted, so the TPM signs an external digest.
        ticket = t.TPMT_TK_HASHCHECK(tag=t.TPM2_ST.HASHCHECK, hierarchy=t.TPM2_RH.NULL)
        with self._lock:
            if self._esapi is None:
                raise TpmError("the TPM key store is closed", code="keystore.closed")
            try:
                sig = self._esapi.sign(self._handle, t.TPM2B_DIGEST(digest), scheme, ticket)
            except t.TSS2_Exception as exc:
                raise TpmError(f"the TPM refused to sign: {exc}") from None
        r, s = bytes(sig.signature.ecdsa.signatureR), bytes(sig.signature.ecdsa.signatureS)
        if len(r) > 32 or len(s) > 32:
            raise TpmError("the TPM returned an ECDSA signature wider than P-256")
        # RFC 9053 section 2.1: r and s as fixed 32-byte big-endian integers; low S, since
        # the verifier refuses the malleable high-S form (attest.evidence, issue 16).
        return low_s(r.rjust(32, b"\0") + s.rjust(32, b"\0"))

    def object_attributes(self) -> frozenset[str]:
        """The attributes the TPM itself reports for the loaded key (TPM2_ReadPublic)."""
        with self._lock:
            if self._esapi is None:
                raise TpmError("the TPM key store is closed", code="keystore.closed")
            public, _name, _qualified = self._esapi.read_public(self._handle)
        return frozenset(str(public.publicArea.objectAttributes).lower().split("|"))

    def __repr__(self) -> str:
        return f"TpmKeyStore(path={str(self._path)!r}, tcti={self._tcti!r}, kid={self.kid.hex()})"

    # -- internals -----------------------------------------------------------------------

    @staticmethod
    def _primary(t: Any, esapi: Any) -> Any:
        """The SRK, re-derived from the owner seed (TPM2_CreatePrimary, Part 3 24.1)."""
        try:
            handle, *_ = esapi.create_primary(t.TPM2B_SENSITIVE_CREATE(), _srk_template(t))
        except t.TSS2_Exception as exc:
            raise TpmError(
                f"cannot derive the storage root key ({exc}); the owner hierarchy must have "
                "an empty authorization",
                code="keystore.tpm-no-srk",
            ) from None
        return handle

    @staticmethod
    def _read_blob(t: Any, path: Path) -> tuple[Any, Any]:
        raw = files.read_private(path)
        try:
            m = cbor.decode(raw, max_size=files.MAX_KEY_FILE, max_depth=2, max_items=16)
        except DecodeError as exc:
            raise KeyFileFormatError(f"{path} is not a TPM key blob: {exc.message}") from None
        if (
            not isinstance(m, dict)
            or set(m) != {"format", "parent", "public", "private"}
            or m["format"] != BLOB_FORMAT
            or m["parent"] != PARENT
            or not isinstance(m["public"], bytes)
            or not isinstance(m["private"], bytes)
        ):
            raise KeyFileFormatError(f"{path} is not a {BLOB_FORMAT} key blob")
        try:
            public, used = t.TPM2B_PUBLIC.unmarshal(m["public"])
            private, used_private = t.TPM2B_PRIVATE.unmarshal(m["private"])
        except (t.TSS2_Exception, ValueError) as exc:
            raise KeyFileFormatError(f"{path}: malformed TPM structures ({exc})") from None
        if used != len(m["public"]) or used_private != len(m["private"]):
            raise KeyFileFormatError(f"{path}: trailing bytes after the TPM structures")
        area = public.publicArea
        wanted = int(_signing_attrs(t))
        if (
            area.type != t.TPM2_ALG.ECC
            or area.parameters.eccDetail.curveID != t.TPM2_ECC.NIST_P256
            or area.parameters.eccDetail.scheme.scheme != t.TPM2_ALG.ECDSA
            or area.parameters.eccDetail.scheme.details.ecdsa.hashAlg != t.TPM2_ALG.SHA256
            or int(area.objectAttributes) != wanted
        ):
            raise KeyFileFormatError(
                f"{path} does not describe a non-exportable ECDSA P-256/SHA-256 signing key"
            )
        return public, private

    @staticmethod
    def _public_key(public: Any) -> PublicKey:
        ecc = public.publicArea.unique.ecc
        try:
            x, y = int.from_bytes(bytes(ecc.x), "big"), int.from_bytes(bytes(ecc.y), "big")
            point = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        except ValueError as exc:
            raise TpmError(f"the TPM returned an invalid P-256 point: {exc}") from None
        return PublicKey(ES256, point)
