"""The runtime adapter (one interpreter per file and thread count) and `edgeproof face`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edge.face.models import verified_path
from edgeproof_cli import main

from .conftest import FACES, STILL, _require_runtime

pytestmark = pytest.mark.shared("data/faces", "data/video")


def test_interpreters_are_cached_per_path_and_threads() -> None:
    _require_runtime()
    from edge.face.runtime import load_interpreter, runtime_name

    path = verified_path("face_detection_short_range")
    assert load_interpreter(path, 1) is load_interpreter(str(path), 1)
    assert load_interpreter(path, 2) is not load_interpreter(path, 1)
    with pytest.raises(ValueError):
        load_interpreter(path, 0)
    assert runtime_name() in {"ai-edge-litert", "tflite-runtime"}


def test_cli_match(capsys: pytest.CaptureFixture[str]) -> None:
    obama = FACES / "fr_obama"
    assert (
        main(["face", "match", str(obama / "obama.jpg"), str(obama / "obama2.jpg"), "--json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["decision"] == "match" and out["score_band"] == "high"
    assert set(out["timings_ms"]) >= {"detect_ms", "landmarks_ms", "align_ms", "embed_ms"}
    assert "score" not in out
    assert main(["face", "match", str(STILL), str(obama / "obama.jpg")]) == 1
    assert "decision: no-match" in capsys.readouterr().out


def test_cli_match_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"this is text")
    assert main(["face", "match", str(junk), str(STILL)]) == 2
    assert "face.image-unreadable" in capsys.readouterr().err
    assert main(["face", "match", str(tmp_path / "nope.png"), str(STILL)]) == 2
    assert "face.image-missing" in capsys.readouterr().err


def test_cli_eval_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "set"
    for ident in ("fr_obama", "df_id02", "of_clapton"):
        shutil.copytree(FACES / ident, root / ident)
    png = tmp_path / "roc.png"
    args = ["face", "eval", str(root), "--json", "--plot", str(png), "--max-impostor-pairs", "12"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    for key in (
        "pairs_genuine",
        "pairs_impostor",
        "eer",
        "tar_at_far",
        "threshold_at_far",
        "no_face",
        "ms_per_image",
    ):
        assert key in out
    assert out["pairs_genuine"] == 6 + 3 + 1 and out["pairs_impostor"] == 12
    assert set(out["tar_at_far"]) == {"1e-2", "1e-3"} and out["tar_at_far"]["1e-3"] is None
    assert out["no_face"] == [] and out["ms_per_image"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["face", "eval", str(root), "--far", "0.1"]) == 0
    text = capsys.readouterr().out
    assert "EER" in text and "TAR at FAR 1e-1" in text
    assert main(["face", "eval", str(root), "--far", "2"]) == 2


def test_cli_calibrate_writes_a_loadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge.face.calibration import load

    out = tmp_path / "cal.json"
    argv = [
        "face",
        "calibrate",
        str(FACES),
        "--far",
        "1e-3",
        "--out",
        str(out),
        "--date",
        "2026-01-02",
        "--model",
        "sface",
    ]
    assert main(argv) == 0
    assert "NOT a demonstrated FAR" in capsys.readouterr().err
    cal = load(out)
    assert cal.model == "sface" and cal.threshold_id == "sface-faces-2026-01-02"
    assert cal.data.images == 40 and cal.data.pairs_impostor == 729
    # And the matcher accepts it.
    assert (
        main(
            [
                "face",
                "match",
                str(FACES / "fr_obama" / "obama.jpg"),
                str(FACES / "fr_obama" / "obama1.jpg"),
                "--model",
                "sface",
                "--calibration",
                str(out),
            ]
        )
        == 0
    )


def test_cli_eval_bad_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["face", "eval", str(tmp_path)]) == 2
    assert "face.eval-too-few" in capsys.readouterr().err


def test_cli_models(capsys: pytest.CaptureFixture[str]) -> None:
    from edge.face.models import manifest

    assert main(["face", "models"]) == 0
    # One line per manifest entry (the iris landmark model for liveness is one of them).
    assert capsys.readouterr().out.count("OK  ") == len(manifest()) >= 6


def test_cli_match_without_a_face_is_inconclusive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    wall = tmp_path / "wall.png"
    Image.new("RGB", (320, 240), (200, 190, 180)).save(wall)
    assert main(["face", "match", str(wall), str(STILL)]) == 1
    assert "decision: inconclusive" in capsys.readouterr().out


def test_missing_runtime_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """With neither LiteRT nor tflite-runtime importable, a stable error says what to install."""
    import sys

    from edge.face.errors import RuntimeMissingError
    from edge.face.runtime import _interpreter_class

    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    with pytest.raises(RuntimeMissingError) as e:
        _interpreter_class()
    assert e.value.code == "face.runtime-missing" and isinstance(e.value, ImportError)


def test_cli_eval_subset_options(capsys: pytest.CaptureFixture[str]) -> None:
    """--same-person merges two folders into one identity; a malformed pair is refused."""
    assert main(["face", "eval", str(FACES), "--same-person", "fr_obama"]) == 2
    assert "--same-person wants A,B" in capsys.readouterr().err
    args = ["face", "eval", str(FACES), "--json", "--usable-only", "--drop-duplicates"]
    assert main([*args, "--same-person", "fr_obama,fr_biden"]) == 0
    merged = json.loads(capsys.readouterr().out)
    assert merged["identities"] == 14 and merged["images"] <= 40
