"""The LFW verification protocol (Huang et al., "Labeled Faces in the Wild", 2007, and its
pairs.txt): ten folds of genuine and impostor pairs, each fold's threshold chosen on the
other nine, accuracy reported as mean and spread (a developer tool, `edgeproof face eval
--lfw`).

Apart from edge/face/evaluate.py, which calibrates a threshold on a folder of identities:
this is the published protocol for comparing with other matchers, not a calibration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.face.buffers import wipe
from edge.face.errors import EvaluationError
from edge.face.evaluate import FARS, NO_FACE_SCORE, far_key, tar_at_far


@dataclass(frozen=True)
class PairList:
    """The standard LFW verification pairs (pairs.txt): folds of (image a, image b, same)."""

    folds: list[list[tuple[str, str, bool]]]


def parse_lfw_pairs(text: str) -> PairList:
    """pairs.txt of LFW's "View 2": a header "folds n", then per fold n same-person lines
    `name i j` and n different-person lines `name1 i name2 j`; images are
    `name/name_%04d.jpg`."""
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    if not lines or len(lines[0]) != 2:
        raise EvaluationError("pairs file lacks its 'folds pairs' header", code="face.eval-pairs")
    try:
        folds, per = int(lines[0][0]), int(lines[0][1])
    except ValueError as e:
        raise EvaluationError("pairs header is not two integers", code="face.eval-pairs") from e
    body = lines[1:]
    if folds < 2 or per < 1 or len(body) != folds * 2 * per:
        raise EvaluationError(
            f"pairs file has {len(body)} pair lines, header says {folds} x 2 x {per}",
            code="face.eval-pairs",
        )

    def image(name: str, idx: str) -> str:
        if "/" in name or ".." in name or not idx.isdigit():
            raise EvaluationError(f"bad pair entry {name} {idx}", code="face.eval-pairs")
        return f"{name}/{name}_{int(idx):04d}.jpg"

    out: list[list[tuple[str, str, bool]]] = []
    for f in range(folds):
        fold = []
        for k, parts in enumerate(body[f * 2 * per : (f + 1) * 2 * per]):
            same = k < per
            if same and len(parts) == 3:
                fold.append((image(parts[0], parts[1]), image(parts[0], parts[2]), True))
            elif not same and len(parts) == 4:
                fold.append((image(parts[0], parts[1]), image(parts[2], parts[3]), False))
            else:
                raise EvaluationError(f"bad pair line {' '.join(parts)}", code="face.eval-pairs")
        out.append(fold)
    return PairList(out)


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold with the highest accuracy on these pairs (midpoint between scores)."""
    order = np.sort(np.unique(scores))
    candidates = np.concatenate(
        [[order[0] - 1e-6], (order[:-1] + order[1:]) / 2, [order[-1] + 1e-6]]
    )
    acc = [np.mean((scores >= t) == same) for t in candidates]
    return float(candidates[int(np.argmax(acc))])


@dataclass(frozen=True)
class TenFold:
    """LFW's unrestricted protocol: per fold, the threshold is chosen on the other nine."""

    accuracy_mean: float
    accuracy_std: float
    fold_accuracy: list[float]
    tar_at_far: dict[str, float | None]
    pairs: int
    no_face: int


def ten_fold(scores: list[np.ndarray], same: list[np.ndarray]) -> TenFold:
    """Accuracy mean and standard deviation over the folds, and TAR at FAR over all pairs."""
    accs = []
    for k in range(len(scores)):
        train_s = np.concatenate([s for i, s in enumerate(scores) if i != k])
        train_y = np.concatenate([y for i, y in enumerate(same) if i != k])
        t = best_threshold(train_s, train_y)
        accs.append(float(np.mean((scores[k] >= t) == same[k])))
    all_s, all_y = np.concatenate(scores), np.concatenate(same)
    genuine, impostor = all_s[all_y], all_s[~all_y]
    return TenFold(
        accuracy_mean=float(np.mean(accs)),
        accuracy_std=float(np.std(accs)),
        fold_accuracy=accs,
        tar_at_far={far_key(f): tar_at_far(genuine, impostor, f) for f in FARS},
        pairs=int(all_s.size),
        no_face=int(np.sum(all_s == NO_FACE_SCORE)),
    )


def lfw_scores(
    root: Path,
    pairs: PairList,
    embed: Callable[[Path], np.ndarray | None],
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per fold: cosine scores and same-person flags. `embed` maps an image path to an
    L2-normalised embedding (None: no face, scored NO_FACE_SCORE); each image once."""
    cache: dict[str, np.ndarray | None] = {}

    def get(rel: str) -> np.ndarray | None:
        if rel not in cache:
            cache[rel] = embed(root / rel)
        return cache[rel]

    scores, same = [], []
    for fold in pairs.folds:
        s = np.empty(len(fold))
        for k, (a, b, _) in enumerate(fold):
            ea, eb = get(a), get(b)
            s[k] = NO_FACE_SCORE if ea is None or eb is None else float(np.dot(ea, eb))
        scores.append(s)
        same.append(np.array([y for _, _, y in fold]))
    for v in cache.values():
        if v is not None:
            wipe(v)
    return scores, same
