"""ICAO 9303-11 Appendix D worked example: BAC keys, mutual authentication, secure messaging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.mrtd.apdu import CommandApdu, ResponseApdu
from edge.mrtd.bac import (
    BacKeys,
    authenticate_message,
    open_authenticated,
    perform_bac,
    session_from,
)
from edge.mrtd.errors import AccessControlError, SecureMessagingError
from edge.mrtd.mrz import MrzKey
from edge.mrtd.transport import Channel

V = json.loads((Path(__file__).parent / "vectors" / "icao9303.json").read_text())["D"]
H = bytes.fromhex
KEY = MrzKey(V["document_number"], V["date_of_birth"], V["date_of_expiry"])


def test_d2_mrz_information_and_keys() -> None:
    assert KEY.information() == V["mrz_information"].encode()
    keys = BacKeys.from_mrz(KEY)
    assert keys.enc == H(V["kenc"])
    assert keys.mac == H(V["kmac"])


def test_d3_cryptograms_and_session_keys() -> None:
    keys = BacKeys.from_mrz(KEY)
    s = H(V["rnd_ifd"]) + H(V["rnd_ic"]) + H(V["k_ifd"])
    assert authenticate_message(keys, s) == H(V["e_ifd"]) + H(V["m_ifd"])
    r = H(V["rnd_ic"]) + H(V["rnd_ifd"]) + H(V["k_ic"])
    reply = authenticate_message(keys, r)
    assert reply == H(V["e_ic"]) + H(V["m_ic"])
    assert open_authenticated(keys, reply) == r
    tampered = bytearray(reply)
    tampered[0] ^= 1
    assert open_authenticated(keys, bytes(tampered)) is None
    sm = session_from(H(V["k_ifd"]), H(V["k_ic"]), H(V["rnd_ic"]), H(V["rnd_ifd"]))
    assert sm.keys.enc == H(V["ks_enc"])
    assert sm.keys.mac == H(V["ks_mac"])
    assert sm.ssc == int(V["ssc"], 16)


def test_d4_secure_messaging_wrap_and_unwrap() -> None:
    sm = session_from(H(V["k_ifd"]), H(V["k_ic"]), H(V["rnd_ic"]), H(V["rnd_ifd"]))
    for step in V["sm_steps"]:
        wrapped = sm.wrap_command(CommandApdu.parse(H(step["plain"])))
        assert wrapped.encode() == H(step["protected"])
        resp = sm.unwrap_response(ResponseApdu.parse(H(step["response"])))
        assert resp == ResponseApdu(H(step["data"]), int(step["sw"], 16))


def test_d4_altered_response_fails_the_mac_check() -> None:
    sm = session_from(H(V["k_ifd"]), H(V["k_ic"]), H(V["rnd_ic"]), H(V["rnd_ifd"]))
    step = V["sm_steps"][1]
    sm.wrap_command(CommandApdu.parse(H(step["plain"])))
    raw = bytearray(H(step["response"]))
    raw[5] ^= 0x01  # inside the encrypted DO'87'
    with pytest.raises(SecureMessagingError) as err:
        sm.unwrap_response(ResponseApdu.parse(bytes(raw)))
    assert err.value.code == "sm.mac-invalid"


class _ScriptedChip:
    """Answers the Appendix D exchange, checking each command byte for byte."""

    def __init__(self, script: list[tuple[bytes, bytes]]) -> None:
        self.script = script

    def transmit(self, apdu: bytes) -> bytes:
        expected, answer = self.script.pop(0)
        assert apdu == expected
        return answer


def test_d3_full_exchange_through_a_channel() -> None:
    chip = _ScriptedChip(
        [
            (H("0084000008"), H(V["rnd_ic"]) + b"\x90\x00"),
            (
                H("0082000028") + H(V["e_ifd"]) + H(V["m_ifd"]) + b"\x28",
                H(V["e_ic"]) + H(V["m_ic"]) + b"\x90\x00",
            ),
        ]
    )
    randoms = [H(V["rnd_ifd"]), H(V["k_ifd"])]
    channel = Channel(chip)
    perform_bac(channel, KEY, lambda n: randoms.pop(0))
    assert channel.sm is not None and channel.sm.ssc == int(V["ssc"], 16)


def test_wrong_mrz_is_reported_as_such() -> None:
    # The chip answers 6300 to EXTERNAL AUTHENTICATE when the MRZ key is wrong.
    chip = _ScriptedChip([(H("0084000008"), H(V["rnd_ic"]) + b"\x90\x00")])

    class Refusing:
        def transmit(self, apdu: bytes) -> bytes:
            return chip.transmit(apdu) if chip.script else b"\x63\x00"

    with pytest.raises(AccessControlError) as err:
        perform_bac(Channel(Refusing()), KEY, lambda n: bytes(n))
    assert err.value.code == "bac.wrong-key"
    assert isinstance(err.value, PermissionError)
