"""The session's chip step on hostile chip data: a coded stop, never a traceback, and the
wipe in the session's `finally` still runs."""

from __future__ import annotations

import dataclasses
import io
import time

import pytest
from asn1crypto import x509

from edge.mrtd.dg2 import FaceImage, build_dg2
from edge.mrtd.errors import ParseError
from edge.mrtd.passive import TrustStore
from edge.session import SessionError
from edge.steps import PassportChipStep
from rig.mrtd.card import EmulatedChip, InProcessTransport
from rig.mrtd.testdoc import TestDocument as Doc
from tests.mrtd.conftest import document


def _jpeg(width: int = 8, height: int = 8) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (120, 80, 40)).save(buf, "JPEG")
    return buf.getvalue()


def _bomb() -> bytes:
    """A valid small JPEG whose frame header (SOF0) claims 65535 x 65535 pixels."""
    raw = bytearray(_jpeg())
    sof = raw.index(b"\xff\xc0")
    raw[sof + 5 : sof + 9] = b"\xff\xff\xff\xff"  # height, width
    return bytes(raw)


def test_decompression_bomb_header_is_a_coded_error_before_decoding() -> None:
    face = FaceImage(bytearray(_bomb()), "jpeg", 8, 8)  # the record understates the size
    with pytest.raises(ParseError) as err:
        face.to_rgb()
    assert err.value.code == "dg2.image-too-large"


def _step(doc: Doc) -> PassportChipStep:
    return PassportChipStep(
        lambda: InProcessTransport(EmulatedChip(doc)),
        TrustStore([x509.Certificate.load(doc.csca_der)]),
        mrz=doc.mrz_key,
    )


@pytest.mark.parametrize(
    ("image", "code"), [(_bomb(), "dg2.image-too-large"), (_jpeg()[:40], "dg2.image-corrupt")]
)
def test_bad_chip_photo_stops_the_session_with_its_code_and_wipes(image: bytes, code: str) -> None:
    from tests.edge.test_session import Live, Verifier, run

    doc = document()
    files = dict(doc.files, DG2=build_dg2(image, "jpeg", 8, 8))
    step = _step(dataclasses.replace(doc, files=files))
    live, verifier = Live(), Verifier()
    with pytest.raises(SessionError) as err:
        run(chip=step, live=live, verifier=verifier, clock=time.time)
    assert (err.value.step, err.value.code) == ("chip", code)
    assert verifier.submitted == []
    assert live.kept.wiped  # the session's finally ran


def test_a_foreign_exception_from_the_chip_is_still_a_coded_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import edge.steps

    def broken(*args: object, **kw: object) -> object:
        raise AttributeError("'NoneType' object has no attribute 'native'")

    monkeypatch.setattr(edge.steps, "read_passport", broken)
    closed: list[bool] = []

    class Transport:
        def transmit(self, apdu: bytes) -> bytes:
            raise AssertionError("not reached")

        def close(self) -> None:
            closed.append(True)

    doc = document()
    step = PassportChipStep(
        lambda: Transport(),
        TrustStore([x509.Certificate.load(doc.csca_der)]),
        mrz=doc.mrz_key,
    )
    with pytest.raises(SessionError) as err:
        step.read(time.time() + 30)
    assert (err.value.step, err.value.code) == ("chip", "chip.data-unreadable")
    assert closed == [True]
