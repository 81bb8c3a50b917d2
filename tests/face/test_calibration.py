"""Calibration files: strict parsing, decisions and bands, and the shipped defaults."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edge.face.calibration import (
    Decision,
    ScoreBand,
    default_calibration,
    default_path,
    load,
    parse,
)
from edge.face.embed import DEFAULT_EMBEDDER, EMBEDDERS
from edge.face.errors import CalibrationError
from edge.face.models import manifest

pytestmark = pytest.mark.shared("data/faces", "data/video")


def _raw() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(default_path(DEFAULT_EMBEDDER).read_text())
    return raw


@pytest.mark.parametrize("name", EMBEDDERS)
def test_shipped_calibrations_parse_and_name_their_model(name: str) -> None:
    cal = default_calibration(name)
    assert cal.model == name
    assert cal.model_sha256 == manifest()[name].sha256
    if cal.sufficient_data:
        # A demonstrated rate: enough impostor pairs, and the 95% bound within the target.
        assert cal.data.pairs_impostor >= 300_000 and cal.data.identities >= 200
        assert cal.far_upper_95 <= cal.far <= 1e-3
        assert cal.data.tar is not None and cal.data.spread
    else:
        assert cal.far == 1e-3
        # 40 photos cannot show a FAR of 1e-3, and the file must say so.
        assert "NOT a demonstrated FAR" in cal.limits
        assert cal.far_upper_95 > cal.far
        assert cal.threshold > cal.data.max_impostor
    assert parse(json.loads(cal.to_json())) == cal


def test_default_calibration_is_demonstrated() -> None:
    """The default embedder's threshold rests on >= 300,000 impostor pairs with the 95%
    upper bound of the FAR at most 1e-4 (docs/face.md, "Calibration")."""
    cal = default_calibration(DEFAULT_EMBEDDER)
    assert cal.sufficient_data and cal.far == 1e-4 and cal.far_upper_95 <= 1e-4
    assert len(cal.threshold_id) <= 6  # tokens stay small (docs/attestation.md)


def test_decide_bands() -> None:
    cal = default_calibration(DEFAULT_EMBEDDER)
    t, m = cal.threshold, cal.grey_margin
    assert cal.decide(t) == (Decision.MATCH, ScoreBand.HIGH)
    assert cal.decide(0.99) == (Decision.MATCH, ScoreBand.HIGH)
    assert cal.decide(t - m / 2) == (Decision.INCONCLUSIVE, ScoreBand.BORDERLINE)
    assert cal.decide(t - m - 0.01) == (Decision.NO_MATCH, ScoreBand.LOW)
    assert cal.decide(math.nan) == (Decision.INCONCLUSIVE, ScoreBand.NONE)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda r: r.update(extra=1), "unknown keys"),
        (lambda r: r.pop("threshold"), "lacks 'threshold'"),
        (lambda r: r.update(threshold="0.5"), "wrong type"),
        (lambda r: r.update(threshold=True), "boolean"),
        (lambda r: r.update(threshold=1.5), "threshold must be"),
        (lambda r: r.update(far=0), "far"),
        (lambda r: r.update(schema=2), "schema"),
        (lambda r: r.update(threshold_id="Bad Id!"), "threshold_id"),
        (lambda r: r.update(model_sha256="abc"), "model_sha256"),
        (lambda r: r["data"].update(images_of_people=[1]), "unknown keys"),
    ],
)
def test_malformed_calibrations_are_refused(
    mutate: Callable[[dict[str, Any]], object], fragment: str
) -> None:
    raw = _raw()
    mutate(raw)
    with pytest.raises(CalibrationError) as e:
        parse(raw)
    assert fragment in str(e.value)
    assert e.value.code == "face.calibration-invalid"


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError) as e:
        load(tmp_path / "none.json")
    assert e.value.code == "face.calibration-missing"
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe not json")
    with pytest.raises(CalibrationError):
        load(bad)
    with pytest.raises(CalibrationError):
        parse([1, 2])


def test_default_calibration_separates_the_labelled_set(pipeline: object) -> None:
    """Every same-person pair is a match and every different-person pair a no-match (the
    set the threshold was set on: this checks the file, not generalisation)."""
    from edge.face.evaluate import embed_folder, pair_scores

    from .conftest import FACES

    cal = default_calibration(DEFAULT_EMBEDDER)
    genuine, impostor = pair_scores(embed_folder(FACES, pipeline))  # type: ignore[arg-type]
    assert all(cal.decide(float(s))[0] is Decision.MATCH for s in genuine)
    assert all(cal.decide(float(s))[0] is Decision.NO_MATCH for s in impostor)
