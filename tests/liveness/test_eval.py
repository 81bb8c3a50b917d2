"""`edgeproof liveness eval`: the labels file (untrusted input, fuzzed), blink labels in both
formats, the matching and the ISO/IEC 30107-3 figures, and one run on real footage."""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path

import pytest

from edge.liveness.evaluate import (
    ClipResult,
    EvalError,
    Evaluation,
    Row,
    band_of,
    evaluate,
    match_blinks,
    parse_blinks,
    parse_labels,
    plot,
)
from edgeproof_cli import main
from tests.liveness.conftest import CLIP, write_photo_replay

HEADER = "clip,label,attack_kind,blinks,fps,start_frame,end_frame\n"


def test_labels_are_parsed_relative_to_their_folder(tmp_path: Path) -> None:
    rows = parse_labels(
        HEADER + "a.mp4,live,,a.tag,7.5,10,200\nb.mp4,ATTACK,Screen,,,,\n", tmp_path
    )
    assert rows[0].clip == tmp_path / "a.mp4" and rows[0].blinks == tmp_path / "a.tag"
    assert (rows[0].fps, rows[0].start_frame, rows[0].end_frame) == (7.5, 10, 200)
    assert rows[1].label == "attack" and rows[1].attack_kind == "screen"
    assert parse_labels("clip,label\nx.mp4,live\n", tmp_path)[0].blinks is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "clip\nx.mp4\n",
        HEADER + "x.mp4,alive,,,,,\n",
        HEADER + "x.mp4,attack,,,,,\n",
        HEADER + "x.mp4,attack,a b,,,,\n",
        HEADER + "x.mp4,live,,,fast,,\n",
        HEADER + "x.mp4,live,,,0.5,,\n",
        HEADER + "x.mp4,live,,,nan,,\n",
        HEADER + "x.mp4,live,,,,-1,\n",
        HEADER + ",live,,,,,\n",
        HEADER + "x.mp4,live\n",
        HEADER,
    ],
)
def test_bad_labels_get_a_coded_error(text: str, tmp_path: Path) -> None:
    with pytest.raises(EvalError) as e:
        parse_labels(text, tmp_path)
    assert e.value.code == "liveness.bad-labels"


def test_labels_parser_fuzz(tmp_path: Path) -> None:
    """Random mutations of a valid file: either rows or EvalError, nothing else."""
    rng = random.Random(14)
    good = HEADER + "a.mp4,live,,a.tag,7.5,10,200\nb.mp4,attack,screen,,,,\n"
    alphabet = ',\n"\x00:;#-.0123456789abcdeflivattack\r\t '
    for _ in range(400):
        s = list(good)
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(s))
            op = rng.random()
            if op < 0.4:
                s[i] = rng.choice(alphabet)
            elif op < 0.7:
                del s[i]
            else:
                s.insert(i, rng.choice(alphabet))
        with contextlib.suppress(EvalError):
            parse_labels("".join(s), tmp_path)
    with pytest.raises(EvalError):
        parse_labels("x" * (2 << 20), tmp_path)


def test_blink_labels_in_both_formats() -> None:
    assert parse_blinks("# comment\n10,12\n\n30,31\n") == [(10, 12), (30, 31)]
    tag = "#start\n0 : -1 : X\n5 : 1 : X\n6 : 1 : X\n7 : 1 : X\n9 : -1 : X\n20 : 2 : X\n"
    assert parse_blinks(tag) == [(5, 7), (20, 20)]
    for bad in ("10\n", "12,10\n", "a,b\n"):
        with pytest.raises(EvalError):
            parse_blinks(bad)


def test_matching_counts_each_label_once() -> None:
    labels = [(10, 14), (40, 44)]
    assert match_blinks([(12, 15), (13, 16), (43, 45), (90, 91)], labels) == 2
    assert match_blinks([(16, 17)], labels) == 1  # within 2 frames
    assert match_blinks([(20, 21)], labels) == 0
    assert band_of(6.0) == "6-8 fps" and band_of(15) == "9-20 fps" and band_of(30) == "20-30 fps"


def _clip(label: str, kind: str, verdict: str, fps: float, blinks: int, labelled: int,
          matched: int) -> ClipResult:  # fmt: skip
    row = Row(Path("c.mp4"), label, kind, None, None, 0, None, 2)
    res = ClipResult(row, fps, 100, 100, verdict, 0.0, (), [(0, 1)] * blinks,
                     [(0, 1)] * labelled if label == "live" else None)  # fmt: skip
    res.matched = matched
    return res


def test_figures_follow_iso_30107_3(tmp_path: Path) -> None:
    ev = Evaluation(
        [
            _clip("attack", "screen", "presentation-attack", 30, 0, 0, 0),
            _clip("attack", "screen", "live", 30, 0, 0, 0),
            _clip("attack", "photo", "inconclusive", 30, 0, 0, 0),
            _clip("live", "", "live", 30, 10, 10, 9),
            _clip("live", "", "presentation-attack", 7.5, 4, 5, 4),
            _clip("live", "", "inconclusive", 7.5, 0, 0, 0),
        ]
    )
    s = ev.summary()
    assert s["apcer"]["screen"]["apcer"] == 0.5  # type: ignore[index]
    assert s["apcer"]["photo"]["apcer"] == 0.0  # type: ignore[index]
    assert s["apcer"]["photo"]["not_called_attack"] == 1.0  # type: ignore[index]
    assert s["bpcer"]["bpcer"] == pytest.approx(1 / 3)  # type: ignore[index]
    blinks = s["blinks"]
    assert blinks["20-30 fps"]["precision"] == 0.9  # type: ignore[index]
    assert blinks["6-8 fps"]["recall"] == 0.8  # type: ignore[index]
    assert blinks["all"]["matched"] == 13  # type: ignore[index]
    out = tmp_path / "eval.png"
    plot(ev, out)
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_evaluate_reads_blink_labels_within_the_frame_range(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("5,6\n50,52\n300,301\n")
    rows = parse_labels(HEADER + "x.mp4,live,,b.txt,,10,200\n", tmp_path)
    ev = evaluate(rows, lambda r: (30.0, 190, 190, "live", 0.0, (), [(49, 51), (80, 81)]))
    c = ev.clips[0]
    assert c.labelled == [(50, 52)] and c.matched == 1
    rows = parse_labels(HEADER + "x.mp4,live,,missing.txt,,,\n", tmp_path)
    with pytest.raises(EvalError):
        evaluate(rows, lambda r: (30.0, 1, 1, "live", 0.0, (), []))


@pytest.mark.shared("data/video")
def test_eval_command_on_the_clip_and_a_photo_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_photo_replay(tmp_path / "photo.mp4")
    (tmp_path / "blinks.txt").write_text("115,118\n")
    (tmp_path / "labels.csv").write_text(
        HEADER + f"{CLIP},live,,blinks.txt,7.5,82,211\nphoto.mp4,attack,photo,,,,\n"
    )
    assert main(["liveness", "eval", str(tmp_path / "labels.csv"), "--json",
                 "--plot", str(tmp_path / "p.png")]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    live, photo = out["clips"]
    assert live["fps"] == pytest.approx(7.49, 0.01) and live["verdict"] != "presentation-attack"
    assert photo["verdict"] == "presentation-attack" and out["apcer"]["photo"]["apcer"] == 0.0
    assert out["bpcer"]["bpcer"] == 0.0 and "6-8 fps" in out["blinks"]
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert main(["liveness", "eval", str(tmp_path / "nope.csv")]) == 2


def test_blink_labels_parser_fuzz() -> None:
    rng = random.Random(30)
    good = "#c\n10,12\n0 : -1 : X\n5 : 1 : X\n6 : 1 : X\n"
    alphabet = ",:\n-# 0123456789x\x00"
    for _ in range(400):
        s = list(good)
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(len(s))
            s[i] = rng.choice(alphabet)
        try:
            spans = parse_blinks("".join(s))
        except EvalError:
            continue
        assert all(a <= b for a, b in spans)
