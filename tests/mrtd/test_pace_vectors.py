"""ICAO 9303-11 Appendix G.1 worked example: PACE ECDH generic mapping, brainpoolP256r1, AES."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.mrtd.errors import AccessControlError
from edge.mrtd.mrz import MrzKey
from edge.mrtd.pace import Password, Suite, perform_pace
from edge.mrtd.securityinfo import PaceInfo, parse_card_access
from edge.mrtd.transport import Channel

G = json.loads((Path(__file__).parent / "vectors" / "icao9303.json").read_text())["G1"]
H = bytes.fromhex
KEY = MrzKey(G["document_number"], G["date_of_birth"], G["date_of_expiry"])
INFO = parse_card_access(H(G["card_access"]))[0]


def test_card_access_of_the_example() -> None:
    assert INFO.cipher == "AES" and INFO.key_len == 16 and INFO.parameter_id == 13


def test_g1_step_by_step() -> None:
    suite = Suite(INFO)
    k_pi = suite.nonce_key(Password.choose(KEY, None))
    assert k_pi == H(G["k_pi"])
    nonce = suite.crypt_nonce(k_pi, H(G["encrypted_nonce"]), decrypt=True)
    assert nonce == H(G["nonce"])
    gen = suite.curve.generator
    sk_map = int(G["sk_map_ifd"], 16)
    assert suite.encode(gen * sk_map) == H(G["pk_map_ifd"])
    mapped = suite.mapped_generator(nonce, suite.decode(H(G["pk_map_ic"])) * sk_map)
    assert suite.encode(mapped) == H(G["mapped_generator"])
    sk_eph = int(G["sk_dh_ifd"], 16)
    assert suite.encode(mapped * sk_eph) == H(G["pk_dh_ifd"])
    shared = (suite.decode(H(G["pk_dh_ic"])) * sk_eph).x()
    assert shared.to_bytes(32, "big") == H(G["shared_secret"])
    sm = suite.session(shared)
    assert sm.keys.enc == H(G["ks_enc"]) and sm.keys.mac == H(G["ks_mac"])
    assert suite.token(sm.keys, H(G["pk_dh_ic"])) == H(G["t_ifd"])
    assert suite.token(sm.keys, H(G["pk_dh_ifd"])) == H(G["t_ic"])


class _Scripted:
    def __init__(self, script: list[list[str]]) -> None:
        self.script = [(H(a), H(b)) for a, b in script]

    def transmit(self, apdu: bytes) -> bytes:
        expected, answer = self.script.pop(0)
        assert apdu.hex().upper() == expected.hex().upper()
        return answer


def test_g1_apdus_byte_for_byte() -> None:
    randoms = [H(G["sk_map_ifd"]), H(G["sk_dh_ifd"])]
    channel = Channel(_Scripted(G["apdus"]))
    perform_pace(channel, INFO, mrz=KEY, can=None, random=lambda n: randoms.pop(0))
    assert channel.sm is not None
    assert channel.sm.keys.enc == H(G["ks_enc"]) and channel.sm.ssc == 0


def test_g1_wrong_chip_token_is_refused() -> None:
    script = [list(x) for x in G["apdus"]]
    script[-1][1] = "7C0A8608" + "00" * 8 + "9000"
    randoms = [H(G["sk_map_ifd"]), H(G["sk_dh_ifd"])]
    with pytest.raises(AccessControlError) as err:
        perform_pace(
            Channel(_Scripted(script)), INFO, mrz=KEY, can=None, random=lambda n: randoms.pop(0)
        )
    assert err.value.code == "pace.chip-token"


@pytest.mark.parametrize("parameter_id", [12, 13, 15, 16])
@settings(max_examples=10, deadline=None)
@given(k=st.integers(1, 2**200), m=st.integers(2, 2**64))
def test_openssl_shortcuts_match_plain_arithmetic(parameter_id: int, k: int, m: int) -> None:
    suite = Suite(PaceInfo("0.4.0.127.0.7.2.2.4.2.2", "AES", 16, "GM", parameter_id))
    point = suite.curve.generator * m
    assert suite.encode(suite.base_mult(m)) == suite.encode(point)
    assert suite.shared_x(k, suite.encode(point)) == (point * k).x()
