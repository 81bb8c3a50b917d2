"""Signature verification for certificates, EF.SOD and active authentication.

`cryptography` does the work; EC keys it refuses (explicit curve parameters, as some CSCAs
encode brainpool curves per ICAO 9303-12 section 7.1.1) fall back to the `ecdsa` package.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from edge.mrtd.errors import VerificationError

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    if name not in _HASHES:
        raise VerificationError(
            f"hash algorithm {name!r} is not supported", code="crypto.unsupported-algorithm"
        )
    return _HASHES[name]()


def digest(name: str, data: bytes) -> bytes:
    hash_algorithm(name)
    return hashlib.new(name, data).digest()


def load_public_key(spki_der: bytes) -> Any:
    """A `cryptography` public key, or an `ecdsa.VerifyingKey` for explicit-parameter EC keys."""
    try:
        return serialization.load_der_public_key(spki_der)
    except (ValueError, UnsupportedAlgorithm):
        import ecdsa

        try:
            return ecdsa.VerifyingKey.from_der(spki_der)
        except Exception as exc:
            raise VerificationError(
                f"public key not usable: {exc}", code="crypto.unsupported-key"
            ) from exc


def verify(
    spki_der: bytes,
    algorithm: str,
    hash_name: str,
    signature: bytes,
    data: bytes,
    *,
    pss_salt: int | None = None,
    ecdsa_plain: bool = False,
) -> bool:
    """Whether `signature` over `data` verifies; algorithm: ecdsa, rsassa_pkcs1v15, rsassa_pss.

    `ecdsa_plain` means r||s (BSI TR-03111 plain format, used by active authentication)
    rather than the DER SEQUENCE of X.509 and CMS.
    """
    key = load_public_key(spki_der)
    h = hash_algorithm(hash_name)
    if algorithm == "ecdsa":
        if not ecdsa_plain:
            signature = canonical_ecdsa_der(signature)
        if isinstance(key, ec.EllipticCurvePublicKey):
            if ecdsa_plain:
                from cryptography.hazmat.primitives.asymmetric.utils import (
                    encode_dss_signature,
                )

                half = len(signature) // 2
                if len(signature) % 2:
                    return False
                signature = encode_dss_signature(
                    int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
                )
            try:
                key.verify(signature, data, ec.ECDSA(h))
                return True
            except (InvalidSignature, ValueError):
                return False
        import ecdsa
        from ecdsa.util import sigdecode_der, sigdecode_string

        try:
            return bool(
                key.verify(
                    signature,
                    data,
                    getattr(hashlib, hash_name),
                    sigdecode=sigdecode_string if ecdsa_plain else sigdecode_der,
                )
            )
        except (ecdsa.BadSignatureError, ecdsa.der.UnexpectedDER, AssertionError, ValueError):
            return False
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    pad: padding.AsymmetricPadding
    if algorithm == "rsassa_pkcs1v15":
        pad = padding.PKCS1v15()
    elif algorithm == "rsassa_pss":
        pad = padding.PSS(padding.MGF1(h), pss_salt if pss_salt is not None else h.digest_size)
    else:
        raise VerificationError(
            f"signature algorithm {algorithm!r} unsupported", code="crypto.unsupported-algorithm"
        )
    k = (key.key_size + 7) // 8
    if len(signature) < k:
        # Tolerance: RFC 8017 section 8.2.2 step 1 wants the signature exactly k octets;
        # some signers drop leading zero octets (the integer is the same). Left-pad.
        signature = bytes(k - len(signature)) + signature
    try:
        key.verify(signature, data, pad, h)
        return True
    except (InvalidSignature, ValueError):
        return False


def canonical_ecdsa_der(signature: bytes) -> bytes:
    """ECDSA-Sig-Value (RFC 5480 section 2.2 / X9.62) re-encoded in DER, r and s unsigned.

    Tolerance: the same old encoders that write a negative RSA modulus write r or s without
    the leading zero octet X.690 section 8.3 requires (so they read as negative), or with
    superfluous zero octets; OpenSSL then refuses the signature outright. Reading both
    integers as the unsigned octets they are and re-encoding changes no value, so a forged
    signature gains nothing; the verification itself decides. Anything that is not a
    SEQUENCE of exactly two INTEGERs is returned unchanged (and fails verification).
    """
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from edge.mrtd import tlv
    from edge.mrtd.errors import ParseError

    try:
        body = tlv.expect(signature, 0x30, "ECDSA signature")
        parts = list(tlv.iterate(body))
    except ParseError:
        return signature
    if len(parts) != 2 or any(p.tag != 0x02 or not p.value for p in parts):
        return signature
    r, s = (int.from_bytes(p.value, "big") for p in parts)
    if r == 0 or s == 0:
        return signature
    return bytes(encode_dss_signature(r, s))


# Signature algorithm identifiers that name only the key type and leave the hash to the
# CMS SignerInfo's digestAlgorithm. rsaEncryption is explicitly allowed there by RFC 3370
# section 3.2 ("the digest algorithm is identified by digestAlgorithm"); id-ecPublicKey
# and the bare ecdsa arc stretch RFC 5753 section 7.1.3 / RFC 5754 section 3.3 (which want
# ecdsa-with-SHAxxx) and are accepted because issuers' SODs carry them.
_KEY_ONLY_ALGORITHMS = {
    "1.2.840.113549.1.1.1": "rsassa_pkcs1v15",  # rsaEncryption
    "1.2.840.10045.2.1": "ecdsa",  # id-ecPublicKey
    "1.2.840.10045.4": "ecdsa",  # ecdsa-with-Sha arc without a hash
}


def verify_asn1(
    spki_der: bytes,
    algo: Any,
    signature: bytes,
    data: bytes,
    *,
    digest_algorithm: str | None = None,
) -> bool:
    """Verify with an asn1crypto SignedDigestAlgorithm (X.509 and CMS signer infos).

    `digest_algorithm` is the CMS SignerInfo.digestAlgorithm (RFC 5652 section 5.3): the
    hash when the signature algorithm names only the key type (rsaEncryption, RFC 3370
    section 3.2). X.509 signatures have no such field and pass None.
    """
    try:
        dotted = algo["algorithm"].dotted
    except (KeyError, ValueError, TypeError) as exc:
        raise VerificationError(
            f"signature algorithm unreadable: {exc}", code="crypto.unsupported-algorithm"
        ) from exc
    if dotted in _KEY_ONLY_ALGORITHMS and digest_algorithm is not None:
        return verify(spki_der, _KEY_ONLY_ALGORITHMS[dotted], digest_algorithm, signature, data)
    try:
        sig_algo = algo.signature_algo
        hash_name = algo.hash_algo
    except ValueError as exc:
        raise VerificationError(
            f"signature algorithm not supported: {exc}", code="crypto.unsupported-algorithm"
        ) from exc
    salt = None
    if sig_algo == "rsassa_pss":
        try:
            salt = int(algo["parameters"]["salt_length"].native)  # RFC 4055 3.1: default 20
        except (KeyError, ValueError, TypeError) as exc:
            raise VerificationError(
                f"RSA-PSS parameters unreadable: {exc}", code="crypto.unsupported-algorithm"
            ) from exc
        if not 0 <= salt <= 1024:
            raise VerificationError(
                f"RSA-PSS salt length {salt} out of range", code="crypto.unsupported-algorithm"
            )
    return verify(spki_der, sig_algo, hash_name, signature, data, pss_salt=salt)
