"""ROC, EER, TAR at FAR, thresholds and the conservative calibration rule."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.face.errors import EvaluationError
from edge.face.evaluate import (
    calibrate,
    embed_folder,
    equal_error_rate,
    far_key,
    far_upper_bound,
    list_images,
    pair_scores,
    report,
    roc,
    tar_at_far,
    threshold_at_far,
)

from .conftest import FACES

pytestmark = pytest.mark.shared("data/faces", "data/video")


def test_far_key() -> None:
    assert far_key(1e-2) == "1e-2" and far_key(1e-3) == "1e-3" and far_key(5e-4) == "5e-4"


def test_roc_and_eer_on_known_scores() -> None:
    genuine = np.array([0.9, 0.8, 0.7, 0.4])
    impostor = np.array([0.1, 0.2, 0.3, 0.5])
    t, far, tar = roc(genuine, impostor)
    assert t[0] == 0.1 and far[0] == 1.0 and tar[0] == 1.0
    k = int(np.flatnonzero(t == 0.7)[0])
    assert far[k] == 0.0 and tar[k] == 0.75
    assert equal_error_rate(genuine, impostor) == pytest.approx(0.25)
    assert equal_error_rate(np.array([0.9]), np.array([0.1])) == 0.0


def test_threshold_and_tar_at_far() -> None:
    impostor = np.linspace(0.0, 0.99, 100)  # 100 pairs
    t = threshold_at_far(impostor, 1e-2)  # one false accept allowed
    assert np.sum(impostor >= t) == 1 and t > 0.98
    assert threshold_at_far(impostor, 1e-3) > 0.99  # none allowed
    assert tar_at_far(np.array([0.995, 0.5]), impostor, 1e-2) == 0.5
    assert tar_at_far(np.array([0.995]), impostor, 1e-3) is None  # 100 pairs < 1000


def test_far_upper_bound_rule_of_three() -> None:
    assert far_upper_bound(0, 1000) == pytest.approx(1 - 0.05 ** (1 / 1000), rel=1e-6)
    assert far_upper_bound(0, 1000) == pytest.approx(3 / 1000, rel=0.01)
    assert far_upper_bound(5, 1000) > far_upper_bound(0, 1000)
    assert far_upper_bound(0, 0) == 1.0


def _small_folder(tmp_path: Path) -> Path:
    """Three identities, plus a corrupt file and a photo without a face."""
    root = tmp_path / "faces"
    for ident in ("fr_obama", "fr_biden", "of_lennon"):
        shutil.copytree(FACES / ident, root / ident)
    (root / "of_lennon" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    from PIL import Image

    Image.new("RGB", (200, 200), (120, 130, 140)).save(root / "fr_biden" / "wall.png")
    (root / "fr_biden" / "notes.txt").write_text("ignored: not an image suffix")
    return root


def test_no_face_and_unreadable_images_count_as_non_matches(
    pipeline: object, tmp_path: Path
) -> None:
    data = embed_folder(_small_folder(tmp_path), pipeline)  # type: ignore[arg-type]
    assert data.no_face == ["fr_biden/wall.png"]
    assert data.unreadable == ["of_lennon/broken.jpg"]
    genuine, impostor = pair_scores(data)
    n = {"fr_obama": 4, "fr_biden": 3, "of_lennon": 3}
    assert genuine.size == sum(k * (k - 1) // 2 for k in n.values())
    assert impostor.size == 4 * 3 + 4 * 3 + 3 * 3
    assert np.sum(genuine == -1.0) == 2 + 2  # wall with 2 Bidens, broken with 2 Lennons
    rep, _, _ = report(data, "mobilefacenet", max_impostor_pairs=10, seed=3)
    assert rep.pairs_impostor == 10 and rep.no_face == ["fr_biden/wall.png"]
    assert set(rep.ms_per_stage) == {"detect", "landmarks", "align", "quality", "embed"}


def test_conservative_calibration_when_data_are_few(pipeline: object) -> None:
    data = embed_folder(FACES, pipeline)  # type: ignore[arg-type]
    rep, _, impostor = report(data, "mobilefacenet")
    cal = calibrate(
        rep,
        impostor,
        far=1e-3,
        model_sha256="0" * 64,
        threshold_id="t-test",
        description="test",
        created="2026-01-01",
    )
    assert not cal.sufficient_data
    assert cal.threshold == pytest.approx(rep.max_impostor + 0.10, abs=1e-4)
    assert cal.far_upper_95 == pytest.approx(3 / 729, rel=0.02)
    loose = calibrate(
        rep,
        impostor,
        far=1e-2,
        model_sha256="0" * 64,
        threshold_id="t-test",
        description="test",
        created="2026-01-01",
    )
    assert loose.sufficient_data  # 729 >= 300 pairs: the empirical quantile is used
    assert loose.threshold == pytest.approx(threshold_at_far(impostor, 1e-2), abs=1e-4)


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError):
        list_images(tmp_path / "missing")
    (tmp_path / "only").mkdir()
    shutil.copy(FACES / "fr_obama" / "obama.jpg", tmp_path / "only" / "a.jpg")
    with pytest.raises(EvaluationError) as e:
        list_images(tmp_path)
    assert e.value.code == "face.eval-too-few"


def test_impostor_sampling_is_seeded_unique_and_cross_identity() -> None:
    from edge.face.evaluate import _impostor_pairs

    ids = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 20)
    i, j = _impostor_pairs(ids, 500, seed=5)
    assert i.size == 500 and np.all(i < j) and np.all(ids[i] != ids[j])
    assert len(set(zip(i.tolist(), j.tolist(), strict=True))) == 500
    i2, j2 = _impostor_pairs(ids, 500, seed=5)
    assert np.array_equal(i, i2) and np.array_equal(j, j2)
    all_i, _ = _impostor_pairs(ids, None, seed=0)
    assert all_i.size == 50 * 30 + 50 * 20 + 30 * 20
    assert _impostor_pairs(ids, 10**9, seed=0)[0].size == all_i.size


def test_bound_rule_demonstrates_the_far() -> None:
    """With the bound rule the 95% upper bound at the threshold is <= the target FAR, and
    no impostor is above it when asked; too few pairs fall back to the safety margin."""
    from edge.face.evaluate import Report, calibrate, far_upper_bound, threshold_for_bound

    rng = np.random.default_rng(7)
    impostor = rng.normal(0.0, 0.1, 40_000)
    genuine = rng.normal(0.7, 0.1, 500)
    t = threshold_for_bound(impostor, 1e-3)
    k = int(np.sum(impostor >= t))
    assert far_upper_bound(k, impostor.size) <= 1e-3 < far_upper_bound(k + 1, impostor.size)
    assert threshold_for_bound(impostor[:2000], 1e-3) == float("inf")

    def rep_for(imp: np.ndarray) -> Report:
        return Report(
            "sface", 100, 1000, genuine.size, imp.size, 0.01, {}, {}, 1 / imp.size, [], [],
            1.0, {}, round(float(imp.max()), 6), round(float(genuine.min()), 6),
        )  # fmt: skip

    kw: dict[str, Any] = {
        "model_sha256": "0" * 64,
        "threshold_id": "sf-x1",
        "description": "d",
        "created": "c",
    }
    cal = calibrate(rep_for(impostor), impostor, far=1e-3, rule="bound", **kw)
    assert cal.sufficient_data and cal.far_upper_95 <= 1e-3
    strict = calibrate(
        rep_for(impostor),
        impostor,
        far=1e-4,
        rule="bound",
        no_impostor_accepted=True,
        genuine=genuine,
        spread="synthetic",
        **kw,
    )
    assert strict.threshold > impostor.max() and strict.far_upper_95 <= 1e-4
    assert strict.data.tar == round(float(np.mean(genuine >= strict.threshold)), 6)
    assert strict.data.spread == "synthetic" and cal.data.tar is None
    assert "0 impostor pairs accepted" in strict.method
    few = calibrate(rep_for(impostor[:2000]), impostor[:2000], far=1e-3, rule="bound", **kw)
    assert not few.sufficient_data and few.threshold >= impostor[:2000].max() + 0.1 - 1e-9


def test_lfw_pairs_and_ten_fold_protocol() -> None:
    from edge.face.lfw import lfw_scores, parse_lfw_pairs, ten_fold

    lines = ["2\t2", "A\t1\t2", "B\t1\t2", "A\t1\tB\t1", "A\t2\tC\t1"]
    lines += ["C\t1\t2", "B\t2\t3", "B\t3\tC\t2", "A\t1\tC\t2"]
    pairs = parse_lfw_pairs("\n".join(lines) + "\n")
    assert len(pairs.folds) == 2 and pairs.folds[0][0] == ("A/A_0001.jpg", "A/A_0002.jpg", True)
    assert pairs.folds[0][2] == ("A/A_0001.jpg", "B/B_0001.jpg", False)
    base = {"A": np.array([1.0, 0, 0]), "B": np.array([0, 1.0, 0]), "C": np.array([0, 0, 1.0])}
    seen: list[str] = []

    def embed(path: Path) -> np.ndarray | None:
        seen.append(path.name)
        if path.name == "C_0002.jpg":
            return None  # no face: the pair counts as a non-match
        v = base[path.parent.name] + 0.1 * np.arange(3) * int(path.stem[-1])
        out: np.ndarray = v / np.linalg.norm(v)
        return out

    scores, same = lfw_scores(Path("/lfw"), pairs, embed)
    assert len(seen) == len(set(seen))  # every image embedded once
    result = ten_fold(scores, same)
    assert result.pairs == 8 and result.no_face == 3
    assert 0.0 <= result.accuracy_mean <= 1.0 and len(result.fold_accuracy) == 2
    for bad in ("", "2\t2\nA\t1\t2\n", "x y\n", "1\t1\nA\t1\t2\n../A\t1\tB\t1\n"):
        with pytest.raises(EvaluationError):
            parse_lfw_pairs(bad)


def test_quantization_crops_are_aligned_faces(pipeline: object) -> None:
    from edge.face.evaluate import quantization_crops

    crops = quantization_crops(FACES, pipeline)  # type: ignore[arg-type]
    assert crops.shape[1:] == (112, 112, 3) and crops.dtype == np.float32
    assert crops.shape[0] == 2 * 40  # every photo has a face, each also mirrored
    assert np.array_equal(crops[1], crops[0][:, ::-1])


def test_lfw_pairs_parser_fuzz() -> None:
    """Random and mutated pairs files: a PairList or a coded EvaluationError, never another
    exception (bounded: 400 inputs)."""
    from edge.face.lfw import PairList, parse_lfw_pairs

    rng = np.random.default_rng(11)
    good = "2\t1\nA\t1\t2\nA\t1\tB\t1\nB\t1\t2\nB\t2\tA\t3\n"
    alphabet = [*"AB12\t\n ./_-x0", "\u00e9", "\x00"]
    for k in range(400):
        if k % 2:
            chars = list(good)
            for _ in range(int(rng.integers(1, 6))):
                chars[int(rng.integers(0, len(chars)))] = str(rng.choice(alphabet))
            text = "".join(chars)
        else:
            text = "".join(rng.choice(alphabet, size=int(rng.integers(0, 60))))
        try:
            assert isinstance(parse_lfw_pairs(text), PairList)
        except EvaluationError as e:
            assert e.code == "face.eval-pairs"


def test_duplicates_across_identities_and_the_usable_subset(tmp_path: Path) -> None:
    """A photo filed under two identities is a label error: both copies go; the usable
    subset keeps what the device would match (one person, quality passed)."""
    from edge.face.evaluate import Embedded, Labelled, duplicate_photos

    for ident, name, data in (("a", "1.jpg", b"x"), ("a", "2.jpg", b"y"), ("b", "3.jpg", b"x")):
        (tmp_path / ident).mkdir(exist_ok=True)
        (tmp_path / ident / name).write_bytes(data)
    (tmp_path / "b" / "4.jpg").write_bytes(b"y2")
    items = list_images(tmp_path)
    dups = duplicate_photos(items)
    assert set(dups) == {str(tmp_path / "a" / "1.jpg"), str(tmp_path / "b" / "3.jpg")}
    emb = Embedded(
        [Labelled(tmp_path / "a" / "1.jpg", "a"), Labelled(tmp_path / "a" / "2.jpg", "a")],
        np.eye(2, 4, dtype=np.float32),
        np.array([True, True]),
        unusable=np.array([False, True]),
    )
    assert [i.path.name for i in emb.usable().items] == ["1.jpg"]
    assert emb.usable({str(tmp_path / "a" / "1.jpg")}).items == []
