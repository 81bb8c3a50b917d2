"""`edgeproof liveness eval LABELS.csv`: a repeatable evaluation on labelled recordings.

Why here and not in a notebook: the figures in docs/capture-liveness.md must be
reproducible by anyone with the same recordings, and the recordings themselves (public
data) never enter the repository, so the tool that turns a labelled folder into figures
does.

LABELS.csv (UTF-8, a header row, paths relative to the CSV's folder):

    clip,label,attack_kind,blinks,fps,start_frame,end_frame
    talking.avi,live,,talking.tag,,,
    talking.avi,live,,talking.tag,7.5,,
    replay-phone-1.mp4,attack,screen,,,,
    photo-1.mp4,attack,photo,,,0,240

- `label`: `live` (a bona fide presentation) or `attack`; `attack_kind` names the
  presentation attack instrument species (ISO/IEC 30107-3 terms), e.g. `screen`,
  `photo`, `print`; required for attacks.
- `blinks`: optional blink labels for a live clip: either lines `start_frame,end_frame`
  (frames of the clip, `#` comments allowed), or an Eyeblink8/TalkingFace `.tag` file
  (`frame : blink id : ...`, blink id -1 when none).
- `fps`: optional; the clip is decimated to this rate (every k-th frame, k the nearest
  integer ratio) to measure a lower camera rate on the same footage.

Figures (ISO/IEC 30107-3:2017, the PAD subsystem metrics): APCER per attack kind, the
proportion of attack presentations classified as bona fide (here: passive verdict "live");
BPCER, the proportion of bona fide presentations classified as attacks. Because this
system also answers "inconclusive" (and then asks again), both are given with the
inconclusive share, and "not called an attack" for attacks. Blink precision and recall
per frame-rate band: a detected blink matches a labelled one when their frame spans
overlap (with `tolerance` frames either side), each label at most once.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edge.liveness.errors import LivenessError

MAX_CSV_BYTES = 1 << 20
MAX_ROWS = 10_000
MAX_LABEL_BYTES = 4 << 20
MAX_BLINKS = 100_000
LABELS = ("live", "attack")
#: Frame-rate bands the issue and the docs report: 6-8 fps, 14-17 fps, 24-30 fps.
BANDS: tuple[tuple[str, float, float], ...] = (
    ("6-8 fps", 0.0, 9.0),
    ("9-20 fps", 9.0, 20.0),
    ("20-30 fps", 20.0, math.inf),
)


class EvalError(LivenessError, ValueError):
    """A labels file or blink-label file that cannot be read as documented."""

    code = "liveness.bad-labels"


@dataclass(frozen=True)
class Row:
    clip: Path
    label: str
    attack_kind: str
    blinks: Path | None
    fps: float | None
    start_frame: int
    end_frame: int | None
    line: int


def _int(value: str, what: str, line: int, lo: int = 0, hi: int = 10**9) -> int:
    try:
        n = int(value)
    except ValueError:
        raise EvalError(f"line {line}: {what} {value[:20]!r} is not an integer") from None
    if not lo <= n <= hi:
        raise EvalError(f"line {line}: {what} {n} outside {lo}..{hi}")
    return n


def _path(base: Path, value: str, what: str, line: int) -> Path:
    if not value or len(value) > 1024 or "\x00" in value:
        raise EvalError(f"line {line}: {what} is empty, too long or holds a NUL")
    return (base / value).resolve()


def parse_labels(text: str, base: Path) -> list[Row]:
    """Rows of a LABELS.csv (see the module docstring); EvalError on anything else."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CSV_BYTES:
        raise EvalError(f"labels file over {MAX_CSV_BYTES} bytes")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[Row] = []
    try:
        if not reader.fieldnames or not {"clip", "label"} <= set(reader.fieldnames):
            raise EvalError("labels file needs a header with at least 'clip' and 'label'")
        for n, raw in enumerate(reader, start=2):
            if len(rows) >= MAX_ROWS:
                raise EvalError(f"more than {MAX_ROWS} rows")
            if None in raw or any(v is None for v in raw.values()):
                raise EvalError(f"line {n}: wrong number of fields")
            label = raw["label"].strip().lower()
            if label not in LABELS:
                raise EvalError(f"line {n}: label must be live or attack, not {label[:20]!r}")
            kind = (raw.get("attack_kind") or "").strip().lower()
            if label == "attack" and not kind:
                raise EvalError(f"line {n}: an attack needs its attack_kind")
            if label == "live":
                kind = ""
            if len(kind) > 40 or not all(c.isalnum() or c in "-_" for c in kind):
                raise EvalError(f"line {n}: attack_kind must be a short word")
            blinks = (raw.get("blinks") or "").strip()
            fps_s = (raw.get("fps") or "").strip()
            fps = None
            if fps_s:
                try:
                    fps = float(fps_s)
                except ValueError:
                    raise EvalError(f"line {n}: fps {fps_s[:20]!r} is not a number") from None
                if not (math.isfinite(fps) and 1.0 <= fps <= 240.0):
                    raise EvalError(f"line {n}: fps must be within 1..240")
            start = (raw.get("start_frame") or "").strip()
            end = (raw.get("end_frame") or "").strip()
            rows.append(
                Row(
                    clip=_path(base, raw["clip"].strip(), "clip", n),
                    label=label,
                    attack_kind=kind,
                    blinks=_path(base, blinks, "blinks", n) if blinks else None,
                    fps=fps,
                    start_frame=_int(start, "start_frame", n) if start else 0,
                    end_frame=_int(end, "end_frame", n) if end else None,
                    line=n,
                )
            )
    except csv.Error as exc:
        raise EvalError(f"not a CSV file: {exc}") from None
    if not rows:
        raise EvalError("labels file has no rows")
    return rows


def parse_blinks(text: str) -> list[tuple[int, int]]:
    """Blink spans (first, last frame) from either documented format."""
    if len(text) > MAX_LABEL_BYTES:
        raise EvalError(f"blink labels over {MAX_LABEL_BYTES} bytes")
    spans: dict[int, list[int]] = {}
    plain: list[tuple[int, int]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if ":" in line:  # .tag: frame : blink id : ...
            parts = [p.strip() for p in line.split(":")]
            if len(parts) < 2:
                continue
            try:
                frame, blink = int(parts[0]), int(parts[1])
            except ValueError:
                continue  # header lines of .tag files
            if blink >= 0:
                spans.setdefault(blink, []).append(frame)
        else:
            fields = [p.strip() for p in line.split(",")]
            if len(fields) != 2:
                raise EvalError(f"blink labels line {n}: expected start_frame,end_frame")
            a, b = (_int(f, "frame", n) for f in fields)
            if b < a:
                raise EvalError(f"blink labels line {n}: end before start")
            plain.append((a, b))
        if len(plain) + len(spans) > MAX_BLINKS:
            raise EvalError(f"more than {MAX_BLINKS} blinks")
    out = plain + [(min(f), max(f)) for f in spans.values()]
    return sorted(out)


def match_blinks(
    detected: Sequence[tuple[int, int]], labelled: Sequence[tuple[int, int]], tolerance: int = 2
) -> int:
    """True positives: detections overlapping a not yet matched label (greedy by time)."""
    used: set[int] = set()
    tp = 0
    for a, b in sorted(detected):
        for i, (s, e) in enumerate(labelled):
            if i not in used and a <= e + tolerance and b >= s - tolerance:
                used.add(i)
                tp += 1
                break
    return tp


def band_of(fps: float) -> str:
    for name, lo, hi in BANDS:
        if lo <= fps < hi:
            return name
    return BANDS[-1][0]


@dataclass
class ClipResult:
    row: Row
    fps: float
    frames: int
    frames_with_face: int
    verdict: str
    score: float
    reasons: tuple[str, ...]
    blinks: list[tuple[int, int]]
    labelled: list[tuple[int, int]] | None
    matched: int = 0

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "clip": self.row.clip.name,
            "line": self.row.line,
            "label": self.row.label,
            "attack_kind": self.row.attack_kind or None,
            "fps": round(self.fps, 2),
            "frames": self.frames,
            "frames_with_face": self.frames_with_face,
            "verdict": self.verdict,
            "pad_score": round(self.score, 3),
            "reasons": list(self.reasons),
            "blinks_detected": len(self.blinks),
        }
        if self.labelled is not None:
            out["blinks_labelled"] = len(self.labelled)
            out["blinks_matched"] = self.matched
        return out


@dataclass
class Evaluation:
    clips: list[ClipResult] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        attacks: dict[str, dict[str, float]] = {}
        for c in self.clips:
            if c.row.label != "attack":
                continue
            a = attacks.setdefault(c.row.attack_kind, {"n": 0, "live": 0, "inconclusive": 0})
            a["n"] += 1
            a["live"] += c.verdict == "live"
            a["inconclusive"] += c.verdict == "inconclusive"
        apcer = {
            kind: {
                "presentations": int(a["n"]),
                "apcer": a["live"] / a["n"],
                "inconclusive": a["inconclusive"] / a["n"],
                "not_called_attack": (a["live"] + a["inconclusive"]) / a["n"],
            }
            for kind, a in sorted(attacks.items())
        }
        live = [c for c in self.clips if c.row.label == "live"]
        bpcer: dict[str, object] = {
            "presentations": len(live),
            "bpcer": sum(c.verdict == "presentation-attack" for c in live) / len(live)
            if live
            else None,
            "inconclusive": sum(c.verdict == "inconclusive" for c in live) / len(live)
            if live
            else None,
        }
        bands: dict[str, dict[str, float | int | None]] = {}
        for c in self.clips:
            if c.labelled is None:
                continue
            for key in (band_of(c.fps), "all"):
                b = bands.setdefault(key, {"labelled": 0, "detected": 0, "matched": 0})
                b["labelled"] = int(b["labelled"] or 0) + len(c.labelled)
                b["detected"] = int(b["detected"] or 0) + len(c.blinks)
                b["matched"] = int(b["matched"] or 0) + c.matched
        for b in bands.values():
            det, lab, tp = int(b["detected"] or 0), int(b["labelled"] or 0), int(b["matched"] or 0)
            b["precision"] = tp / det if det else None
            b["recall"] = tp / lab if lab else None
        return {"apcer": apcer, "bpcer": bpcer, "blinks": bands}

    def to_dict(self) -> dict[str, object]:
        return {"clips": [c.to_dict() for c in self.clips], **self.summary()}


def evaluate(
    rows: Sequence[Row],
    analyse: Callable[
        [Row], tuple[float, int, int, str, float, tuple[str, ...], list[tuple[int, int]]]
    ],
    progress: Callable[[str], None] | None = None,
) -> Evaluation:
    """Run `analyse` (engine over one clip) on each row and score it against its labels."""
    ev = Evaluation()
    for row in rows:
        labelled = None
        if row.blinks is not None:
            try:
                if row.blinks.stat().st_size > MAX_LABEL_BYTES:
                    raise EvalError(f"line {row.line}: {row.blinks.name} is too large")
                text = row.blinks.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise EvalError(f"line {row.line}: cannot read {row.blinks.name}: {exc}") from None
            labelled = [
                (a, b)
                for a, b in parse_blinks(text)
                if a >= row.start_frame and (row.end_frame is None or b < row.end_frame)
            ]
        fps, frames, with_face, verdict, score, reasons, blinks = analyse(row)
        res = ClipResult(row, fps, frames, with_face, verdict, score, reasons, blinks, labelled)
        if labelled is not None:
            res.matched = match_blinks(blinks, labelled)
        ev.clips.append(res)
        if progress is not None:
            kind = f"/{row.attack_kind}" if row.attack_kind else ""
            progress(f"{row.clip.name} ({row.label}{kind}, {fps:.1f} fps): {verdict}")
    return ev


def plot(ev: Evaluation, path: Path) -> None:
    """APCER per attack kind, BPCER, and blink precision/recall per frame-rate band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = ev.summary()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    apcer = s["apcer"]
    assert isinstance(apcer, dict)
    names = [*apcer, "bona fide"]
    vals = [float(v["apcer"]) for v in apcer.values()]
    bp = s["bpcer"]
    assert isinstance(bp, dict)
    vals.append(float(bp["bpcer"] or 0.0))
    inc = [float(v["inconclusive"]) for v in apcer.values()] + [float(bp["inconclusive"] or 0)]
    x = range(len(names))
    ax1.bar([i - 0.2 for i in x], vals, 0.4, label="APCER (attacks) / BPCER (bona fide)")
    ax1.bar([i + 0.2 for i in x], inc, 0.4, label="inconclusive")
    ax1.set_xticks(list(x), names, rotation=20, ha="right")
    ax1.set_ylim(0, 1)
    ax1.set_title("Presentation attack detection (ISO/IEC 30107-3)")
    ax1.legend(fontsize=8)
    bands = s["blinks"]
    assert isinstance(bands, dict)
    keys = [b for b, _, _ in BANDS if b in bands] + (["all"] if "all" in bands else [])
    xb = range(len(keys))
    ax2.bar([i - 0.2 for i in xb], [bands[k]["precision"] or 0 for k in keys], 0.4,
            label="precision")  # fmt: skip
    ax2.bar([i + 0.2 for i in xb], [bands[k]["recall"] or 0 for k in keys], 0.4, label="recall")
    ax2.axhline(0.9, ls="--", lw=0.8, color="grey")
    ax2.set_xticks(list(xb), keys)
    ax2.set_ylim(0, 1.05)
    ax2.set_title("Blinks per frame-rate band")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
