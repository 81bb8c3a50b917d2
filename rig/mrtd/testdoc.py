"""Generate a complete, signed test passport: CSCA, DSC, LDS files, chip keys.

Everything is synthetic except the face photo, by default the demo's public-domain portrait
(rig/face/media/astronaut.jpg, see rig/face/media/SOURCES.md). Options produce the negative
documents the tests need: expired DSC, untrusted CSCA, wrong data-group hash, chip keys that
do not match DG14/DG15.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from asn1crypto import algos, cms, core, keys
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from edge.mrtd import lds, tlv
from edge.mrtd.dg2 import build_dg2
from edge.mrtd.mrz import MrzKey, compose_td3
from edge.mrtd.securityinfo import CA_PREFIX, PACE_PREFIX, PK_ECDH, build_security_infos
from edge.mrtd.sod import LDS_SECURITY_OBJECT_OID, DataGroupHash, LdsSecurityObject

FACE_PHOTO = Path(__file__).resolve().parents[1] / "face" / "media" / "astronaut.jpg"
CurveName = Literal["brainpoolP256r1", "secp256r1"]
_CURVES: dict[str, ec.EllipticCurve] = {
    "brainpoolP256r1": ec.BrainpoolP256R1(),
    "secp256r1": ec.SECP256R1(),
}
_PARAM_IDS = {"brainpoolP256r1": 13, "secp256r1": 12}


@dataclass(frozen=True)
class DocOptions:
    curve: CurveName = "brainpoolP256r1"
    image_format: Literal["jpeg", "jpeg2000"] = "jpeg2000"
    image_bytes: int = 20_000  # target size of the encoded face, as in real passports
    face_container: Literal["19794-5", "39794-5"] = "19794-5"
    pace: bool = True  # EF.CardAccess offers PACE (ECDH generic mapping)
    pace_suite: int = 2  # last arc of id-PACE-ECDH-GM-*: 1 3DES, 2 AES-128, 3 AES-192, 4 AES-256
    pace_cam: bool = False  # also PACE-CAM (AES suites), with a signed EF.CardSecurity
    can: str = "123456"
    dg11: bool = False  # additional personal details, read only on request
    active_auth: Literal["ecdsa", "rsa", "none"] = "ecdsa"
    chip_auth: bool = True
    expired_dsc: bool = False
    untrusted_csca: bool = False  # SOD signed under a CSCA the trust folder does not hold
    wrong_dg_hash: bool = False  # EF.SOD lists a wrong hash for DG2
    mismatched_aa_key: bool = False  # the chip's AA private key differs from DG15
    mismatched_ca_key: bool = False  # the chip's CA private key differs from DG14
    # What real issuers produce (docs/passport.md, "Tolerances"):
    sod_rsa_encryption: bool = False  # RSA DSC; SignerInfo.signatureAlgorithm rsaEncryption
    sid_issuer_reordered: bool = False  # SignerIdentifier issuer RDNs in reverse order
    econtent_id_data: bool = False  # eContentType id-data (SignedData version 1)
    dg15_negative_modulus: bool = False  # RSA DG15 modulus without its leading zero octet
    issuing_state: str = "UTO"  # DG1 issuing state (9303-3 specimen state by default)
    country: str = "UT"  # C= of the CSCA and DSC
    csca_country: str | None = None  # C= of the CSCA when it differs from `country`
    crl: bool = False  # the CSCA publishes a CRL (TestDocument.crl_der) not listing the DSC
    revoked_dsc: bool = False  # the CSCA's CRL lists the DSC
    dsc_aki_mismatch: bool = False  # DSC authorityKeyIdentifier names no CSCA key identifier
    document_number: str = "C01X00T47"
    date_of_birth: str = "740812"
    date_of_expiry: str = "341031"
    face_photo: str | None = None  # the chip photo; default: rig/face/media/astronaut.jpg


@dataclass
class TestDocument:
    """The chip's files and secrets plus the trust anchor, as written to a document folder."""

    files: dict[str, bytes]  # name (EF.COM, DG1, ...) -> file content
    mrz_key: MrzKey
    can: str
    csca_der: bytes  # the CSCA to trust (for untrusted_csca: a different one)
    aa_key_pem: bytes | None = None
    ca_key_pem: bytes | None = None
    options: dict[str, object] = field(default_factory=dict)
    crl_der: bytes | None = None  # the CSCA's CRL, when the options ask for one

    def write(self, folder: str | Path) -> Path:
        d = Path(folder)
        (d / "chip").mkdir(parents=True, exist_ok=True)
        (d / "trust").mkdir(exist_ok=True)
        for name, data in self.files.items():
            (d / "chip" / f"{name}.bin").write_bytes(data)
        (d / "trust" / "csca.der").write_bytes(self.csca_der)
        if self.crl_der:
            (d / "trust" / "csca.crl").write_bytes(self.crl_der)
        if self.aa_key_pem:
            (d / "chip" / "aa_key.pem").write_bytes(self.aa_key_pem)
        if self.ca_key_pem:
            (d / "chip" / "ca_key.pem").write_bytes(self.ca_key_pem)
        meta = {
            "document_number": self.mrz_key.document_number,
            "date_of_birth": self.mrz_key.date_of_birth,
            "date_of_expiry": self.mrz_key.date_of_expiry,
            "can": self.can,
            "options": self.options,
        }
        (d / "document.json").write_text(json.dumps(meta, indent=2))
        return d

    @classmethod
    def load(cls, folder: str | Path) -> TestDocument:
        d = Path(folder)
        meta = json.loads((d / "document.json").read_text())
        files = {f.stem: f.read_bytes() for f in (d / "chip").glob("*.bin")}
        aa, ca = d / "chip" / "aa_key.pem", d / "chip" / "ca_key.pem"
        return cls(
            files,
            MrzKey(meta["document_number"], meta["date_of_birth"], meta["date_of_expiry"]),
            meta["can"],
            (d / "trust" / "csca.der").read_bytes(),
            aa.read_bytes() if aa.exists() else None,
            ca.read_bytes() if ca.exists() else None,
            meta.get("options", {}),
        )


def _name(cn: str, country: str = "UT") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Edgeproof Test Authority"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _cert(
    subject: str,
    key: PrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    start: dt.datetime,
    days: int,
    ca: bool,
    *,
    country: str = "UT",
    issuer_country: str | None = None,
    aki_key: ec.EllipticCurvePrivateKey | None = None,
) -> x509.Certificate:
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject, country))
        .issuer_name(_name(issuer, issuer_country or country))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                (aki_key or issuer_key).public_key()
            ),
            False,
        )
    )
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        b = b.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
    else:
        b = b.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
    return b.sign(issuer_key, hashes.SHA256())


def face_image(fmt: str, target: int, photo: str | Path | None = None) -> tuple[bytes, int, int]:
    """The test photo as JPEG or JPEG 2000 near `target` bytes (ICAO 9303-9 suggests 15-20 KB)."""
    from PIL import Image

    with Image.open(photo or FACE_PHOTO) as src:
        img = src.convert("RGB")
    img = img.resize((352, int(352 * img.height / img.width)))
    buf = io.BytesIO()
    if fmt == "jpeg":
        for q in range(90, 10, -5):
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=q)
            if buf.tell() <= target:
                break
    else:
        ratio = img.width * img.height * 3 / target
        img.save(buf, "JPEG2000", quality_mode="rates", quality_layers=[ratio])
    return buf.getvalue(), img.width, img.height


def _spki(public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _negative_modulus_spki(public_key: rsa.RSAPublicKey) -> bytes:
    """An RSA SubjectPublicKeyInfo whose modulus lacks the leading zero octet X.690 8.3
    requires, so it reads as a negative INTEGER: the old encoder bug seen in a real DG15."""
    numbers = public_key.public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")  # top bit set: "negative"
    e = numbers.e.to_bytes((numbers.e.bit_length() + 8) // 8, "big")
    rsa_key = tlv.encode(0x30, tlv.encode(0x02, n) + tlv.encode(0x02, e))
    rsa_encryption = tlv.encode(0x06, bytes.fromhex("2a864886f70d010101"))
    algorithm = tlv.encode(0x30, rsa_encryption + b"\x05\x00")
    return tlv.encode(0x30, algorithm + tlv.encode(0x03, b"\x00" + rsa_key))


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cms_signed(
    content_type: str,
    content: bytes,
    cert: x509.Certificate,
    key: PrivateKey,
    *,
    econtent_type: str | None = None,
    rsa_encryption: bool = False,
    reorder_issuer: bool = False,
) -> bytes:
    """CMS SignedData (RFC 5652 section 5) with signed attributes, as ContentInfo DER: the
    wrapping of both EF.SOD (9303-10 section 4.6.2) and a master list (9303-12 section 8).

    `econtent_type` labels the content differently (id-data, as some issuers do; version
    1 then, RFC 5652 5.1); `rsa_encryption` names the signature algorithm rsaEncryption
    (RFC 3370 3.2); `reorder_issuer` lists the SignerIdentifier issuer's RDNs reversed."""
    label = econtent_type or content_type
    attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [label]},
            {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
        ]
    )
    # RFC 5652 section 5.4: the signature covers the attributes re-tagged as a SET (0x31).
    to_sign = b"\x31" + attrs.dump()[1:]
    algorithm: str
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
        algorithm = "rsassa_pkcs1v15" if rsa_encryption else "sha256_rsa"
    else:
        signature = key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
        algorithm = "sha256_ecdsa"
    cert_a = ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    issuer = cert_a.issuer
    if reorder_issuer:
        issuer = ax509.Name.load(
            tlv.encode(0x30, b"".join(rdn.dump() for rdn in reversed(list(issuer.chosen))))
        )
    signer = {
        "version": "v1",
        "sid": cms.SignerIdentifier(
            {
                "issuer_and_serial_number": {
                    "issuer": issuer,
                    "serial_number": cert_a.serial_number,
                }
            }
        ),
        "digest_algorithm": {"algorithm": "sha256"},
        "signed_attrs": attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": algorithm}),
        "signature": signature,
    }
    signed = cms.SignedData(
        {
            "version": "v1" if label == "1.2.840.113549.1.7.1" else "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {
                "content_type": label,
                "content": core.OctetString(content)
                if label == "1.2.840.113549.1.7.1"
                else core.ParsableOctetString(content),
            },
            "certificates": [cert_a],
            "signer_infos": [signer],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


def _sign_sod(
    hashes_by_dg: dict[int, bytes],
    dsc: x509.Certificate,
    dsc_key: PrivateKey,
    o: DocOptions | None = None,
) -> bytes:
    """EF.SOD as CMS SignedData with signed attributes (9303-10 section 4.6.2, RFC 5652)."""
    o = o or DocOptions()
    lso = LdsSecurityObject(
        {
            "version": 0,
            "hash_algorithm": {"algorithm": "sha256"},
            "data_group_hash_values": [
                DataGroupHash({"data_group_number": n, "data_group_hash_value": h})
                for n, h in sorted(hashes_by_dg.items())
            ],
        }
    ).dump()
    return tlv.encode(
        0x77,
        _cms_signed(
            LDS_SECURITY_OBJECT_OID,
            lso,
            dsc,
            dsc_key,
            econtent_type="1.2.840.113549.1.7.1" if o.econtent_id_data else None,
            rsa_encryption=o.sod_rsa_encryption,
            reorder_issuer=o.sid_issuer_reordered,
        ),
    )


def _crl(
    issuer: x509.Certificate, key: ec.EllipticCurvePrivateKey, revoked: list[int], now: dt.datetime
) -> bytes:
    """An X.509 CRL of the CSCA (RFC 5280 section 5; 9303-12 section 7.1.4)."""
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now - dt.timedelta(days=1))
        .next_update(now + dt.timedelta(days=90))
    )
    for serial in revoked:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - dt.timedelta(days=1))
            .build()
        )
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class _Pki:
    """The document's signers: its CSCA and DSC, and the CSCA the verifier is told to trust
    (another one for `untrusted_csca`)."""

    csca: x509.Certificate
    csca_key: ec.EllipticCurvePrivateKey
    dsc: x509.Certificate
    dsc_key: PrivateKey
    trusted: x509.Certificate


def _pki(o: DocOptions, curve: ec.EllipticCurve, now: dt.datetime) -> _Pki:
    csca_key = ec.generate_private_key(curve)
    csca_country = o.csca_country or o.country
    csca = _cert(
        "Test CSCA",
        csca_key,
        "Test CSCA",
        csca_key,
        now - dt.timedelta(days=365),
        3650,
        True,
        country=csca_country,
    )
    dsc_key: PrivateKey = (
        rsa.generate_private_key(65537, 2048)
        if o.sod_rsa_encryption
        else ec.generate_private_key(curve)
    )
    dsc_start = now - dt.timedelta(days=400 if o.expired_dsc else 30)
    dsc = _cert(
        "Test DSC",
        dsc_key,
        "Test CSCA",
        csca_key,
        dsc_start,
        90 if o.expired_dsc else 3650,
        False,
        country=o.country,
        issuer_country=csca_country,
        aki_key=ec.generate_private_key(curve) if o.dsc_aki_mismatch else None,
    )
    trusted = csca
    if o.untrusted_csca:
        other_key = ec.generate_private_key(curve)
        trusted = _cert(
            "Test CSCA", other_key, "Test CSCA", other_key, now - dt.timedelta(days=1), 3650, True
        )
    return _Pki(csca, csca_key, dsc, dsc_key, trusted)


def _chip_keys(
    o: DocOptions, curve: ec.EllipticCurve, files: dict[str, bytes], groups: list[int]
) -> tuple[ec.EllipticCurvePrivateKey | None, bytes | None, bytes | None]:
    """DG14 (Chip Authentication, 9303-11 6.2) and DG15 (Active Authentication, 9303-11
    6.1) added to `files`; returns the CA key and the chip's CA and AA private keys (PEM),
    another key than the data group's when a mismatched key is asked for."""
    ca_key = None
    aa_pem = ca_pem = None
    if o.chip_auth:
        ca_key = ec.generate_private_key(curve)
        infos = build_security_infos(
            [
                (PK_ECDH, keys.PublicKeyInfo.load(_spki(ca_key.public_key())), None),
                (CA_PREFIX + ".2.2", core.Integer(1), None),  # id-CA-ECDH-AES-CBC-CMAC-128
            ]
        )
        files["DG14"] = tlv.encode(0x6E, infos)
        groups.append(14)
        ca_pem = _pem(ec.generate_private_key(curve) if o.mismatched_ca_key else ca_key)
    if o.active_auth != "none":
        aa_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

        def new_aa() -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
            if o.active_auth == "rsa":
                return rsa.generate_private_key(65537, 2048)
            return ec.generate_private_key(curve)

        aa_key = new_aa()
        aa_public = aa_key.public_key()
        if o.dg15_negative_modulus and isinstance(aa_public, rsa.RSAPublicKey):
            files["DG15"] = tlv.encode(0x6F, _negative_modulus_spki(aa_public))
        else:
            files["DG15"] = tlv.encode(0x6F, _spki(aa_public))
        groups.append(15)
        aa_pem = _pem(new_aa() if o.mismatched_aa_key else aa_key)
    return ca_key, ca_pem, aa_pem


def generate(options: DocOptions | None = None, *, now: dt.datetime | None = None) -> TestDocument:
    o = options or DocOptions()
    now = now or dt.datetime.now(dt.UTC)
    curve = _CURVES[o.curve]
    pki = _pki(o, curve, now)
    csca, csca_key, dsc, dsc_key = pki.csca, pki.csca_key, pki.dsc, pki.dsc_key
    mrz = compose_td3(
        document_code="P",
        issuing_state=o.issuing_state,
        primary="ERIKSSON",
        secondary="ANNA MARIA",
        document_number=o.document_number,
        nationality="UTO",
        date_of_birth=o.date_of_birth,
        sex="F",
        date_of_expiry=o.date_of_expiry,
    )
    image, width, height = face_image(o.image_format, o.image_bytes, o.face_photo)
    files: dict[str, bytes] = {
        "DG1": lds.build_dg1(mrz),
        "DG2": build_dg2(image, o.image_format, width, height, o.face_container),
    }
    groups = [1, 2]
    if o.dg11:
        # DG11 additional personal details (9303-10 4.7.11): tag list, then full name.
        name = b"ERIKSSON<<ANNA<MARIA"
        files["DG11"] = tlv.encode(0x6B, tlv.encode(0x5C, b"\x5f\x0e") + tlv.encode(0x5F0E, name))
        groups.append(11)
    ca_key, ca_pem, aa_pem = _chip_keys(o, curve, files, groups)
    files["EF.COM"] = lds.EfCom.build(sorted(groups))
    digests = {n: hashlib.sha256(files[f"DG{n}"]).digest() for n in groups}
    if o.wrong_dg_hash:
        digests[2] = hashlib.sha256(b"not the face").digest()
    files["EF.SOD"] = _sign_sod(digests, dsc, dsc_key, o)
    crl_der = None
    if o.crl or o.revoked_dsc:
        crl_der = _crl(csca, csca_key, [dsc.serial_number] if o.revoked_dsc else [], now)
    if o.pace:
        files["EF.CardAccess"] = build_security_infos(
            [
                (
                    f"{PACE_PREFIX}.2.{o.pace_suite}",
                    core.Integer(2),
                    core.Integer(_PARAM_IDS[o.curve]),
                ),
            ]
        )
    if o.pace and o.pace_cam and ca_key is not None:
        sign = lambda kind, content: _cms_signed(kind, content, dsc, dsc_key)  # noqa: E731
        files.update(_pace_cam_files(o, ca_key.public_key(), sign))
    options_meta = {k: v for k, v in o.__dict__.items()}
    return TestDocument(
        files,
        MrzKey(o.document_number, o.date_of_birth, o.date_of_expiry),
        o.can,
        pki.trusted.public_bytes(serialization.Encoding.DER),
        aa_pem,
        ca_pem,
        options_meta,
        crl_der,
    )


def master_list(cscas: list[bytes], *, now: dt.datetime | None = None) -> bytes:
    """An ICAO CSCA master list (9303-12 section 8) signed by a signer under the first CSCA.

    The generator keeps no CSCA private key, so a fresh CSCA + signer pair is made and added
    to the list; tests use it to exercise `TrustStore.from_path` with `.ml` files.
    """
    from edge.mrtd.passive import MASTER_LIST_OID, CscaMasterList

    now = now or dt.datetime.now(dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert("ML CSCA", root_key, "ML CSCA", root_key, now - dt.timedelta(days=1), 3650, True)
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = _cert(
        "ML signer", signer_key, "ML CSCA", root_key, now - dt.timedelta(days=1), 365, False
    )
    der = [root.public_bytes(serialization.Encoding.DER), *cscas]
    body = CscaMasterList(
        {"version": 0, "cert_list": [ax509.Certificate.load(c) for c in der]}
    ).dump()
    return _cms_signed(MASTER_LIST_OID, body, signer, signer_key)


def _pace_cam_files(
    o: DocOptions, chip_key: ec.EllipticCurvePublicKey, sign: Callable[[str, bytes], bytes]
) -> dict[str, bytes]:
    """EF.CardAccess offering PACE-CAM and PACE-GM, and EF.CardSecurity signed by the DSC
    with the chip's key (the DG14 key) under keyId = parameterId, as the German and Finnish
    files have it (9303-11 sections 4.4.3.5 and 9.2; BSI TR-03110-3 A.1.2.2)."""
    param = core.Integer(_PARAM_IDS[o.curve])
    paces = [
        (f"{PACE_PREFIX}.6.{o.pace_suite}", core.Integer(2), param),  # id-PACE-ECDH-CAM-*
        (f"{PACE_PREFIX}.2.{o.pace_suite}", core.Integer(2), param),
    ]
    signed = build_security_infos(
        [
            *paces,
            (f"{CA_PREFIX}.2.{o.pace_suite}", core.Integer(1), param),
            (PK_ECDH, keys.PublicKeyInfo.load(_spki(chip_key)), param),
        ]
    )
    security_object = "0.4.0.127.0.7.3.2.1"  # id-SecurityObject
    return {
        "EF.CardAccess": build_security_infos(paces),
        "EF.CardSecurity": sign(security_object, signed),  # CMS SignedData by the DSC
    }
