"""DG2, the encoded face (ICAO 9303-10 section 4.7.2).

Two containers exist: the ISO/IEC 19794-5:2005 binary record (biometric data block 5F2E) and
the ISO/IEC 39794-5:2019 DER-encoded face image data block (7F2E) that newer passports carry.

The image bytes are copied once into a bytearray owned by `FaceImage`, which the caller wipes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from edge.mrtd import tlv
from edge.mrtd.errors import ParseError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

ImageFormat = Literal["jpeg", "jpeg2000"]
MAX_PIXELS = 4096 * 4096  # far above any ICAO portrait; stops decompression bombs
_JPEG_MAGIC = b"\xff\xd8\xff"
_JP2_MAGICS = (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")
_PIL_FORMATS = {"jpeg": ("JPEG",), "jpeg2000": ("JPEG2000",)}
_FAC = b"FAC\x00"
_VERSION_010 = b"010\x00"


@dataclass
class FaceImage:
    data: bytearray
    format: ImageFormat
    width: int
    height: int

    def to_rgb(self) -> npt.NDArray[np.uint8]:
        """Decode with Pillow (JPEG or JPEG 2000) into an RGB uint8 array (height, width, 3).

        The image is chip data: its header is read first and the pixel count bounded before
        any decoding (a header may claim 65535 x 65535), and whatever Pillow's decoders
        raise on bad bytes (OSError, SyntaxError, DecompressionBombError, EOFError, struct
        errors...) becomes `dg2.image-corrupt` or `dg2.image-too-large`.
        """
        import warnings

        import numpy as np
        from PIL import Image

        if self.width * self.height > MAX_PIXELS:
            raise ParseError("face image is implausibly large", code="dg2.image-too-large")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(self.data), formats=_PIL_FORMATS[self.format]) as img:
                    if img.width * img.height > MAX_PIXELS:
                        raise ParseError(
                            "face image is implausibly large", code="dg2.image-too-large"
                        )
                    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
        except ParseError:
            raise
        except Image.DecompressionBombError as exc:
            raise ParseError(
                f"face image is implausibly large: {exc}", code="dg2.image-too-large"
            ) from exc
        except MemoryError as exc:
            raise ParseError("face image too large to decode", code="dg2.image-too-large") from exc
        except Exception as exc:  # Pillow's C decoders raise many types
            raise ParseError(
                f"face image does not decode: {type(exc).__name__}: {exc}",
                code="dg2.image-corrupt",
            ) from exc

    def wipe(self) -> None:
        self.data[:] = bytes(len(self.data))


def parse_dg2(raw: bytes) -> FaceImage:
    """The first face image of DG2: 75 / 7F61 (group template) / 7F60 / 5F2E (19794-5 record)."""
    group = tlv.children(tlv.expect(raw, 0x75, "DG2"))
    if 0x7F61 not in group:
        raise ParseError(
            "DG2 lacks the biometric information group template 7F61", code="dg2.invalid"
        )
    templates = [o for o in tlv.iterate(group[0x7F61]) if o.tag == 0x7F60]
    if not templates:
        raise ParseError("DG2 holds no biometric information template 7F60", code="dg2.invalid")
    bit = tlv.children(templates[0].value)
    if 0x5F2E in bit:
        return parse_19794_5(bit[0x5F2E])
    if 0x7F2E in bit:
        return parse_39794_5(bit[0x7F2E])
    raise ParseError("DG2 has no biometric data block (5F2E or 7F2E)", code="dg2.invalid")


def parse_19794_5(block: bytes) -> FaceImage:
    """ISO/IEC 19794-5:2005 sections 5.4 to 5.7: header, facial information, image information."""
    if len(block) < 14 + 20 + 12:
        raise ParseError("19794-5 record too short", code="dg2.invalid")
    if block[:4] != _FAC or block[4:8] != _VERSION_010:
        raise ParseError("not an ISO/IEC 19794-5 'FAC 010' record", code="dg2.invalid")
    record_len = int.from_bytes(block[8:12], "big")
    if record_len != len(block):
        raise ParseError(
            f"19794-5 record length {record_len} differs from block size {len(block)}",
            code="dg2.invalid",
        )
    if int.from_bytes(block[12:14], "big") < 1:
        raise ParseError("19794-5 record holds no image", code="dg2.invalid")
    pos = 14
    info_len = int.from_bytes(block[pos : pos + 4], "big")
    points = int.from_bytes(block[pos + 4 : pos + 6], "big")
    if pos + info_len > len(block):
        raise ParseError("19794-5 facial record runs past the block", code="dg2.invalid")
    image_info = pos + 20 + 8 * points
    image_start = image_info + 12
    if image_start > pos + info_len:
        raise ParseError(
            "19794-5 facial record too short for its feature points", code="dg2.invalid"
        )
    data_type = block[image_info + 1]
    width = int.from_bytes(block[image_info + 2 : image_info + 4], "big")
    height = int.from_bytes(block[image_info + 4 : image_info + 6], "big")
    image = block[image_start : pos + info_len]
    # 19794-5 section 5.7.2: image data type 0 JPEG, 1 JPEG 2000 (_19794_FORMATS).
    return _face(
        image, _19794_FORMATS.get(data_type), width, height, f"19794-5 image data type {data_type}"
    )


_19794_FORMATS: dict[int, ImageFormat] = {0x00: "jpeg", 0x01: "jpeg2000"}
# ISO/IEC 39794-5 ImageDataFormatCode: 2 JPEG, 3 JPEG 2000 lossy, 4 JPEG 2000 lossless.
_39794_FORMATS: dict[int, ImageFormat] = {2: "jpeg", 3: "jpeg2000", 4: "jpeg2000"}


def _integer(value: bytes, what: str) -> int:
    if not value or len(value) > 8:
        raise ParseError(f"39794-5 {what} is not a small INTEGER", code="dg2.invalid")
    return int.from_bytes(value, "big", signed=True)


def parse_39794_5(block: bytes) -> FaceImage:
    """The first 2D image of an ISO/IEC 39794-5 face image data block (DER, automatic tags).

    [1] { FaceImageDataBlock ::= [APPLICATION 5] SEQUENCE { versionBlock [0],
    representationBlocks [1] SEQUENCE OF RepresentationBlock } }; a RepresentationBlock holds
    imageRepresentation [1] -> base [0] -> imageRepresentation2DBlock [0] { representationData2D
    [0] OCTET STRING, imageInformation2DBlock [1] { imageDataFormat [0], imageSizeBlock [7] } }.
    """
    data_block = tlv.children(
        tlv.expect(tlv.expect(block, 0xA1, "39794-5"), 0x65, "FaceImageDataBlock")
    )
    if 0xA0 not in data_block or 0xA1 not in data_block:
        raise ParseError("39794-5 block lacks its version or representations", code="dg2.invalid")
    version = tlv.children(data_block[0xA0])
    if 0x80 not in version:
        raise ParseError("39794-5 version block lacks the generation", code="dg2.invalid")
    representations = list(tlv.iterate(data_block[0xA1]))
    if not representations or representations[0].tag != 0x30:
        raise ParseError("39794-5 block holds no representation", code="dg2.invalid")
    representation = tlv.children(representations[0].value)
    if 0xA1 not in representation:
        raise ParseError("39794-5 representation lacks its image", code="dg2.invalid")
    base = tlv.expect(representation[0xA1], 0xA0, "39794-5 image representation (base)")
    block_2d = tlv.children(tlv.expect(base, 0xA0, "39794-5 2D image representation"))
    if 0x80 not in block_2d or 0xA1 not in block_2d:
        raise ParseError("39794-5 2D block lacks image data or information", code="dg2.invalid")
    info = tlv.children(block_2d[0xA1])
    if 0x80 in info:
        code = _integer(info[0x80], "image data format")
    elif 0xA0 in info:  # ImageDataFormat as a CHOICE: code [0]
        code = _integer(tlv.expect(info[0xA0], 0x80, "39794-5 image data format"), "format")
    else:
        raise ParseError("39794-5 image information lacks the data format", code="dg2.invalid")
    width = height = 0
    if 0xA7 in info:
        size = tlv.children(info[0xA7])
        width = _integer(size.get(0x80, b""), "width")
        height = _integer(size.get(0x81, b""), "height")
    return _face(
        block_2d[0x80], _39794_FORMATS.get(code), width, height, f"39794-5 image data format {code}"
    )


def _face(image: bytes, fmt: ImageFormat | None, width: int, height: int, what: str) -> FaceImage:
    """The declared format must be one we decode, and the bytes must really be of it."""
    if fmt is None:
        raise ParseError(f"{what} is not supported (JPEG or JPEG 2000 only)", code="dg2.invalid")
    ok = image.startswith(_JPEG_MAGIC) if fmt == "jpeg" else image.startswith(_JP2_MAGICS)
    if not ok:
        raise ParseError(f"image bytes are not {fmt} as the record declares", code="dg2.invalid")
    if not 0 <= width <= 0xFFFF or not 0 <= height <= 0xFFFF:
        raise ParseError("image size out of range", code="dg2.invalid")
    return FaceImage(bytearray(image), fmt, width, height)


Container = Literal["19794-5", "39794-5"]


def build_dg2(
    image: bytes, fmt: ImageFormat, width: int, height: int, container: Container = "19794-5"
) -> bytes:
    """A one-face DG2 in either container (test-document generator)."""
    if container == "39794-5":
        return _build_39794(image, fmt, width, height)
    image_info = (
        bytes([0x01, 0x00 if fmt == "jpeg" else 0x01])
        + width.to_bytes(2, "big")
        + height.to_bytes(2, "big")
        + bytes([0x01, 0x02])
        + b"\x00\x00"
        + b"\x00\x00"
    )
    facial = bytes(14)  # gender .. pose-angle uncertainty: unspecified
    info_len = 20 + len(image_info) + len(image)
    info = info_len.to_bytes(4, "big") + b"\x00\x00" + facial + image_info + image
    record = _FAC + _VERSION_010 + (14 + len(info)).to_bytes(4, "big") + b"\x00\x01" + info
    return _wrap_dg2(0x5F2E, record, format_type=b"\x00\x08")


def _build_39794(image: bytes, fmt: ImageFormat, width: int, height: int) -> bytes:
    def integer(tag: int, n: int) -> bytes:
        return tlv.encode(tag, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big"))

    size = tlv.encode(0xA7, integer(0x80, width) + integer(0x81, height))
    info = tlv.encode(0xA1, tlv.encode(0xA0, integer(0x80, 2 if fmt == "jpeg" else 3)) + size)
    block_2d = tlv.encode(0xA0, tlv.encode(0x80, image) + info)
    representation = tlv.encode(
        0x30, integer(0x80, 1) + tlv.encode(0xA1, tlv.encode(0xA0, block_2d))
    )
    version = tlv.encode(0xA0, integer(0x80, 3) + integer(0x81, 2019))
    data_block = tlv.encode(0x65, version + tlv.encode(0xA1, representation))
    return _wrap_dg2(0x7F2E, tlv.encode(0xA1, data_block), format_type=b"\x00\x09")


def _wrap_dg2(bdb_tag: int, bdb: bytes, *, format_type: bytes) -> bytes:
    """75 / 7F61 / 7F60 with the biometric header template A1 (ISO/IEC 7816-11, 9303-10 4.7.2)."""
    header = tlv.encode(
        0xA1,
        tlv.encode(0x80, b"\x01\x01")
        + tlv.encode(0x81, b"\x02")
        + tlv.encode(0x87, b"\x01\x01")
        + tlv.encode(0x88, format_type),
    )
    bit = tlv.encode(0x7F60, header + tlv.encode(bdb_tag, bdb))
    return tlv.encode(0x75, tlv.encode(0x7F61, tlv.encode(0x02, b"\x01") + bit))
