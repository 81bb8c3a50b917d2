"""The calibration file: which cosine score counts as a match, and what that claim rests on.

Why a file: the threshold is a security parameter with provenance. Its id and the
false-accept rate it was set for go into the attestation, so a relying party can tell which
policy a decision was made under; the file also records the data it was set on and the
limits of that data, so nobody mistakes a small-sample threshold for a certified one.
Loading (I/O) is separate from parsing (pure); unknown keys are rejected.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from edge.face.errors import CalibrationError
from edge.face.models import model_dir

SCHEMA = 1
_ID = re.compile(r"^[a-z0-9][a-z0-9.\-]{2,63}$")


class Decision(StrEnum):
    """The only verdicts that leave edge/face."""

    MATCH = "match"
    NO_MATCH = "no-match"
    INCONCLUSIVE = "inconclusive"


class ScoreBand(StrEnum):
    """A coarse score band: never finer than this leaves the module."""

    LOW = "low"  # clearly below the threshold: different people
    BORDERLINE = "borderline"  # within the grey margin below the threshold
    HIGH = "high"  # at or above the threshold
    NONE = "none"  # no score (no usable face)


@dataclass(frozen=True)
class CalibrationData:
    """What the threshold was set on (counts and summary scores, no images or templates)."""

    description: str
    identities: int
    images: int
    no_face: int
    pairs_genuine: int
    pairs_impostor: int
    max_impostor: float
    min_genuine: float
    eer: float
    tar: float | None = None  # share of genuine pairs accepted at the threshold
    spread: str = ""  # what is known of the set's demographic spread, in words


@dataclass(frozen=True)
class Calibration:
    """A parsed, checked calibration file."""

    threshold_id: str
    model: str
    model_sha256: str
    far: float  # the false-accept rate the threshold was set for
    far_upper_95: float  # what the data can support: 95% upper bound of the FAR at threshold
    sufficient_data: bool  # True only when the data can demonstrate `far`
    threshold: float
    grey_margin: float
    method: str
    limits: str
    created: str
    data: CalibrationData

    def decide(self, score: float) -> tuple[Decision, ScoreBand]:
        """Cosine score -> decision and band. The grey zone below the threshold is
        "inconclusive": a retake is cheaper than a wrong no-match."""
        if not math.isfinite(score):
            return Decision.INCONCLUSIVE, ScoreBand.NONE
        if score >= self.threshold:
            return Decision.MATCH, ScoreBand.HIGH
        if score >= self.threshold - self.grey_margin:
            return Decision.INCONCLUSIVE, ScoreBand.BORDERLINE
        return Decision.NO_MATCH, ScoreBand.LOW

    def to_json(self) -> str:
        return json.dumps({"schema": SCHEMA, **asdict(self)}, indent=2) + "\n"


def _field(raw: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in raw:
        raise CalibrationError(f"calibration lacks {key!r}")
    value = raw[key]
    if isinstance(value, bool) and kind is not bool:
        raise CalibrationError(f"calibration {key!r} must be {kind}, not a boolean")
    if not isinstance(value, kind):
        raise CalibrationError(f"calibration {key!r} has the wrong type {type(value).__name__}")
    return value


def parse(raw: Any) -> Calibration:
    """Check and build a Calibration from decoded JSON; unknown keys are errors."""
    if not isinstance(raw, dict):
        raise CalibrationError("calibration must be a JSON object")
    expected = {"schema", *Calibration.__dataclass_fields__}
    unknown = set(raw) - expected
    if unknown:
        raise CalibrationError(f"calibration has unknown keys {sorted(unknown)}")
    if raw.get("schema") != SCHEMA:
        raise CalibrationError(f"calibration schema must be {SCHEMA}")
    data_raw = _field(raw, "data", dict)
    data_unknown = set(data_raw) - set(CalibrationData.__dataclass_fields__)
    if data_unknown:
        raise CalibrationError(f"calibration data has unknown keys {sorted(data_unknown)}")
    num = (int, float)
    data = CalibrationData(
        description=_field(data_raw, "description", str),
        identities=_field(data_raw, "identities", int),
        images=_field(data_raw, "images", int),
        no_face=_field(data_raw, "no_face", int),
        pairs_genuine=_field(data_raw, "pairs_genuine", int),
        pairs_impostor=_field(data_raw, "pairs_impostor", int),
        max_impostor=float(_field(data_raw, "max_impostor", num)),
        min_genuine=float(_field(data_raw, "min_genuine", num)),
        eer=float(_field(data_raw, "eer", num)),
        tar=None if data_raw.get("tar") is None else float(_field(data_raw, "tar", num)),
        spread=_field(data_raw, "spread", str) if "spread" in data_raw else "",
    )
    cal = Calibration(
        threshold_id=_field(raw, "threshold_id", str),
        model=_field(raw, "model", str),
        model_sha256=_field(raw, "model_sha256", str),
        far=float(_field(raw, "far", num)),
        far_upper_95=float(_field(raw, "far_upper_95", num)),
        sufficient_data=_field(raw, "sufficient_data", bool),
        threshold=float(_field(raw, "threshold", num)),
        grey_margin=float(_field(raw, "grey_margin", num)),
        method=_field(raw, "method", str),
        limits=_field(raw, "limits", str),
        created=_field(raw, "created", str),
        data=data,
    )
    if not _ID.match(cal.threshold_id):
        raise CalibrationError("threshold_id must be 3-64 of [a-z0-9.-]")
    if not re.fullmatch(r"[0-9a-f]{64}", cal.model_sha256):
        raise CalibrationError("model_sha256 must be 64 lowercase hex digits")
    if not (0.0 < cal.far < 1.0 and 0.0 < cal.far_upper_95 <= 1.0):
        raise CalibrationError("far and far_upper_95 must be in (0, 1)")
    if not (-1.0 < cal.threshold < 1.0 and 0.0 <= cal.grey_margin < 1.0):
        raise CalibrationError("threshold must be in (-1, 1) and grey_margin in [0, 1)")
    return cal


def load(path: str | Path) -> Calibration:
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise CalibrationError(
            f"no calibration file at {p}", code="face.calibration-missing"
        ) from e
    except (ValueError, UnicodeDecodeError) as e:
        raise CalibrationError(f"{p} is not JSON: {e}") from e
    return parse(raw)


def default_path(model: str) -> Path:
    """The shipped calibration for an embedder: firmware/models/calibration-<model>.json."""
    return model_dir() / f"calibration-{model}.json"


def default_calibration(model: str) -> Calibration:
    return load(default_path(model))
