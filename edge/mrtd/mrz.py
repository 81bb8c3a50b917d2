"""The machine-readable zone: access keys and the DG1 MRZ (ICAO 9303-3 and 9303-4/5/6).

The MRZ text of a reading lives in one bytearray (`Mrz.raw`) so it can be wiped; the field
properties decode slices on demand and the caller should not keep the strings longer than
needed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from edge.mrtd.errors import ParseError

_WEIGHTS = (7, 3, 1)
_FIELD_RE = re.compile(r"^[0-9A-Z<]+$")


def _char_value(c: str) -> int:
    if c.isdigit():
        return ord(c) - 48
    if "A" <= c <= "Z":
        return ord(c) - 55
    if c == "<":
        return 0
    raise ParseError(f"character {c!r} not allowed in an MRZ", code="mrz.charset")


def check_digit(field: str) -> str:
    """ICAO 9303-3 section 4.9: weights 7-3-1, modulus 10."""
    return str(sum(_char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(field)) % 10)


def _require_check(field: str, digit: str, what: str) -> None:
    # 9303-3 section 4.9: a filler '<' stands for 0 only where the field is all fillers.
    expected = check_digit(field)
    if digit != expected and not (digit == "<" and set(field) == {"<"}):
        raise ParseError(
            f"MRZ check digit of {what} is {digit!r}, expected {expected}",
            code="mrz.check-digit",
        )


def _yymmdd(value: str, what: str) -> None:
    if not re.fullmatch(r"\d{6}", value):
        raise ParseError(f"{what} must be YYMMDD digits, got {value!r}", code="mrz.invalid")
    try:
        dt.date(2000 + int(value[:2]), int(value[2:4]), int(value[4:]))
    except ValueError as exc:
        raise ParseError(f"{what} {value!r} is not a calendar date", code="mrz.invalid") from exc


@dataclass(frozen=True)
class MrzKey:
    """The three MRZ fields that key BAC and PACE-with-MRZ (9303-11 section 4.3.2)."""

    document_number: str
    date_of_birth: str  # YYMMDD
    date_of_expiry: str  # YYMMDD

    def __post_init__(self) -> None:
        if not self.document_number or len(self.document_number) > 22:
            raise ParseError("document number must have 1 to 22 characters", code="mrz.invalid")
        if not _FIELD_RE.match(self.document_number):
            raise ParseError("document number may hold only A-Z, 0-9 and '<'", code="mrz.charset")
        _yymmdd(self.date_of_birth, "date of birth")
        _yymmdd(self.date_of_expiry, "date of expiry")

    @classmethod
    def parse(cls, text: str) -> MrzKey:
        """'DOCNUMBER,YYMMDD,YYMMDD' as typed by an operator (the CLI's --mrz)."""
        parts = [p.strip().upper() for p in text.split(",")]
        if len(parts) != 3:
            raise ParseError(
                "MRZ key must be 'DOCUMENT_NUMBER,BIRTH_YYMMDD,EXPIRY_YYMMDD'", code="mrz.invalid"
            )
        return cls(parts[0], parts[1], parts[2])

    def information(self) -> bytes:
        """MRZ_information: number, birth and expiry, each with its check digit."""
        number = self.document_number.ljust(9, "<")
        fields = (number, self.date_of_birth, self.date_of_expiry)
        return "".join(f + check_digit(f) for f in fields).encode("ascii")


MrzFormat = Literal["TD1", "TD2", "TD3"]


@dataclass(frozen=True)
class _Layout:
    """Where each field sits in the concatenated MRZ lines, and what the composite covers."""

    document_code: slice
    issuing_state: slice
    names: slice
    document_number: slice
    document_number_check: int
    nationality: slice
    date_of_birth: slice
    birth_check: int
    sex: int
    date_of_expiry: slice
    expiry_check: int
    optional: slice
    composite: tuple[slice, ...]
    composite_check: int


_LAYOUTS: dict[int, tuple[MrzFormat, _Layout]] = {
    # 9303-5 section 4.2.2 (TD1: three lines of 30)
    90: (
        "TD1",
        _Layout(
            slice(0, 2),
            slice(2, 5),
            slice(60, 90),
            slice(5, 14),
            14,
            slice(45, 48),
            slice(30, 36),
            36,
            37,
            slice(38, 44),
            44,
            slice(15, 30),
            (slice(5, 30), slice(30, 37), slice(38, 45), slice(48, 59)),
            59,
        ),
    ),
    # 9303-6 section 4.2.2 (TD2: two lines of 36)
    72: (
        "TD2",
        _Layout(
            slice(0, 2),
            slice(2, 5),
            slice(5, 36),
            slice(36, 45),
            45,
            slice(46, 49),
            slice(49, 55),
            55,
            56,
            slice(57, 63),
            63,
            slice(64, 71),
            (slice(36, 46), slice(49, 56), slice(57, 71)),
            71,
        ),
    ),
    # 9303-4 section 4.2.2 (TD3: two lines of 44)
    88: (
        "TD3",
        _Layout(
            slice(0, 2),
            slice(2, 5),
            slice(5, 44),
            slice(44, 53),
            53,
            slice(54, 57),
            slice(57, 63),
            63,
            64,
            slice(65, 71),
            71,
            slice(72, 86),
            (slice(44, 54), slice(57, 64), slice(65, 87)),
            87,
        ),
    ),
}


class Mrz:
    """A parsed, check-digit-verified MRZ held in a wipeable buffer."""

    def __init__(self, raw: bytearray) -> None:
        if len(raw) not in _LAYOUTS:
            raise ParseError(
                f"MRZ of {len(raw)} characters is neither TD1 (90), TD2 (72) nor TD3 (88)",
                code="mrz.invalid",
            )
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise ParseError("MRZ is not ASCII", code="mrz.charset") from exc
        if not _FIELD_RE.match(text):
            raise ParseError("MRZ may hold only A-Z, 0-9 and '<'", code="mrz.charset")
        self.raw = raw
        self.format, self._at = _LAYOUTS[len(raw)]
        at = self._at
        number, number_check = self._document_number_and_check(text)
        _require_check(number, number_check, "the document number")
        _require_check(text[at.date_of_birth], text[at.birth_check], "the date of birth")
        _require_check(text[at.date_of_expiry], text[at.expiry_check], "the date of expiry")
        composite = "".join(text[s] for s in at.composite)
        _require_check(composite, text[at.composite_check], "the composite")
        if self.format == "TD3":
            # 9303-4 section 4.2.2: the optional personal number has its own check digit.
            _require_check(text[72:86], text[86], "the personal number")
        _yymmdd(text[at.date_of_expiry], "date of expiry")

    def _document_number_and_check(self, text: str) -> tuple[str, str]:
        at = self._at
        number = text[at.document_number]
        digit = text[at.document_number_check]
        if self.format == "TD1" and digit == "<":
            # 9303-5 note j: long numbers continue in the optional data, check digit last.
            rest = text[at.optional].split("<", 1)[0]
            if len(rest) < 2:
                raise ParseError("TD1 long document number truncated", code="mrz.invalid")
            return number + rest[:-1], rest[-1]
        return number, digit

    def _get(self, s: slice) -> str:
        return self.raw[s].decode("ascii")

    @property
    def document_code(self) -> str:
        return self._get(self._at.document_code).rstrip("<")

    @property
    def issuing_state(self) -> str:
        return self._get(self._at.issuing_state).rstrip("<")

    @property
    def document_number(self) -> str:
        return self._document_number_and_check(self.raw.decode("ascii"))[0].rstrip("<")

    @property
    def nationality(self) -> str:
        return self._get(self._at.nationality).rstrip("<")

    @property
    def date_of_birth(self) -> str:
        return self._get(self._at.date_of_birth)

    @property
    def date_of_expiry(self) -> str:
        return self._get(self._at.date_of_expiry)

    @property
    def sex(self) -> str:
        return chr(self.raw[self._at.sex]).replace("<", "X")

    @property
    def primary_identifier(self) -> str:
        return self._get(self._at.names).split("<<", 1)[0].replace("<", " ").strip()

    @property
    def secondary_identifier(self) -> str:
        parts = self._get(self._at.names).split("<<", 1)
        return parts[1].replace("<", " ").strip() if len(parts) == 2 else ""

    def expiry_date(self) -> dt.date:
        """Expiry in the 21st century: 9303 has no century digit, and passports last 10 years."""
        s = self.date_of_expiry
        return dt.date(2000 + int(s[:2]), int(s[2:4]), int(s[4:]))

    def key(self) -> MrzKey:
        return MrzKey(self.document_number, self.date_of_birth, self.date_of_expiry)

    def wipe(self) -> None:
        self.raw[:] = bytes(len(self.raw))


def compose_td3(
    *,
    document_code: str,
    issuing_state: str,
    primary: str,
    secondary: str,
    document_number: str,
    nationality: str,
    date_of_birth: str,
    sex: str,
    date_of_expiry: str,
    personal_number: str = "",
) -> str:
    """Build a valid TD3 MRZ (9303-4 section 4.2.2); used by the test-document generator."""
    names = (primary.replace(" ", "<") + "<<" + secondary.replace(" ", "<")).ljust(39, "<")[:39]
    line1 = document_code.ljust(2, "<") + issuing_state.ljust(3, "<") + names
    number = document_number.ljust(9, "<")
    optional = personal_number.ljust(14, "<")
    opt_check = check_digit(optional) if personal_number else "<"
    part = (
        number
        + check_digit(number)
        + nationality.ljust(3, "<")
        + date_of_birth
        + check_digit(date_of_birth)
        + sex
        + date_of_expiry
        + check_digit(date_of_expiry)
        + optional
        + opt_check
    )
    composite = part[0:10] + part[13:20] + part[21:43]
    return line1 + part + check_digit(composite)
