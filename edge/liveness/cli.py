"""`edgeproof liveness ...`: analyze a recording, show a challenge, run a live check.

    edgeproof liveness analyze VIDEO [--challenge SPEC] [--json] [--start-frame N] [--end-frame N]
    edgeproof liveness challenge --nonce HEX [--steps N]
    edgeproof liveness check --source SOURCE (--nonce HEX | --challenge SPEC)
    edgeproof liveness eval LABELS.csv [--json] [--plot FILE]

Exit codes: 0 done (for `check`: passed), 1 liveness failed or inconclusive, 2 bad input
or no camera. Prompts go to stderr, reports to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from attest.challenge import Gesture

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("liveness", help="liveness detection: analyze, challenge, check")
    sub = p.add_subparsers(dest="liveness_command", metavar="SUBCOMMAND", required=True)

    a = sub.add_parser("analyze", help="report blinks, head turns, smiles and replay checks")
    a.add_argument("video", help="a video file or a folder of frames")
    a.add_argument("--challenge", help="also judge this challenge, e.g. turn_left,blink,smile")
    a.add_argument("--json", action="store_true", help="print the report as JSON")
    a.add_argument("--start-frame", type=int, default=0, help="first frame to analyse")
    a.add_argument("--end-frame", type=int, default=None, help="stop before this frame")
    a.add_argument("--fps", type=float, default=30.0, help="frame rate of a frame folder")
    a.set_defaults(func=_analyze)

    c = sub.add_parser("challenge", help="the challenge a verifier nonce derives")
    c.add_argument("--nonce", required=True, help="the verifier's nonce, hex")
    c.add_argument("--steps", type=int, default=None, help="number of steps (default 3)")
    c.set_defaults(func=_challenge)

    k = sub.add_parser("check", help="run a liveness challenge on a camera or recording")
    k.add_argument(
        "--source", default="v4l2:0", help="v4l2:/dev/video0, picamera2:0 or replay:PATH"
    )
    group = k.add_mutually_exclusive_group(required=True)
    group.add_argument("--nonce", help="derive the challenge from this nonce (hex)")
    group.add_argument("--challenge", help="an explicit challenge spec")
    k.add_argument("--width", type=int, default=None)
    k.add_argument("--height", type=int, default=None)
    k.add_argument("--fps", type=float, default=30.0)
    k.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for a frame")
    k.add_argument("--buffer-frames", type=int, default=8, help="ring buffer size in frames")
    k.add_argument("--json", action="store_true", help="print the result as JSON")
    k.set_defaults(func=_check)

    e = sub.add_parser("eval", help="APCER/BPCER and blink precision/recall on labelled recordings")
    e.add_argument("labels", help="LABELS.csv: clip,label,attack_kind,blinks,fps,...")
    e.add_argument("--json", action="store_true", help="print the figures as JSON")
    e.add_argument("--plot", help="write a plot of the figures to this file (PNG, SVG, PDF)")
    e.set_defaults(func=_eval)


def _error(message: str) -> int:
    print(f"edgeproof liveness: {message}", file=sys.stderr)
    return EXIT_USAGE


def _parse_challenge(args: argparse.Namespace) -> tuple[Gesture, ...] | None:
    """The challenge from `--nonce` (derived, as the verifier does) or `--challenge`."""
    from attest.challenge import DEFAULT_STEPS, derive_challenge, parse_challenge_spec

    if getattr(args, "nonce", None):
        steps = getattr(args, "steps", None) or DEFAULT_STEPS
        return derive_challenge(bytes.fromhex(args.nonce), steps)
    if args.challenge:
        return parse_challenge_spec(args.challenge)
    return None


def _challenge(args: argparse.Namespace) -> int:
    from attest.challenge import challenge_spec
    from edge.liveness.prompts import Prompt

    try:
        challenge = _parse_challenge(args)
    except ValueError as exc:
        return _error(str(exc))
    if challenge is None:
        return _error("give --nonce")
    print(challenge_spec(challenge))
    for i, g in enumerate(challenge, 1):
        print(f"  {Prompt(i, len(challenge), g).text}")
    return EXIT_OK


def _analyze(args: argparse.Namespace) -> int:
    from edge.capture import CaptureConfig, CaptureError, CaptureSession, FileReplaySource
    from edge.face import FaceError
    from edge.liveness.engine import FaceModels, LivenessEngine

    try:
        challenge = _parse_challenge(args)
        source = FileReplaySource(
            args.video,
            CaptureConfig(fps=args.fps),
            start_frame=args.start_frame,
            end_frame=args.end_frame,
        )
    except (ValueError, CaptureError) as exc:
        return _error(str(exc))
    try:
        models = FaceModels.load()
    except FaceError as exc:
        source.close()
        return _error(str(exc))
    engine = LivenessEngine(models, challenge, frame_offset=args.start_frame)
    try:
        with CaptureSession(source) as session:
            for frame in session.frames():
                engine.process(frame)
        report = engine.report()
    except CaptureError as exc:
        return _error(str(exc))
    finally:
        engine.wipe()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(report.to_dict())
    return EXIT_OK


def _print_report(r: dict[str, Any]) -> None:
    print(f"frames: {r['frames']} at {r['fps']} fps; face in {r['frames_with_face']}, "
          f"several faces in {r['frames_multiple_faces']}")  # fmt: skip
    for b in r["blinks"]:
        print(f"blink: frames {b['start_frame']}-{b['end_frame']}")
    for t in r["head_turns"]:
        print(f"head turn {t['direction']}: frame {t['frame']} (yaw {t['yaw_deg']} deg)")
    for s in r["smiles"]:
        print(f"smile: frame {s['frame']}")
    passive = r["passive"]
    print(f"passive verdict: {r['verdict']} ({'; '.join(passive['reasons'])})")
    cues = ", ".join(f"{k} {v['value']} ({v['evidence']})" for k, v in passive["cues"].items())
    print(f"presentation-attack score {passive['pad_score']}: {cues or 'no cue measured'}")
    if "challenge" in r:
        c = r["challenge"]
        print(f"challenge {c['challenge']}: {c['outcome']} [{c['reason']}] {c['message']}")


def _check(args: argparse.Namespace) -> int:
    from edge.capture import CaptureConfig, CaptureError, CaptureSession, open_source
    from edge.face import FaceError
    from edge.liveness.engine import FaceModels, LivenessEngine, run_check
    from edge.liveness.prompts import TextOverlay

    try:
        challenge = _parse_challenge(args)
        config = CaptureConfig(
            width=args.width, height=args.height, fps=args.fps, timeout_s=args.timeout
        )
        source = open_source(args.source, config)
    except (ValueError, CaptureError) as exc:
        return _error(str(exc))
    try:
        models = FaceModels.load()
    except FaceError as exc:
        source.close()
        return _error(str(exc))
    engine = LivenessEngine(models, challenge, overlay=TextOverlay())
    try:
        with CaptureSession(source, buffer_frames=args.buffer_frames) as session:
            result = run_check(session, engine)
    except CaptureError as exc:
        return _error(str(exc))
    erasure = session.report
    if args.json:
        out = {"liveness": result.to_dict(), "erasure": {
            "frames_captured": erasure.frames_captured,
            "frames_erased": erasure.frames_erased,
            "verified_zero": erasure.verified_zero,
            "memory_locked": erasure.memory_locked,
        }}  # fmt: skip
        print(json.dumps(out, indent=2))
    else:
        print(f"liveness {result.outcome.value} [{result.reason.value}]: {result.message}")
        print(f"frames captured {erasure.frames_captured}, erased {erasure.frames_erased}")
    return EXIT_OK if result.passed else EXIT_FAILED


def _eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edge.capture import CaptureError
    from edge.face import FaceError
    from edge.liveness.engine import FaceModels
    from edge.liveness.evaluate import EvalError, evaluate, parse_labels, plot

    path = Path(args.labels)
    try:
        if path.stat().st_size > (1 << 20):
            return _error(f"{path}: labels file over 1 MiB")
        rows = parse_labels(path.read_text(encoding="utf-8"), path.parent)
    except (OSError, UnicodeDecodeError) as exc:
        return _error(f"cannot read {path}: {exc}")
    except EvalError as exc:
        return _error(str(exc))
    try:
        models = FaceModels.load(embed=False)
    except FaceError as exc:
        return _error(str(exc))
    try:
        ev = evaluate(rows, lambda r: analyse_clip(models, r),
                      progress=lambda m: print(m, file=sys.stderr))  # fmt: skip
    except (EvalError, CaptureError) as exc:
        return _error(str(exc))
    if args.plot:
        plot(ev, Path(args.plot))
    if args.json:
        print(json.dumps(ev.to_dict(), indent=2))
    else:
        _print_eval(ev.summary())
    return EXIT_OK


def analyse_clip(
    models: Any, row: Any
) -> tuple[float, int, int, str, float, tuple[str, ...], list[tuple[int, int]]]:
    """One labelled clip through the engine (no challenge): the frame rate it was judged
    at, frames, frames with a face, the passive verdict, its score and reasons, blinks.
    With `row.fps`, only every k-th frame is given to the engine (a slower camera)."""
    from attest.challenge import Gesture
    from edge.capture import CaptureSession, FileReplaySource
    from edge.liveness.engine import LivenessEngine

    source = FileReplaySource(row.clip, start_frame=row.start_frame, end_frame=row.end_frame)
    native = source.format.fps or 30.0
    step = max(1, round(native / row.fps)) if row.fps else 1
    engine = LivenessEngine(models, None, frame_offset=row.start_frame)
    try:
        with CaptureSession(source) as session:
            for frame in session.frames():
                if frame.index % step == 0:
                    engine.process(frame)
        report = engine.report()
    finally:
        engine.wipe()
    blinks = [(e.start_frame, e.end_frame) for e in report.of(Gesture.BLINK)]
    p = report.passive
    return (native / step, report.frames, report.frames_with_face, p.verdict.value, p.score,
            p.reasons, blinks)  # fmt: skip


def _print_eval(s: dict[str, Any]) -> None:
    for kind, a in s["apcer"].items():
        print(f"attack {kind}: {a['presentations']} presentations, APCER {a['apcer']:.3f}, "
              f"inconclusive {a['inconclusive']:.3f}")  # fmt: skip
    b = s["bpcer"]
    if b["presentations"]:
        print(f"bona fide: {b['presentations']} presentations, BPCER {b['bpcer']:.3f}, "
              f"inconclusive {b['inconclusive']:.3f}")  # fmt: skip
    for band, v in s["blinks"].items():
        prec = "-" if v["precision"] is None else f"{v['precision']:.3f}"
        rec = "-" if v["recall"] is None else f"{v['recall']:.3f}"
        print(f"blinks {band}: {v['matched']} of {v['labelled']} labelled found, "
              f"{v['detected']} detected; precision {prec}, recall {rec}")  # fmt: skip
