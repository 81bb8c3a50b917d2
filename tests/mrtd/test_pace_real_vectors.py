"""PACE arithmetic against public vectors in the shared vectors/mrtd-real: the ICAO 9303-11
appendix G.1 example as transcribed by ZeroPass/dmrtd (both our terminal and our emulated
chip side), and Wycheproof ECDH on the nine PACE curves it covers (point validation and the
shared secret, through OpenSSL and through `ecdsa`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asn1crypto import keys

from edge.mrtd import tlv
from edge.mrtd.errors import ParseError
from edge.mrtd.pace import PASSWORD_MRZ, PaceChip, Password, Suite
from edge.mrtd.securityinfo import PaceInfo
from tests.shared import MRTD_REAL

H = bytes.fromhex
G1_INFO = PaceInfo("0.4.0.127.0.7.2.2.4.2.2", "AES", 16, "GM", 13)  # from mse_set_at


def _g1() -> dict[str, str]:
    data: dict[str, str] = json.loads(
        (MRTD_REAL / "vectors" / "pace_icao_g1_dmrtd.json").read_text()
    )
    return data


@pytest.mark.shared("vectors/mrtd-real")
def test_g1_terminal_side() -> None:
    g = _g1()
    suite = Suite(G1_INFO)
    password = Password(H(g["mrz_key_seed_sha1"]), PASSWORD_MRZ)
    assert suite.nonce_key(password) == H(g["k_pi"])
    nonce = suite.crypt_nonce(H(g["k_pi"]), H(g["encrypted_nonce"]), decrypt=True)
    assert nonce == H(g["nonce"])
    sk_map = int(g["terminal_map_sk"], 16)
    shared = suite.decode(H(g["chip_map_pk"])) * sk_map
    assert suite.encode(shared) == H(g["mapping_shared_point_H"])
    generator = suite.mapped_generator(nonce, shared)
    assert suite.encode(generator) == H(g["mapped_generator"])
    pk_eph = suite.encode(generator * int(g["terminal_eph_sk"], 16))
    assert pk_eph == H(g["terminal_eph_pk"])
    x = suite.shared_x(int(g["terminal_eph_sk"], 16), H(g["chip_eph_pk"]))
    assert x.to_bytes(32, "big") == H(g["shared_secret"])
    sm = suite.session(x)
    assert (sm.keys.enc, sm.keys.mac) == (H(g["ks_enc"]), H(g["ks_mac"]))
    assert suite.token(sm.keys, H(g["chip_eph_pk"])) == H(g["t_ifd"])
    assert suite.token(sm.keys, pk_eph) == H(g["t_ic"])
    assert (
        H(g["ga_step4_terminal"])[5:]
        == tlv.encode(0x7C, tlv.encode(0x85, H(g["t_ifd"])))[:] + b"\x00"
    )


@pytest.mark.shared("vectors/mrtd-real")
def test_g1_chip_side_of_the_emulator() -> None:
    """Our emulated chip, fed the example's nonce and keys, answers what the example's chip
    answers: the emulator is checked against the standard, not only against our reader."""
    g = _g1()
    randoms = [H(g["nonce"]), H(g["chip_map_sk"]), H(g["chip_eph_sk"])]
    chip = PaceChip(
        G1_INFO, Password(H(g["mrz_key_seed_sha1"]), PASSWORD_MRZ), lambda n: randoms.pop(0)
    )
    suite = chip.suite

    def ga(tag: int, value: bytes) -> dict[int, bytes]:
        data, sw = chip.general_authenticate(
            tlv.encode(0x7C, tlv.encode(tag, value) if tag else b"")
        )
        assert sw == 0x9000
        return tlv.children(tlv.expect(data, 0x7C, "GA"))

    assert ga(0, b"")[0x80] == H(g["encrypted_nonce"])
    terminal_map_pk = suite.encode(suite.base_mult(int(g["terminal_map_sk"], 16)))
    assert ga(0x81, terminal_map_pk)[0x82] == H(g["chip_map_pk"])
    assert ga(0x83, H(g["terminal_eph_pk"]))[0x84] == H(g["chip_eph_pk"])
    assert ga(0x85, H(g["t_ifd"]))[0x86] == H(g["t_ic"])
    assert H(g["ga_step4_chip"]) == tlv.encode(0x7C, tlv.encode(0x86, H(g["t_ic"]))) + b"\x90\x00"


_CURVES = {
    "secp224r1": 10,
    "secp256r1": 12,
    "secp384r1": 15,
    "secp521r1": 18,
    "brainpoolP224r1": 11,
    "brainpoolP256r1": 13,
    "brainpoolP320r1": 14,
    "brainpoolP384r1": 16,
    "brainpoolP512r1": 17,
}


MAX_SHARED = 40


def _wycheproof(curve: str) -> list[dict[str, Any]]:
    root = MRTD_REAL / "wycheproof"
    name = (
        f"ecdh_{curve}_ecpoint_test.json" if curve.startswith("secp") else f"ecdh_{curve}_test.json"
    )
    data = json.loads((root / name).read_text())
    return [dict(t, encoding=grp["encoding"]) for grp in data["testGroups"] for t in grp["tests"]]


def _point(test: dict[str, Any], curve: str) -> bytes | None:
    """The public point as PACE carries it (uncompressed), or None for cases about the ASN.1
    wrapping or compression, which PACE's raw points do not have."""
    raw = H(test["public"])
    if test["encoding"] == "asn":
        try:
            spki = keys.PublicKeyInfo.load(raw, strict=True)
            if spki["algorithm"]["parameters"].chosen.native != curve.lower():
                return None
            raw = bytes(spki["public_key"].contents[1:])
        except (ValueError, TypeError, KeyError, AttributeError):
            return None  # a case about the SubjectPublicKeyInfo wrapping
    return raw if raw[:1] == b"\x04" else None


@pytest.mark.shared("vectors/mrtd-real")
@pytest.mark.parametrize("curve", list(_CURVES))
def test_wycheproof_ecdh(curve: str) -> None:
    suite = Suite(PaceInfo("0.4.0.127.0.7.2.2.4.2.2", "AES", 16, "GM", _CURVES[curve]))
    counted = {"valid": 0, "invalid": 0}
    for test in _wycheproof(curve):
        point = _point(test, curve)
        private = int(test["private"], 16)
        if point is None or not 1 <= private < suite.order or test["result"] == "acceptable":
            continue  # "acceptable": Wycheproof allows either outcome
        if test["result"] == "invalid":
            with pytest.raises(ParseError):
                suite.decode(point)
            counted["invalid"] += 1
            continue
        suite.decode(point)
        if counted["valid"] >= MAX_SHARED:
            continue  # point validation for all; the ECDH for the first few (big brainpools
            # take 20 ms each in OpenSSL on this machine)
        shared = suite.shared_x(private, point).to_bytes(suite.size, "big")
        assert shared == H(test["shared"]), test["tcId"]
        counted["valid"] += 1
    assert counted["valid"] >= 10 and counted["invalid"] > 5, counted
