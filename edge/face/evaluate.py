"""Evaluation and calibration over a folder of identity folders (a developer tool).

Why: the threshold that turns a cosine score into "match" must come from measured genuine
and impostor score distributions, with the uncertainty of a small sample stated plainly.
Every image counts: an image where no face is found (or that cannot be decoded) keeps its
pairs, scored as a certain non-match, so a weak detector cannot flatter the figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.face.buffers import wipe
from edge.face.calibration import SCHEMA, Calibration, CalibrationData, parse
from edge.face.errors import EvaluationError, ImageError
from edge.face.imaging import read_image
from edge.face.pipeline import STAGES, FaceSample, Pipeline, StageClock, wipe_sample

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".jp2", ".j2k", ".tif", ".tiff"}
NO_FACE_SCORE = -1.0  # the lowest cosine: a pair with a missing face is never a match
FARS = (1e-2, 1e-3)
_CHUNK = 32


def far_key(far: float) -> str:
    """1e-3 -> "1e-3", the JSON key form."""
    mantissa, exponent = f"{far:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


@dataclass(frozen=True)
class Labelled:
    path: Path
    identity: str


def list_images(folder: Path) -> list[Labelled]:
    """Images in identity sub-folders, in a stable order; other files are ignored."""
    if not folder.is_dir():
        raise EvaluationError(f"{folder} is not a folder", code="face.eval-no-folder")
    items = [
        Labelled(p, d.name)
        for d in sorted(folder.iterdir())
        if d.is_dir()
        for p in sorted(d.iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    ]
    identities = {i.identity for i in items}
    counts = [sum(1 for i in items if i.identity == ident) for ident in identities]
    if len(identities) < 2 or max(counts, default=0) < 2:
        raise EvaluationError(
            f"{folder} needs at least two identity folders and one with two photos",
            code="face.eval-too-few",
        )
    return items


@dataclass
class Embedded:
    """Embeddings of a folder (rows of images without a face are zero) and what happened."""

    items: list[Labelled]
    embeddings: np.ndarray
    found: np.ndarray  # bool per image
    no_face: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    clock: StageClock = field(default_factory=StageClock)
    excluded: dict[str, str] = field(default_factory=dict)  # image -> why (see `usable`)
    unusable: np.ndarray | None = None  # bool per image: the device would not match it

    def wipe(self) -> None:
        wipe(self.embeddings)

    def usable(self, drop: set[str] | None = None) -> Embedded:
        """Only the images the device itself would match: one person in the photo and
        every quality check passed (edge.face.match never decides on the others, it says
        "inconclusive"); images without a face stay in (their pairs are non-matches).
        Paths in `drop` go too."""
        keep = np.ones(len(self.items), dtype=bool)
        if self.unusable is not None:
            keep &= ~self.unusable
        if drop:
            keep &= np.array([str(it.path) not in drop for it in self.items], dtype=bool)
        return self.select(keep)

    def select(self, keep: np.ndarray) -> Embedded:
        """The images where `keep` is true (the others' rows are not copied)."""
        return Embedded(
            [it for it, k in zip(self.items, keep, strict=True) if k],
            self.embeddings[keep],
            self.found[keep],
            self.no_face,
            self.unreadable,
            self.clock,
            self.excluded,
            None,
        )


def duplicate_photos(items: list[Labelled]) -> dict[str, str]:
    """Byte-identical files filed under two or more identities: a labelling error (or a
    group photo), so every copy is left out; path -> reason."""
    import hashlib

    seen: dict[str, list[Labelled]] = {}
    for it in items:
        seen.setdefault(hashlib.sha256(it.path.read_bytes()).hexdigest(), []).append(it)
    out: dict[str, str] = {}
    for group in seen.values():
        if len({g.identity for g in group}) > 1:
            for g in group:
                out[str(g.path)] = "duplicate-across-identities"
    return out


def embed_folder(
    folder: Path, pipeline: Pipeline, progress: Callable[[int, int], None] | None = None
) -> Embedded:
    """Analyse and embed every image of the folder (decode time is not counted)."""
    items = list_images(folder)
    out = Embedded(
        items,
        np.zeros((len(items), pipeline.embedder.dim), np.float32),
        np.zeros(len(items), dtype=bool),
    )
    unusable = np.zeros(len(items), dtype=bool)
    out.unusable = unusable
    for start in range(0, len(items), _CHUNK):
        samples: list[tuple[int, FaceSample]] = []
        try:
            for idx in range(start, min(start + _CHUNK, len(items))):
                rel = str(items[idx].path.relative_to(folder))
                try:
                    rgb = read_image(items[idx].path)
                except ImageError:
                    out.unreadable.append(rel)
                    continue
                try:
                    sample = pipeline.analyse(rgb, out.clock)
                finally:
                    wipe(rgb)
                if sample is None:
                    out.no_face.append(rel)
                else:
                    samples.append((idx, sample))
                    if sample.persons > 1 or not sample.quality.ok:
                        unusable[idx] = True
                        out.excluded[rel] = (
                            "live.multiple-faces"
                            if sample.persons > 1
                            else ",".join(sample.quality.failures)
                        )
            if samples:
                emb = pipeline.embed([s for _, s in samples], out.clock)
                for row, (idx, _) in enumerate(samples):
                    out.embeddings[idx] = emb[row]
                    out.found[idx] = True
                wipe(emb)
        finally:
            for _, s in samples:
                wipe_sample(s)
        if progress:
            progress(min(start + _CHUNK, len(items)), len(items))
    return out


def _genuine_pairs(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first, second = [], []
    for ident in np.unique(ids):
        members = np.flatnonzero(ids == ident)
        a, b = np.triu_indices(members.size, k=1)
        first.append(members[a])
        second.append(members[b])
    return np.concatenate(first), np.concatenate(second)


def _impostor_pairs(ids: np.ndarray, limit: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All different-identity pairs, or `limit` of them drawn uniformly without replacement
    (seeded) without ever listing all of them: a large folder has billions."""
    n = ids.size
    _, counts = np.unique(ids, return_counts=True)
    total = (n * n - int(np.sum(counts.astype(np.int64) ** 2))) // 2
    if limit is None or limit >= total:
        first, second = np.triu_indices(n, k=1)
        keep = ids[first] != ids[second]
        return first[keep], second[keep]
    rng = np.random.default_rng(seed)
    chosen: dict[int, None] = {}  # insertion-ordered set of i * n + j
    while len(chosen) < limit:
        draw = rng.integers(0, n, size=(2 * (limit - len(chosen)) + 16, 2))
        i, j = draw.min(axis=1), draw.max(axis=1)
        ok = (i != j) & (ids[i] != ids[j])
        for key in (i[ok] * n + j[ok]).tolist():
            chosen.setdefault(key)
            if len(chosen) == limit:
                break
    keys = np.fromiter(chosen, dtype=np.int64, count=limit)
    return keys // n, keys % n


def pair_scores(
    data: Embedded, max_impostor_pairs: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) cosine scores; impostor pairs sampled (seeded) above the limit."""
    ids = np.array([i.identity for i in data.items])
    gen_i, gen_j = _genuine_pairs(ids)
    imp_i, imp_j = _impostor_pairs(ids, max_impostor_pairs, seed)

    def score(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        s: np.ndarray = np.einsum("nd,nd->n", data.embeddings[i], data.embeddings[j])
        s = s.astype(np.float64)
        s[~(data.found[i] & data.found[j])] = NO_FACE_SCORE
        return s

    return score(gen_i, gen_j), score(imp_i, imp_j)


def roc(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, FAR, TAR) for accepting score >= threshold, thresholds ascending."""
    thresholds = np.unique(np.concatenate([genuine, impostor]))
    g, i = np.sort(genuine), np.sort(impostor)
    tar = 1.0 - np.searchsorted(g, thresholds, side="left") / max(g.size, 1)
    far = 1.0 - np.searchsorted(i, thresholds, side="left") / max(i.size, 1)
    return thresholds, far, tar


def equal_error_rate(genuine: np.ndarray, impostor: np.ndarray) -> float:
    _, far, tar = roc(genuine, impostor)
    frr = 1.0 - tar
    k = int(np.argmin(np.abs(far - frr)))
    return float((far[k] + frr[k]) / 2.0)


def threshold_at_far(impostor: np.ndarray, far: float) -> float:
    """Lowest threshold whose false-accept rate on these impostor pairs is <= far."""
    desc = np.sort(impostor)[::-1]
    allowed = math.floor(far * desc.size + 1e-9)
    if allowed >= desc.size:
        return float(desc[-1])
    return float(np.nextafter(desc[allowed], np.inf))


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> float | None:
    """TAR at the threshold for `far`, or None when the impostor pairs are too few to
    measure that rate (fewer than 1/far pairs)."""
    if impostor.size < 1.0 / far:
        return None
    t = threshold_at_far(impostor, far)
    return float(np.mean(genuine >= t))


def far_upper_bound(false_accepts: int, trials: int, confidence: float = 0.95) -> float:
    """Clopper-Pearson upper bound of a rate from `false_accepts` in `trials` (by bisection).
    With none observed it is about 3/trials at 95% (the "rule of three")."""
    if trials <= 0:
        return 1.0
    if false_accepts >= trials:
        return 1.0
    alpha = 1.0 - confidence

    def cdf(p: float) -> float:
        total = 0.0
        for i in range(false_accepts + 1):
            log_pmf = (
                math.lgamma(trials + 1)
                - math.lgamma(i + 1)
                - math.lgamma(trials - i + 1)
                + i * math.log(p)
                + (trials - i) * math.log1p(-p)
            )
            total += math.exp(log_pmf)
        return total

    lo, hi = 0.0, 1.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if mid <= 0.0 or cdf(mid) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


@dataclass(frozen=True)
class Report:
    """The figures `edgeproof face eval --json` prints."""

    model: str
    identities: int
    images: int
    pairs_genuine: int
    pairs_impostor: int
    eer: float
    tar_at_far: dict[str, float | None]
    threshold_at_far: dict[str, float]
    far_resolution: float
    no_face: list[str]
    unreadable: list[str]
    ms_per_image: float
    ms_per_stage: dict[str, float]
    max_impostor: float
    min_genuine: float

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def report(
    data: Embedded,
    model: str,
    max_impostor_pairs: int | None = None,
    seed: int = 0,
    fars: tuple[float, ...] = FARS,
) -> tuple[Report, np.ndarray, np.ndarray]:
    """The figures for one folder; `fars` are the false-accept rates to report at."""
    genuine, impostor = pair_scores(data, max_impostor_pairs, seed)
    if genuine.size == 0 or impostor.size == 0:
        raise EvaluationError("no genuine or no impostor pairs", code="face.eval-too-few")
    n = len(data.items)
    stage_ms = {s: round(data.clock.ms.get(s, 0.0) / n, 3) for s in STAGES}
    rep = Report(
        model=model,
        identities=len({i.identity for i in data.items}),
        images=n,
        pairs_genuine=int(genuine.size),
        pairs_impostor=int(impostor.size),
        eer=round(equal_error_rate(genuine, impostor), 6),
        tar_at_far={far_key(f): tar_at_far(genuine, impostor, f) for f in fars},
        threshold_at_far={far_key(f): round(threshold_at_far(impostor, f), 6) for f in fars},
        far_resolution=1.0 / impostor.size,
        no_face=data.no_face,
        unreadable=data.unreadable,
        ms_per_image=round(sum(stage_ms.values()), 3),
        ms_per_stage=stage_ms,
        max_impostor=round(float(impostor.max()), 6),
        min_genuine=round(float(genuine.min()), 6),
    )
    return rep, genuine, impostor


# Added to the highest impostor score when the data cannot demonstrate the target FAR.
SAFETY_MARGIN = 0.10
GREY_MARGIN = 0.05


def threshold_for_bound(impostor: np.ndarray, far: float, confidence: float = 0.95) -> float:
    """Lowest threshold at which the Clopper-Pearson upper bound of the FAR, from the
    impostor pairs it accepts, is still <= `far`; +inf when even none accepted is too many
    (fewer than about 3/far pairs). Accepting is score >= threshold."""
    n = int(impostor.size)
    if far_upper_bound(0, n, confidence) > far:
        return math.inf
    desc = np.sort(impostor)[::-1]
    # The bound grows with k: find the largest k accepted with bound <= far (k < 2 far n + 50).
    lo, hi = 0, min(n, int(2 * far * n) + 50)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if far_upper_bound(mid, n, confidence) <= far:
            lo = mid
        else:
            hi = mid - 1
    if lo >= n:
        return float(desc[-1])
    return float(np.nextafter(desc[lo], np.inf))


def _round_up(value: float, places: int = 4) -> float:
    """Round a threshold up, never down: rounding must not admit an impostor pair."""
    scale = 10.0**places
    return math.ceil(value * scale - 1e-9) / scale


def calibrate(
    rep: Report,
    impostor: np.ndarray,
    *,
    far: float,
    model_sha256: str,
    threshold_id: str,
    description: str,
    created: str,
    rule: str = "quantile",
    no_impostor_accepted: bool = False,
    genuine: np.ndarray | None = None,
    spread: str = "",
) -> Calibration:
    """A calibration for `far`, conservative when the data are too few to show that rate.

    Rules: "quantile" takes the lowest threshold that accepts at most `far` of the impostor
    pairs; "bound" the lowest at which the 95% (Clopper-Pearson) upper bound of the FAR is
    at most `far`, i.e. the rate is demonstrated, not only estimated. With
    `no_impostor_accepted` the threshold is also above the highest impostor score.
    With n impostor pairs and none accepted, a 95% upper bound on the FAR is about 3/n; when
    that exceeds the target, the empirical threshold proves nothing, so the threshold is
    raised to the highest impostor score plus SAFETY_MARGIN, and the file says so.
    """
    threshold, sufficient = _threshold(rep, impostor, far, rule, no_impostor_accepted)
    accepted = int(np.sum(impostor >= threshold))
    upper = far_upper_bound(accepted, int(impostor.size))
    method, limits = _method_and_limits(
        rep, impostor, far, rule, no_impostor_accepted, sufficient, accepted, upper
    )
    raw = {
        "schema": SCHEMA,
        "threshold_id": threshold_id,
        "model": rep.model,
        "model_sha256": model_sha256,
        "far": far,
        "far_upper_95": round(upper, 6),
        "sufficient_data": bool(sufficient),
        "threshold": threshold,
        "grey_margin": GREY_MARGIN,
        "method": method,
        "limits": limits,
        "created": created,
        "data": CalibrationData(
            description=description,
            identities=rep.identities,
            images=rep.images,
            no_face=len(rep.no_face) + len(rep.unreadable),
            pairs_genuine=rep.pairs_genuine,
            pairs_impostor=rep.pairs_impostor,
            max_impostor=rep.max_impostor,
            min_genuine=rep.min_genuine,
            eer=rep.eer,
            tar=None if genuine is None else round(float(np.mean(genuine >= threshold)), 6),
            spread=spread,
        ).__dict__,
    }
    return parse(raw)


def _threshold(
    rep: Report, impostor: np.ndarray, far: float, rule: str, no_impostor_accepted: bool
) -> tuple[float, bool]:
    """The threshold by `rule`, and whether the data suffice to show `far` (see
    `calibrate`); when they do not, it is raised to the highest impostor score plus
    SAFETY_MARGIN."""
    if rule not in ("quantile", "bound"):
        raise EvaluationError(f"unknown calibration rule {rule!r}", code="face.eval-rule")
    sufficient = impostor.size >= 3.0 / far
    if rule == "bound":
        empirical = threshold_for_bound(impostor, far)
        sufficient = math.isfinite(empirical)
        if not sufficient:
            empirical = threshold_at_far(impostor, far)
    else:
        empirical = threshold_at_far(impostor, far)
    if no_impostor_accepted:
        empirical = max(empirical, float(np.nextafter(rep.max_impostor, np.inf)))
    threshold = empirical if sufficient else max(empirical, rep.max_impostor + SAFETY_MARGIN)
    return min(_round_up(threshold), 0.99), bool(sufficient)


def _method_and_limits(
    rep: Report,
    impostor: np.ndarray,
    far: float,
    rule: str,
    no_impostor_accepted: bool,
    sufficient: bool,
    accepted: int,
    upper: float,
) -> tuple[str, str]:
    """How the threshold was set and what it does not show, in the words the calibration
    file carries: a reader of the file must see a threshold the data cannot back."""
    if sufficient:
        how = (
            f"lowest threshold whose 95% Clopper-Pearson upper bound of the FAR on "
            f"{impostor.size} impostor pairs is <= {far:g}"
            if rule == "bound"
            else f"lowest threshold with at most {far:g} of {impostor.size} impostor pairs "
            "accepted (empirical quantile)"
        )
        extra = (
            f", raised above the highest impostor score ({rep.max_impostor:.4f})"
            if no_impostor_accepted
            else ""
        )
        method = (
            f"{how}{extra}; {accepted} impostor pairs accepted at the threshold, 95% upper "
            f"bound of the FAR {upper:.2g}"
        )
        limits = (
            "set on the data described; a different population, camera or document "
            "photo quality can shift the score distributions: re-calibrate"
        )
    else:
        method = (
            f"data too few to show FAR {far:g} ({impostor.size} impostor pairs; "
            f"needs >= {math.ceil(3.0 / far)} for a 95% bound): threshold = highest "
            f"impostor score {rep.max_impostor:.4f} + safety margin {SAFETY_MARGIN}"
        )
        limits = (
            f"NOT a demonstrated FAR of {far:g}: on {impostor.size} impostor pairs the "
            f"95% upper bound of the FAR at this threshold is {upper:.2g}. The "
            "threshold is a conservative judgement; re-calibrate on a large, "
            "representative set (thousands of identities) before production use"
        )
    return method, limits


def plot(genuine: np.ndarray, impostor: np.ndarray, path: Path, title: str) -> None:
    """Score histograms and the ROC curve (matplotlib, headless)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, far, tar = roc(genuine, impostor)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    bins = np.linspace(-1.0, 1.0, 81)
    left.hist(impostor, bins=bins, alpha=0.6, density=True, label=f"impostor ({impostor.size})")
    left.hist(genuine, bins=bins, alpha=0.6, density=True, label=f"genuine ({genuine.size})")
    left.set_xlabel("cosine similarity")
    left.set_ylabel("density")
    left.legend()
    left.set_title(title)
    floor = 1.0 / max(impostor.size, 1)
    right.step(np.clip(far, floor / 2, 1.0), tar, where="post")
    right.set_xscale("log")
    right.set_xlabel("false accept rate")
    right.set_ylabel("true accept rate")
    right.set_title("ROC")
    right.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def quantization_crops(folder: Path, pipeline: Pipeline, flip: bool = True) -> np.ndarray:
    """Aligned 112x112 crops of every face in `folder` (identity folders), as the embedder
    sees them, for int8 post-training quantization: (n, 112, 112, 3) float32 in 0..255.

    Why here: the quantizer must see the activations of real aligned faces, made by the
    very pipeline the device runs. `flip` adds each crop mirrored (a face seen from the
    other side is still a face) to double a small set. A developer tool on public data
    only (firmware/models/reproduce.py calls it); never run on a person's images.
    """
    crops: list[np.ndarray] = []
    for item in list_images(folder):
        try:
            rgb = read_image(item.path)
        except ImageError:
            continue
        try:
            sample = pipeline.analyse(rgb)
        finally:
            wipe(rgb)
        if sample is None:
            continue
        crops.append(sample.aligned.astype(np.float32))
        if flip:
            crops.append(sample.aligned[:, ::-1].astype(np.float32))
        wipe_sample(sample)
    if not crops:
        raise EvaluationError(f"no face found in {folder}", code="face.eval-too-few")
    return np.stack(crops)


# --- The LFW protocol (reporting only: never tune or calibrate on LFW) -------------------
