"""`edgeproof face ...`: evaluate, calibrate, match two photos, check the model files.

Developer and operator tools; the device itself never reads image files. Heavy imports
(numpy, LiteRT, matplotlib) happen inside the handlers so `edgeproof --help` stays fast.
Exit codes: 0 done (for `match`: decision "match"), 1 decision not "match", 2 bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    face = subparsers.add_parser("face", help="on-device face matching: eval, calibrate, match")
    sub = face.add_subparsers(dest="face_command", metavar="ACTION", required=True)

    def subset(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--usable-only",
            action="store_true",
            help="leave out photos the device would not match (two people, failed quality)",
        )
        p.add_argument(
            "--drop-duplicates",
            action="store_true",
            help="leave out byte-identical photos filed under two identities",
        )
        p.add_argument(
            "--same-person",
            action="append",
            default=[],
            metavar="A,B",
            help="identity folders A and B are one person (a labelling error): merge them",
        )

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--model",
            default=None,
            help="embedding model: sface (default), sface_int8, mobilefacenet (opt-in, unlicensed)",
        )
        p.add_argument("--detector", choices=("short", "full"), default="short")
        p.add_argument("--threads", type=int, default=1)

    ev = sub.add_parser("eval", help="ROC, EER and TAR at FAR over a folder of identity folders")
    ev.add_argument("folder", type=Path)
    common(ev)
    subset(ev)
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--plot", type=Path, help="write score distributions and ROC (PNG)")
    ev.add_argument("--max-impostor-pairs", type=int, default=None)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument(
        "--far", type=float, action="append", help="extra FAR to report at (repeatable)"
    )
    ev.set_defaults(func=_eval)

    cal = sub.add_parser("calibrate", help="write a calibration file for a target FAR")
    cal.add_argument("folder", type=Path)
    common(cal)
    subset(cal)
    cal.add_argument("--far", type=float, default=1e-3)
    cal.add_argument("--out", type=Path, help="file to write (default: print)")
    cal.add_argument("--id", dest="threshold_id", help="threshold id (default: model-folder-date)")
    cal.add_argument("--description", help="what the data are (default: the folder name)")
    cal.add_argument("--date", help="creation date YYYY-MM-DD (default: today, UTC)")
    cal.add_argument("--max-impostor-pairs", type=int, default=None)
    cal.add_argument("--seed", type=int, default=0)
    cal.add_argument(
        "--rule",
        choices=("quantile", "bound"),
        default="quantile",
        help="quantile: at most FAR of the impostor pairs accepted; bound: the 95%% upper "
        "bound of the FAR is at most FAR (demonstrated)",
    )
    cal.add_argument("--spread", default="", help="the set's demographic spread, in words")
    cal.add_argument(
        "--no-impostor-accepted",
        action="store_true",
        help="also keep the threshold above the highest impostor score",
    )
    cal.set_defaults(func=_calibrate)

    lfw = sub.add_parser("lfw", help="LFW 10-fold verification accuracy (reporting only)")
    lfw.add_argument("root", type=Path, help="LFW image folder (name/name_0001.jpg)")
    lfw.add_argument("--pairs", type=Path, required=True, help="LFW pairs.txt (View 2)")
    common(lfw)
    lfw.add_argument("--json", action="store_true")
    lfw.set_defaults(func=_lfw)

    m = sub.add_parser("match", help="compare two photos: decision and stage timings")
    m.add_argument("chip", type=Path, help="reference photo (the chip's DG2 image)")
    m.add_argument("live", type=Path, nargs="+", help="one or more live photos")
    common(m)
    m.add_argument("--calibration", type=Path, help="calibration file (default: shipped one)")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=_match)

    models = sub.add_parser("models", help="check every model file against the manifest")
    models.set_defaults(func=_models)


def _fail(err: Exception) -> int:
    print(f"error: {err}", file=sys.stderr)
    return 2


def _model(args: argparse.Namespace) -> str:
    from edge.face.embed import DEFAULT_EMBEDDER

    return str(args.model or DEFAULT_EMBEDDER)


def _embedded(args: argparse.Namespace, extra_fars: tuple[float, ...] = ()) -> Any:
    import numpy as np

    from edge.face.evaluate import FARS, Labelled, duplicate_photos, embed_folder, report
    from edge.face.pipeline import Pipeline

    model = _model(args)
    pipeline = Pipeline(model, detector=args.detector, threads=args.threads)
    if any(not 0.0 < f < 1.0 for f in extra_fars):
        raise ValueError("--far must be in (0, 1)")
    fars = tuple(sorted({*FARS, *extra_fars}, reverse=True))
    full = embed_folder(args.folder, pipeline)
    merge = {}
    for pair in args.same_person:
        first, _, second = pair.partition(",")
        if not first or not second:
            raise ValueError(f"--same-person wants A,B, not {pair!r}")
        merge[second] = first
    full.items = [Labelled(it.path, merge.get(it.identity, it.identity)) for it in full.items]
    drop = set(duplicate_photos(full.items)) if args.drop_duplicates else set()
    if args.usable_only:
        data = full.usable(drop)
    else:
        data = full.select(np.array([str(it.path) not in drop for it in full.items], dtype=bool))
    if data is not full:
        full.wipe()
    try:
        return (pipeline, *report(data, model, args.max_impostor_pairs, args.seed, fars))
    finally:
        data.wipe()


def _eval(args: argparse.Namespace) -> int:
    from edge.face.errors import FaceError
    from edge.face.evaluate import plot

    try:
        _, rep, genuine, impostor = _embedded(args, tuple(args.far or ()))
    except (FaceError, ValueError) as e:
        return _fail(e)
    if args.plot:
        plot(genuine, impostor, args.plot, f"{rep.model} on {args.folder.name}")
    if args.json:
        print(json.dumps(rep.to_dict()))
        return 0
    print(f"model {rep.model}: {rep.images} images, {rep.identities} identities")
    print(
        f"pairs: {rep.pairs_genuine} genuine, {rep.pairs_impostor} impostor "
        f"(FAR resolution {rep.far_resolution:.2g})"
    )
    print(f"EER {rep.eer:.4f}")
    for key, tar in rep.tar_at_far.items():
        shown = "n/a (too few impostor pairs)" if tar is None else f"{tar:.4f}"
        print(f"TAR at FAR {key}: {shown}; threshold {rep.threshold_at_far[key]:.4f}")
    print(f"no face: {len(rep.no_face)} {rep.no_face}; unreadable: {len(rep.unreadable)}")
    stages = ", ".join(f"{k} {v:.2f}" for k, v in rep.ms_per_stage.items())
    print(f"ms per image {rep.ms_per_image:.2f} ({stages})")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from edge.face.errors import FaceError
    from edge.face.evaluate import calibrate

    if not 0.0 < args.far < 1.0:
        return _fail(ValueError("--far must be in (0, 1)"))
    try:
        pipeline, rep, genuine, impostor = _embedded(args)
        created = args.date or dt.datetime.now(dt.UTC).date().isoformat()
        folder = args.folder.resolve().name.lower().replace("_", "-")
        cal = calibrate(
            rep,
            impostor,
            far=args.far,
            model_sha256=pipeline.embedder.sha256,
            threshold_id=args.threshold_id or f"{rep.model}-{folder}-{created}",
            description=args.description or f"folder {args.folder.resolve().name}",
            created=created,
            rule=args.rule,
            no_impostor_accepted=args.no_impostor_accepted,
            genuine=genuine,
            spread=args.spread,
        )
    except (FaceError, ValueError) as e:
        return _fail(e)
    if args.out:
        args.out.write_text(cal.to_json(), encoding="utf-8")
        print(f"wrote {args.out}: threshold {cal.threshold} ({cal.threshold_id})")
    else:
        sys.stdout.write(cal.to_json())
    if not cal.sufficient_data:
        print(f"warning: {cal.limits}", file=sys.stderr)
    return 0


def _lfw(args: argparse.Namespace) -> int:
    import numpy as np

    from edge.face.buffers import wipe
    from edge.face.errors import FaceError
    from edge.face.imaging import read_image
    from edge.face.lfw import lfw_scores, parse_lfw_pairs, ten_fold
    from edge.face.pipeline import Pipeline, StageClock, wipe_sample

    clock = StageClock()
    images = [0]

    def embed(path: Path) -> np.ndarray | None:
        rgb = read_image(path)
        images[0] += 1
        try:
            sample = pipeline.analyse(rgb, clock)
        finally:
            wipe(rgb)
        if sample is None:
            return None
        try:
            emb = pipeline.embed([sample], clock)
            return np.array(emb[0])
        finally:
            wipe(emb)
            wipe_sample(sample)

    try:
        pairs = parse_lfw_pairs(args.pairs.read_text(encoding="utf-8"))
        pipeline = Pipeline(_model(args), detector=args.detector, threads=args.threads)
        result = ten_fold(*lfw_scores(args.root, pairs, embed))
    except (FaceError, ValueError, OSError) as e:
        return _fail(e)
    ms = clock.total() / max(images[0], 1)
    out = {"model": _model(args), **result.__dict__, "images": images[0], "ms_per_image": ms}
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"{out['model']}: 10-fold accuracy {100 * result.accuracy_mean:.2f} "
            f"+- {100 * result.accuracy_std:.2f} %, TAR at FAR {result.tar_at_far}, "
            f"{result.pairs} pairs, {result.no_face} without a face, {ms:.1f} ms per image"
        )
    return 0


def _match(args: argparse.Namespace) -> int:
    from edge.face.buffers import wipe
    from edge.face.calibration import Decision, load
    from edge.face.errors import FaceError
    from edge.face.imaging import read_image
    from edge.face.match import FaceMatcher

    images = []
    try:
        cal = load(args.calibration) if args.calibration else None
        matcher = FaceMatcher(_model(args), cal, detector=args.detector, threads=args.threads)
        images = [read_image(p) for p in (args.chip, *args.live)]
        result = matcher.match(images[0], images[1:])
    except (FaceError, ValueError) as e:
        return _fail(e)
    finally:
        for img in images:
            wipe(img)
    t = result.timings
    if args.json:
        out = {
            "decision": result.decision.value,
            "threshold_id": result.threshold_id,
            "far": result.far,
            "score_band": result.score_band.value,
            "reason": result.reason,
            "frames_used": result.frames_used,
            "timings_ms": {k: round(v, 3) for k, v in t.__dict__.items()},
        }
        print(json.dumps(out))
    else:
        print(
            f"decision: {result.decision.value} (band {result.score_band.value}, threshold "
            f"{result.threshold_id}, FAR {result.far:g})"
            + (f", reason {result.reason}" if result.reason else "")
        )
        print(
            f"timings ms: detect {t.detect_ms:.1f}, landmarks {t.landmarks_ms:.1f}, "
            f"align {t.align_ms:.1f}, quality {t.quality_ms:.1f}, embed {t.embed_ms:.1f}, "
            f"compare {t.compare_ms:.2f}, scrub {t.scrub_ms:.1f}, total {t.total_ms:.1f}"
        )
    return 0 if result.decision is Decision.MATCH else 1


def _models(args: argparse.Namespace) -> int:
    from edge.face.errors import FaceError
    from edge.face.models import manifest, model_dir, verified_path

    bad = 0
    for name, info in manifest().items():
        try:
            verified_path(name)
            print(f"OK  {name:28s} {info.sha256}  {info.licence.split(';')[0]}")
        except FaceError as e:
            bad += 1
            print(f"BAD {name:28s} {e}")
    print(f"folder {model_dir()}")
    return 1 if bad else 0
