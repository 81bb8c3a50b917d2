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
from typing import Literal, TypeVar

from edge.mrtd import lds, tlv
from edge.mrtd.activeauth import active_authentication
from edge.mrtd.apdu import CommandApdu
from edge.mrtd.bac import RandomBytes, perform_bac
from edge.mrtd.cardsecurity import (
    EF_CARD_SECURITY,
    CardSecurity,
    check_cam,
    verify_card_security,
)
from edge.mrtd.chipauth import chip_authentication
from edge.mrtd.csca import TrustStore
from edge.mrtd.dg2 import FaceImage, parse_dg2
from edge.mrtd.errors import (
    AccessControlError,
    CardRemovedError,
    CardStatusError,
    FileNotFoundOnChipError,
    MrtdError,
    ParseError,
    TransportError,
    VerificationError,
)
from edge.mrtd.files import ReadLimits, read_file, read_limits, read_sfi, shrink_read_size
from edge.mrtd.mrz import Mrz, MrzKey
from edge.mrtd.pace import PaceOutcome, oid_bytes, perform_pace
from edge.mrtd.passive import passive_authentication
from edge.mrtd.results import CheckResult, CheckStatus, DocumentAuthentication
from edge.mrtd.securityinfo import PACE_PREFIX, PaceInfo, parse_card_access
from edge.mrtd.sod import Sod
from edge.mrtd.transport import Channel, Transport

Progress = Callable[[int, int], None]
T = TypeVar("T")
MAX_CARD_ACCESS = 4096  # real EF.CardAccess files are 20-300 bytes


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
    session = _Session(Channel(transport), mrz, can, random)
    session.start()
    raw = _read_files(session, progress, read_dg11_12)
    dgs = {n: raw.pop(f"DG{n}") for n in list(lds.DATA_GROUPS) if f"DG{n}" in raw}
    try:
        return _authenticate(session, raw, dgs, trust, now, random)
    except BaseException:
        for buf in (*raw.values(), *dgs.values()):  # nothing personal outlives a failed read
            buf[:] = bytes(len(buf))
        raise


MAX_RECOVERIES = 3  # lost links / lost sessions survived per read before giving up
# PACE failures that never lead to BAC: a wrong password fails BAC too, and a wrong chip
# token may be an attack (9303-11 4.4.3.4); everything else is an interoperability failure.
_NO_FALLBACK = {"pace.wrong-key", "pace.chip-token", "mrz.can-invalid", "access.no-key"}


def _link_lost(exc: BaseException) -> bool:
    """A lost link (the tag left the field) or a chip that lost its session (it answers an
    unprotected 6982 inside secure messaging, as after an RF reset): worth a new session."""
    if isinstance(exc, CardRemovedError):
        return True
    return (
        isinstance(exc, CardStatusError)
        and exc.code == "sm.unprotected-status"
        and exc.sw == 0x6982
    )


class _Session:
    """Access control and its recovery: the reader's state that survives a lost link."""

    def __init__(
        self, channel: Channel, mrz: MrzKey | None, can: str | None, random: RandomBytes
    ) -> None:
        self.channel = channel
        self.mrz = mrz
        self.can = can
        self.random = random
        self.limits = ReadLimits()
        self.paces: list[PaceInfo] = []
        self.card_access_error: MrtdError | None = None
        self.method: Literal["BAC", "PACE"] = "BAC"
        self.protocol = "BAC"
        self.pace: PaceOutcome | None = None
        self.card_security: bytes | None = None
        self.card_security_error: MrtdError | None = None
        self.recoveries = 0
        self.opened = False

    def start(self) -> None:
        """EF.ATR/INFO, EF.CardAccess (9303-11 4.2 step 1), then access control."""
        self.with_recovery(self._probe)
        self.with_recovery(self._open)

    def _probe(self) -> None:
        self.limits = read_limits(self.channel)
        self.paces, self.card_access_error = _card_access(self.channel)

    def with_recovery(self, step: Callable[[], T], on_loss: Callable[[], None] | None = None) -> T:
        """Run `step`; when the link or the session is lost, reconnect, open a new session
        and run it again, at most MAX_RECOVERIES times per read (then `pcsc.tag-lost`)."""
        while True:
            try:
                return step()
            except (CardRemovedError, CardStatusError) as exc:
                if not _link_lost(exc):
                    raise
                if on_loss:
                    on_loss()
                self._recover(exc)

    def _recover(self, exc: MrtdError) -> None:
        """Reconnect (the reader resets the chip) and, if access control had succeeded, run
        it again: a new session, new keys. Bounded by MAX_RECOVERIES."""
        while True:
            self.recoveries += 1
            if self.recoveries > MAX_RECOVERIES:
                raise CardRemovedError(
                    f"the chip stopped answering {self.recoveries} times during this read "
                    f"({exc.code}); hold the passport still on the reader and try again",
                    code="pcsc.tag-lost",
                ) from exc
            reconnect = getattr(self.channel.transport, "reconnect", None)
            if reconnect is None:
                raise exc
            try:
                reconnect()
            except TransportError:
                raise exc from None  # the card is really gone: report what the read saw
            self.channel.sm = None
            if not self.opened:
                return
            try:
                self._open()
                return
            except (CardRemovedError, CardStatusError) as again:
                if not _link_lost(again):
                    raise
                exc = again

    def _open(self) -> None:
        """PACE where EF.CardAccess offers it, BAC where 9303-11 4.2 allows (see below)."""
        channel = self.channel
        if self.paces:
            first: tuple[AccessControlError, PaceInfo] | None = None
            for info in self.paces:  # e.g. PACE-CAM, then PACE-GM (9303-11 4.4.1: any offered)
                if first is not None:
                    self._reset_chip()
                try:
                    self.pace = perform_pace(
                        channel, info, mrz=self.mrz, can=self.can, random=self.random
                    )
                    break
                except AccessControlError as exc:
                    if exc.code in _NO_FALLBACK:
                        raise
                    first = first or (exc, info)
            else:
                assert first is not None
                if self.mrz is None:
                    raise first[0]
                self._fallback_to_bac(*first)
                return
            self.method, self.protocol = "PACE", info.name
            if info.mapping == "CAM" and self.card_security is None:
                self._read_card_security()
            _select_application(channel)
            self.opened = True
            return
        if self.mrz is None:
            if self.card_access_error is not None:
                raise self.card_access_error
            raise AccessControlError(
                "this chip offers only BAC, which needs the MRZ key", code="mrz.required"
            )
        _select_application(channel)
        try:
            perform_bac(channel, self.mrz, self.random)
        except CardStatusError as exc:
            if self.card_access_error is not None:
                raise self.card_access_error from exc  # PACE-only chip we cannot open
            raise
        self.method = self.protocol = "BAC"
        self.opened = True

    def _fallback_to_bac(self, failure: AccessControlError, info: PaceInfo) -> None:
        """9303-11 section 4.2: BAC is the way in where PACE has not been used; we take it
        after a PACE failure only on a chip that also answers BAC's GET CHALLENGE, and say
        so in the result. A PACE-only chip keeps the PACE error: no silent downgrade."""
        assert self.mrz is not None
        self._reset_chip()
        try:
            _select_application(self.channel)
            perform_bac(self.channel, self.mrz, self.random)
        except (CardStatusError, FileNotFoundOnChipError) as exc:
            raise AccessControlError(
                f"{failure.message} (PACE, and this chip refuses BAC: {exc})", code=failure.code
            ) from failure
        self.method = "BAC"
        self.protocol = f"BAC (after {info.name} failed: {failure.code})"
        self.opened = True

    def _reset_chip(self) -> None:
        """Start the chip afresh after a failed PACE: a chip that completed its side may hold
        a session we do not share (its next plain command would be refused)."""
        self.channel.sm = None
        reconnect = getattr(self.channel.transport, "reconnect", None)
        if reconnect is not None:
            reconnect()

    def _read_card_security(self) -> None:
        """EF.CardSecurity from the master file, right after PACE-CAM (9303-11 4.4.3.5.2)."""
        try:
            self.card_security = read_file(self.channel, EF_CARD_SECURITY, self.limits)
        except (CardStatusError, FileNotFoundOnChipError, ParseError) as exc:
            if _link_lost(exc):
                raise
            # CAM then cannot be verified: DG14's chip authentication stands in, if any.
            self.card_security_error = exc


def _select_application(channel: Channel) -> None:
    channel.send(CommandApdu(0x00, 0xA4, 0x04, 0x0C, lds.LDS1_AID)).check(
        "SELECT eMRTD application"
    )


def _chip_by_cam(session: _Session, trust: TrustStore, now: dt.datetime) -> CheckResult:
    """PACE-CAM as chip authentication: EF.CardSecurity verified, then the CAM equation."""
    pace = session.pace
    assert pace is not None and pace.ca_ic is not None
    if session.card_security is None:
        return CheckResult.failed(
            VerificationError(
                f"PACE-CAM but no EF.CardSecurity on the chip ({session.card_security_error})",
                code="cam.no-card-security",
            )
        )
    try:
        cs = CardSecurity.parse(session.card_security)
        verify_card_security(cs, trust, now)
        check_cam(pace.info, pace.ca_ic, pace.pk_map_ic, cs.chip_keys)
    except (ParseError, VerificationError) as exc:
        return CheckResult.failed(exc)
    return CheckResult.passed()


def _authenticate(
    session: _Session,
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

    channel = session.channel
    chip_result = CheckResult.not_supported("the chip has no DG14 (chip authentication)")
    if (
        session.pace is not None
        and session.pace.ca_ic is not None
        and (session.card_security is not None or 14 not in dgs)
    ):
        chip_result = _chip_by_cam(session, trust, now)  # CAM replaces CA (9303-11 4.4.3.5)
    elif 14 in dgs:
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
    auth = DocumentAuthentication(
        session.method, passive, chip_result, active_result, not_expired, session.protocol
    )
    number = bytearray(reading_mrz.document_number.encode("ascii"))
    return PassportReading(reading_mrz, face, number, auth, dgs)


def _card_access(channel: Channel) -> tuple[list[PaceInfo], MrtdError | None]:
    """PACE parameters from EF.CardAccess (9303-11 section 4.2); [] when the chip has none.

    An unreadable EF.CardAccess, or one offering only PACE variants we do not run (DH,
    integrated mapping, proprietary domain parameters), means "use BAC" (4.2); the reason
    is kept to report when the chip turns out to refuse BAC as well.
    """
    raw = read_sfi(channel, lds.EF_CARD_ACCESS, MAX_CARD_ACCESS)
    if not raw:
        return [], None
    try:
        obj = tlv.read(raw)
        paces = parse_card_access(raw[: obj.end])
    except ParseError as exc:
        return [], exc
    if not paces and oid_bytes(PACE_PREFIX) in raw:
        return [], AccessControlError(
            "the chip offers only PACE variants this reader does not run (DH, integrated "
            "mapping or proprietary domain parameters; see docs/passport.md)",
            code="pace.unsupported",
        )
    return paces, None


def _read_files(
    session: _Session, progress: Progress | None, read_dg11_12: bool
) -> dict[str, bytearray]:
    """EF.COM first (it lists the data groups), then the files we need, in one pass.

    `progress(done, total)` counts bytes; the total covers the files opened so far, since
    the chip reveals a file's size only when its first chunk arrives.
    """
    finished = 0

    def report(file_done: int, file_total: int) -> None:
        if progress:
            progress(finished + file_done, finished + file_total)

    def shrink() -> None:  # a lost link mid-read may be a chip that cannot send that much
        channel = session.channel
        shrink_read_size(
            channel, session.limits.max_read(channel.sm.keys.block if channel.sm else None)
        )

    def read(ef: lds.FileId, buf: bytearray, report_to: Callable[[int, int], None] | None) -> None:
        session.with_recovery(lambda: _read(session, ef, buf, report_to), shrink)

    com_raw = bytearray()
    read(lds.EF_COM, com_raw, None)
    com = lds.EfCom.parse(bytes(com_raw))
    wanted = [lds.EF_SOD, lds.DG1, lds.DG2]
    optional = [14, 15] + ([11, 12] if read_dg11_12 else [])
    wanted += [lds.DATA_GROUPS[n] for n in optional if n in com.data_groups]
    out: dict[str, bytearray] = {}
    for ef in wanted:
        out[ef.name] = bytearray()
        read(ef, out[ef.name], report)
        finished += len(out[ef.name])
    return out


def _read(
    session: _Session, ef: lds.FileId, buf: bytearray, report: Callable[[int, int], None] | None
) -> bytes:
    try:
        return read_file(session.channel, ef, session.limits, report, buf)
    except FileNotFoundOnChipError as exc:
        raise FileNotFoundOnChipError(f"{ef.name} is listed but missing on the chip") from exc
