"""Decoders: MRZ (TD1/TD2/TD3), TLV, APDUs, DG2, EF.SOD, trust store. Strict and bounded."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.mrtd import tlv
from edge.mrtd.apdu import CommandApdu
from edge.mrtd.dg2 import build_dg2, parse_dg2
from edge.mrtd.errors import ParseError, TrustStoreError, VerificationError
from edge.mrtd.lds import EfCom, parse_dg1
from edge.mrtd.mrz import Mrz, MrzKey, check_digit
from edge.mrtd.passive import TrustStore, passive_authentication
from edge.mrtd.sod import Sod
from tests.mrtd.conftest import NOW, document, trust_of

# ICAO 9303 specimen MRZs (9303-4 4.2.2, 9303-5 4.2.2, 9303-6 4.2.2).
TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10"
TD1 = "I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<"
TD2 = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<D231458907UTO7408122F1204159<<<<<<<6"


@pytest.mark.parametrize(
    ("text", "fmt", "number"),
    [(TD3, "TD3", "L898902C3"), (TD1, "TD1", "D23145890"), (TD2, "TD2", "D23145890")],
)
def test_specimen_mrz(text: str, fmt: str, number: str) -> None:
    mrz = Mrz(bytearray(text.encode()))
    assert mrz.format == fmt
    assert mrz.document_number == number
    assert mrz.primary_identifier == "ERIKSSON"
    assert mrz.secondary_identifier == "ANNA MARIA"
    assert mrz.date_of_birth == "740812" and mrz.sex == "F" and mrz.nationality == "UTO"
    assert mrz.expiry_date() == dt.date(2012, 4, 15)


def test_td1_long_document_number() -> None:
    # 9303-5 note j: 'D23145890734' spills into the optional data, its check digit last.
    line1 = "I<UTOD23145890<7349<<<<<<<<<<<"
    line2 = "3407127M9507122UTO<<<<<<<<<<<"
    composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    mrz = Mrz(
        bytearray(
            (line1 + line2 + check_digit(composite) + "STEVENSON<<PETER<<<<<<<<<<<<<<").encode()
        )
    )
    assert mrz.document_number == "D23145890734"


@pytest.mark.parametrize("position", [9, 19, 27, 43])
def test_every_check_digit_is_enforced(position: int) -> None:
    raw = bytearray(TD3.encode())
    raw[44 + position] = ord("0") if raw[44 + position] != ord("0") else ord("1")
    with pytest.raises(ParseError) as err:
        Mrz(raw)
    assert err.value.code == "mrz.check-digit"


def test_mrz_key_parsing() -> None:
    key = MrzKey.parse(" l898902c<, 690806 ,940623")
    assert key.information() == b"L898902C<369080619406236"
    for bad in ("L898902C<,690806", "L898902C<,691306,940623", "L8989-2C,690806,940623"):
        with pytest.raises(ParseError):
            MrzKey.parse(bad)


LDS_TAGS = [
    0x02,
    0x04,
    0x30,
    0x31,
    0x5C,
    0x60,
    0x61,
    0x75,
    0x77,
    0x7C,
    0x87,
    0x8E,
    0x99,
    0x5F01,
    0x5F1F,
    0x5F2E,
    0x7F2E,
    0x7F49,
    0x7F60,
    0x7F61,
]


@given(st.sampled_from(LDS_TAGS), st.binary(max_size=600))
def test_tlv_round_trip(tag: int, value: bytes) -> None:
    obj = tlv.read(tlv.encode(tag, value))
    assert (obj.tag, obj.value) == (tag, value)


@given(st.binary(max_size=64))
def test_tlv_never_reads_past_its_buffer(data: bytes) -> None:
    try:
        for obj in tlv.iterate(data):
            assert obj.end <= len(data)
    except ParseError:
        pass


@given(st.integers(0, 255), st.binary(max_size=400), st.one_of(st.none(), st.integers(1, 65536)))
def test_apdu_round_trip(ins: int, data: bytes, le: int | None) -> None:
    cmd = CommandApdu(0x00, ins, 1, 2, data, le)
    parsed = CommandApdu.parse(cmd.encode())
    assert (parsed.data, parsed.le) == (data, le)


def test_ef_com_and_dg1_of_the_test_document() -> None:
    doc = document()
    assert EfCom.parse(doc.files["EF.COM"]).data_groups == (1, 2, 14, 15)
    assert parse_dg1(doc.files["DG1"]).document_number == doc.mrz_key.document_number


def test_dg2_rejects_mislabelled_and_truncated_images() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + bytes(100)
    assert parse_dg2(build_dg2(jpeg, "jpeg", 10, 10)).format == "jpeg"
    with pytest.raises(ParseError):
        parse_dg2(build_dg2(jpeg, "jpeg2000", 10, 10))
    raw = build_dg2(jpeg, "jpeg", 10, 10)
    with pytest.raises(ParseError):
        parse_dg2(raw[:-10])
    broken = parse_dg2(build_dg2(jpeg, "jpeg", 10, 10))
    with pytest.raises(ParseError) as err:
        broken.to_rgb()
    assert err.value.code == "dg2.image-corrupt"


@given(st.integers(0, 1005), st.integers(1, 255))
def test_sod_mutations_never_pass(position: int, flip: int) -> None:
    doc = document()
    raw = bytearray(doc.files["EF.SOD"])
    raw[position % len(raw)] ^= flip
    dgs = {n: doc.files[f"DG{n}"] for n in (1, 2, 14, 15)}
    try:
        passive_authentication(Sod.parse(bytes(raw)), dgs, trust_of(doc), NOW)
    except (ParseError, VerificationError):
        return
    # A flip that survives must sit in bytes no check covers (e.g. unsigned padding): none.
    pytest.fail(f"mutated EF.SOD at {position} still passed")


def test_trust_store_from_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    doc = document()
    (tmp_path / "csca.der").write_bytes(doc.csca_der)
    store = TrustStore.from_path(tmp_path)
    assert len(store.cscas) == 1
    (tmp_path / "broken.pem").write_bytes(
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    )
    with pytest.raises(TrustStoreError):
        TrustStore.from_path(tmp_path)
    with pytest.raises(TrustStoreError) as err:
        TrustStore.from_path(tmp_path / "empty") if (tmp_path / "empty").mkdir() is None else None
    assert err.value.code == "trust.empty"


def test_trust_store_from_master_list(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rig.mrtd.testdoc import master_list

    doc = document()
    ml = master_list([doc.csca_der], now=NOW)
    (tmp_path / "icao.ml").write_bytes(ml)
    store = TrustStore.from_path(tmp_path)
    assert len(store.cscas) == 2  # the list's own CSCA plus the document's
    dgs = {n: doc.files[f"DG{n}"] for n in (1, 2, 14, 15)}
    passive_authentication(Sod.parse(doc.files["EF.SOD"]), dgs, store, NOW)
    tampered = bytearray(ml)
    tampered[-5] ^= 0x01  # inside the list signer's signature
    (tmp_path / "icao.ml").write_bytes(bytes(tampered))
    with pytest.raises(TrustStoreError) as err:
        TrustStore.from_path(tmp_path)
    assert err.value.code == "trust.master-list-invalid"


def test_dg11_is_read_only_when_asked() -> None:
    from edge.mrtd.reader import read_passport
    from rig.mrtd.card import EmulatedChip, InProcessTransport
    from rig.mrtd.testdoc import DocOptions

    doc = document(DocOptions(dg11=True))
    for wanted in (False, True):
        chip = EmulatedChip(doc)
        with read_passport(
            InProcessTransport(chip),
            mrz=doc.mrz_key,
            trust=trust_of(doc),
            now=NOW,
            read_dg11_12=wanted,
        ) as reading:
            assert (11 in reading.data_groups) is wanted
            assert reading.authentication.authenticated  # DG11 hashed against EF.SOD too


@pytest.mark.parametrize("fmt", ["jpeg", "jpeg2000"])
def test_39794_5_container_round_trip(fmt: str) -> None:
    from rig.mrtd.testdoc import face_image

    image, width, height = face_image(fmt, 8_000)
    face = parse_dg2(build_dg2(image, fmt, width, height, "39794-5"))  # type: ignore[arg-type]
    assert (face.format, face.width, face.height) == (fmt, width, height)
    assert bytes(face.data) == image
    assert face.to_rgb().shape == (height, width, 3)


def test_39794_5_rejects_a_mislabelled_image_and_broken_structure() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + bytes(50)
    raw = build_dg2(jpeg, "jpeg2000", 10, 10, "39794-5")
    with pytest.raises(ParseError) as err:
        parse_dg2(raw)
    assert err.value.code == "dg2.invalid"
    good = build_dg2(jpeg, "jpeg", 10, 10, "39794-5")
    for cut in range(10, len(good) - 1, 7):
        with pytest.raises(ParseError):
            parse_dg2(good[:cut])


@pytest.mark.parametrize("curve", ["brainpoolP256r1", "secp256r1"])
def test_csca_with_explicit_curve_parameters(curve: str) -> None:
    """9303-12 7.1.1 lets CSCAs spell out the domain parameters; cryptography refuses those."""
    import ecdsa
    from asn1crypto import keys, x509

    from rig.mrtd.testdoc import DocOptions

    doc = document(DocOptions(curve=curve))  # type: ignore[arg-type]
    csca = x509.Certificate.load(doc.csca_der)
    named = csca.public_key.dump()
    explicit = ecdsa.VerifyingKey.from_der(named).to_der(curve_parameters_encoding="explicit")
    assert explicit != named
    tbs = csca["tbs_certificate"]
    tbs["subject_public_key_info"] = keys.PublicKeyInfo.load(explicit)
    rebuilt = x509.Certificate.load(csca.dump(force=True))
    assert rebuilt.public_key["algorithm"]["parameters"].name == "specified"
    dgs = {n: doc.files[f"DG{n}"] for n in (1, 2, 14, 15)}
    passive_authentication(Sod.parse(doc.files["EF.SOD"]), dgs, TrustStore([rebuilt]), NOW)
