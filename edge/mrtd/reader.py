"""Read and authenticate a passport chip: the one entry point the rest of the device uses.

    with read_passport(transport, mrz=key, trust=store) as reading:
        rgb = reading.face.to_rgb()
        summary = reading.authentication
    # leaving the block wiped the image, the MRZ and the document number

Steps (ICAO 9303-11): PACE when EF.CardAccess offers it, else BAC (section 4); read EF.COM,
EF.SOD, DG1, DG2, DG14/DG15 when present (DG11/DG12 on request); passive authentication
(section 5.1); chip authentication (6.2) and active authentication (6.1) where offered.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from edge.mrtd import lds, tlv
from edge.mrtd.activeauth import active_authentication
from edge.mrtd.apdu import SW_END_OF_FILE, CommandApdu
from edge.mrtd.bac import RandomBytes, perform_bac
from edge.mrtd.chipauth import chip_authentication
from edge.mrtd.dg2 import FaceImage, parse_dg2
from edge.mrtd.errors import (
    AccessControlError,
    FileNotFoundOnChipError,
    ParseError,
    VerificationError,
)
from edge.mrtd.files import ReadLimits, read_file, read_limits
from edge.mrtd.mrz import Mrz, MrzKey
from edge.mrtd.pace import perform_pace
from edge.mrtd.passive import TrustStore, passive_authentication
from edge.mrtd.results import CheckResult, CheckStatus, DocumentAuthentication
from edge.mrtd.securityinfo import PaceInfo, parse_card_access
from edge.mrtd.sod import Sod
from edge.mrtd.transport import Channel, Transport

Progress = Callable[[int, int], None]


@dataclass
class PassportReading:
    """The chip's contents for one verification; a context manager that wipes them on exit."""

    mrz: Mrz
    face: FaceImage
    document_number: bytearray
    authentication: DocumentAuthentication
    data_groups: dict[int, bytearray] = field(default_factory=dict)

    def wipe(self) -> None:
        """Overwrite every buffer holding personal data or the image."""
        self.mrz.wipe()
        self.face.wipe()
        self.document_number[:] = bytes(len(self.document_number))
        for buf in self.data_groups.values():
            buf[:] = bytes(len(buf))

    def __enter__(self) -> PassportReading:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wipe()


def read_passport(
    transport: Transport,
    *,
    mrz: MrzKey | None = None,
    can: str | None = None,
    trust: TrustStore,
    progress: Progress | None = None,
    read_dg11_12: bool = False,
    now: dt.datetime | None = None,
    random: RandomBytes = os.urandom,
) -> PassportReading:
    """Open the chip, read it, and authenticate the document; see the module docstring.

    Raises TransportError, AccessControlError, SecureMessagingError, CardStatusError or
    ParseError when the chip cannot be read; failed authentication checks do not raise,
    they are reported in `PassportReading.authentication`.
    """
    if mrz is None and can is None:
        raise AccessControlError(
            "give the MRZ key or the CAN to open the chip", code="access.no-key"
        )
    now = now or dt.datetime.now(dt.UTC)
    channel = Channel(transport)
    limits = read_limits(channel)
    paces = _card_access(channel)
    if paces:
        perform_pace(channel, paces[0], mrz=mrz, can=can, random=random)
        channel.send(CommandApdu(0x00, 0xA4, 0x04, 0x0C, lds.LDS1_AID)).check(
            "SELECT eMRTD application"
        )
        method: Literal["BAC", "PACE"] = "PACE"
    else:
        if mrz is None:
            raise AccessControlError(
                "this chip offers only BAC, which needs the MRZ key", code="mrz.required"
            )
        channel.send(CommandApdu(0x00, 0xA4, 0x04, 0x0C, lds.LDS1_AID)).check(
            "SELECT eMRTD application"
        )
        perform_bac(channel, mrz, random)
        method = "BAC"

    raw = _read_files(channel, limits, progress, read_dg11_12)
    dgs = {n: raw.pop(f"DG{n}") for n in list(lds.DATA_GROUPS) if f"DG{n}" in raw}
    try:
        return _authenticate(channel, method, raw, dgs, trust, now, random)
    except BaseException:
        for buf in (*raw.values(), *dgs.values()):  # nothing personal outlives a failed read
            buf[:] = bytes(len(buf))
        raise


def _authenticate(
    channel: Channel,
    method: Literal["BAC", "PACE"],
    raw: dict[str, bytearray],
    dgs: dict[int, bytearray],
    trust: TrustStore,
    now: dt.datetime,
    random: RandomBytes,
) -> PassportReading:
    if 1 not in dgs or 2 not in dgs:
        raise ParseError("the chip lacks DG1 or DG2, both mandatory", code="lds.dg-missing")
    reading_mrz = lds.parse_dg1(bytes(dgs[1]))
    face = parse_dg2(bytes(dgs[2]))
    try:
        sod = Sod.parse(bytes(raw["EF.SOD"]))
        passive_authentication(sod, {n: bytes(b) for n, b in dgs.items()}, trust, now)
        passive = CheckResult.passed()
    except (ParseError, VerificationError) as exc:
        passive = CheckResult.failed(exc)

    chip_result = CheckResult.not_supported("the chip has no DG14 (chip authentication)")
    if 14 in dgs:
        chip_result = chip_authentication(channel, bytes(dgs[14]), random)
    active_result = CheckResult.not_supported("the chip has no DG15 (active authentication)")
    if 15 in dgs:
        active_result = active_authentication(channel, bytes(dgs[15]), random)

    if reading_mrz.expiry_date() >= now.date():
        not_expired = CheckResult.passed()
    else:
        not_expired = CheckResult(
            CheckStatus.FAILED,
            "document_expired",
            f"the document expired on {reading_mrz.expiry_date()}",
        )
    auth = DocumentAuthentication(method, passive, chip_result, active_result, not_expired)
    number = bytearray(reading_mrz.document_number.encode("ascii"))
    return PassportReading(reading_mrz, face, number, auth, dgs)


def _card_access(channel: Channel) -> list[PaceInfo]:
    """PACE parameters from EF.CardAccess (9303-11 section 4.2); [] when the chip has none."""
    resp = channel.send(CommandApdu(0x00, 0xB0, 0x80 | lds.EF_CARD_ACCESS.sfi, 0x00, le=256))
    if resp.sw not in (0x9000, SW_END_OF_FILE) or not resp.data:
        return []
    try:
        obj = tlv.read(resp.data)
        return parse_card_access(resp.data[: obj.end])
    except ParseError:
        return []  # 9303-11 4.2: an unreadable EF.CardAccess means "use BAC"


def _read_files(
    channel: Channel, limits: ReadLimits, progress: Progress | None, read_dg11_12: bool
) -> dict[str, bytearray]:
    """EF.COM first (it lists the data groups), then the files we need, in one pass.

    `progress(done, total)` counts bytes; the total covers the files opened so far, since
    the chip reveals a file's size only when its first chunk arrives.
    """
    finished = 0

    def report(file_done: int, file_total: int) -> None:
        if progress:
            progress(finished + file_done, finished + file_total)

    com = lds.EfCom.parse(_read(channel, lds.EF_COM, limits, None))
    wanted = [lds.EF_SOD, lds.DG1, lds.DG2]
    optional = [14, 15] + ([11, 12] if read_dg11_12 else [])
    wanted += [lds.DATA_GROUPS[n] for n in optional if n in com.data_groups]
    out: dict[str, bytearray] = {}
    for ef in wanted:
        out[ef.name] = bytearray(_read(channel, ef, limits, report))
        finished += len(out[ef.name])
    return out


def _read(
    channel: Channel, ef: lds.FileId, limits: ReadLimits, report: Callable[[int, int], None] | None
) -> bytes:
    try:
        return read_file(channel, ef, limits, report)
    except FileNotFoundOnChipError as exc:
        raise FileNotFoundOnChipError(f"{ef.name} is listed but missing on the chip") from exc
