"""`edgeproof device verify|run|flush-queue`: sessions, the device service, the queue.

verify       run one verification: challenge, chip, camera + liveness, match, wipe, sign,
             submit; every step is shown. When the verifier is unreachable at submission,
             the signed evidence (nothing personal) waits in the offline queue.
run          the device service (systemd unit): an operator console on the terminal that
             runs one session per passport, flushing the queue in between.
flush-queue  send queued evidence; entries whose nonce expired are dropped and counted.

Exit codes: 0 the verifier affirmed a match (verify) or the queue was drained (flush);
1 a session step failed, or the result is not an affirmed match; 2 bad arguments;
3 the evidence was queued (verifier unreachable).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_QUEUED = 0, 1, 2, 3
DEFAULT_QUEUE = "/var/lib/edgeproof/queue"


def add_parsers(g: Any) -> None:
    v = g.add_parser(
        "verify", help="run one verification session", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    v.add_argument("--verifier", required=True, metavar="URL", help="verifier base URL")
    v.add_argument(
        "--token",
        default=os.environ.get("EDGEPROOF_RP_TOKEN"),
        help="the office's relying-party token (or $EDGEPROOF_RP_TOKEN)",
    )
    v.add_argument("--key", default=os.environ.get("EDGEPROOF_KEY"), help="key spec (see enroll)")
    v.add_argument("--tcti", default=os.environ.get("EDGEPROOF_TCTI"), help="TPM connection")
    v.add_argument("--mrz", metavar="DOC,YYMMDD,YYMMDD", help="document number, birth, expiry")
    v.add_argument("--can", help="card access number (PACE)")
    v.add_argument("--reader", help="PC/SC reader name or index (default: first with a card)")
    v.add_argument("--trust", required=True, metavar="DIR", help="CSCA certificates / master list")
    v.add_argument(
        "--camera", default="v4l2:0", help="capture spec: v4l2:0, picamera2:0, replay:PATH"
    )
    v.add_argument("--txn", metavar="HEX", help="relying party's transaction hash (SHA-256, hex)")
    v.add_argument("--queue", default=os.environ.get("EDGEPROOF_QUEUE", DEFAULT_QUEUE))
    v.add_argument(
        "--consent",
        choices=("ask", "given"),
        default="ask",
        help="ask the operator to confirm the person's consent (default), or 'given' when "
        "the operator has already confirmed it",
    )
    v.set_defaults(func=_verify)

    r = g.add_parser(
        "run", help="the device service: an operator console that runs session after session"
    )
    r.add_argument("--config", default="/etc/edgeproof/site.toml", help="site configuration")
    r.set_defaults(func=_run)

    f = g.add_parser("flush-queue", help="send evidence queued while the verifier was down")
    f.add_argument("--verifier", required=True, metavar="URL")
    f.add_argument("--queue", default=os.environ.get("EDGEPROOF_QUEUE", DEFAULT_QUEUE))
    f.set_defaults(func=_flush)


def _say(step: str, message: str) -> None:
    print(f"[{step}] {message}", flush=True)


def _consent(mode: str) -> Any:
    from attest.evidence import ConsentMethod

    if mode == "given":
        return ConsentMethod.OPERATOR_CONFIRMED
    if not sys.stdin.isatty():
        print(
            "consent: no terminal to ask on; pass --consent given once confirmed", file=sys.stderr
        )
        return None
    answer = input("Has the person consented to a biometric check? [y/N] ").strip().lower()
    return ConsentMethod.OPERATOR_CONFIRMED if answer in ("y", "yes") else None


@dataclass
class Device:
    """Everything a session needs that outlives one session: key, models, measurement.

    Built once per process (`device run` keeps it across sessions: loading the models and
    measuring the installation cost seconds, a session should not).
    """

    verifier_url: str
    token: str
    key_spec: str
    tcti: str | None
    trust_dir: str
    camera: str
    reader: str | int | None
    queue_dir: str

    def __post_init__(self) -> None:
        from edge.face.match import FaceMatcher
        from edge.keystore.base import cose_signer
        from edge.keystore.open import open_keystore
        from edge.liveness.engine import FaceModels
        from edge.measure import measure
        from edge.mrtd.passive import TrustStore
        from edge.queue import EvidenceQueue
        from edge.steps import device_identity

        tcti = {"tcti": self.tcti} if self.tcti else {}
        self.signer = cose_signer(open_keystore(self.key_spec, **tcti))
        self.identity = device_identity(measure())
        self.trust = TrustStore.from_path(self.trust_dir)
        self.models = FaceModels.load()
        self.matcher = FaceMatcher()
        self.queue = EvidenceQueue(Path(self.queue_dir))

    def verify(self, mrz: Any, can: str | None, consent: Any, txn: bytes | None = None) -> int:
        """One session; the exit code of `device verify`."""
        from edge.liveness.prompts import TextOverlay
        from edge.mrtd.transport import PcscTransport
        from edge.session import SessionError, run_session
        from edge.steps import CameraLiveStep, FaceMatchStep, PassportChipStep
        from edge.verifier_link import HttpVerifier

        link = HttpVerifier(self.verifier_url, self.token, txn_hash=txn)

        def on_unreachable(token: bytes, evidence: Any, challenge: Any) -> None:
            deadline = min(evidence.exp, challenge.expires_at)
            self.queue.put(token, cti=evidence.cti, deadline=deadline)

        try:
            result = run_session(
                verifier=link,
                chip=PassportChipStep(lambda: PcscTransport(self.reader), self.trust, mrz, can),
                live=CameraLiveStep(self.camera, self.models, overlay=TextOverlay(sys.stdout)),
                matcher=FaceMatchStep(self.matcher),
                signer=self.signer,
                device=self.identity,
                consent=consent,
                progress=_say,
                on_unreachable=on_unreachable,
            )
        except SessionError as exc:
            _say(exc.step, f"stopped: {exc.code}: {exc.message}")
            return EXIT_FAILED
        finally:
            link.close()
        if result.submission is None:
            return EXIT_QUEUED
        ok = result.submission.status == "affirming" and result.submission.decision == "match"
        return EXIT_OK if ok else EXIT_FAILED


def _reader(spec: str | None) -> str | int | None:
    return int(spec) if spec and spec.isdigit() else spec


def _verify(args: argparse.Namespace) -> int:
    from edge.keystore.open import DEFAULT_SPEC
    from edge.mrtd.mrz import MrzKey

    if not args.token:
        print(
            "verify: give the relying-party token (--token or $EDGEPROOF_RP_TOKEN)", file=sys.stderr
        )
        return EXIT_USAGE
    if not (args.mrz or args.can):
        print("verify: give --mrz DOC,YYMMDD,YYMMDD or --can N to open the chip", file=sys.stderr)
        return EXIT_USAGE
    try:
        mrz = MrzKey(*args.mrz.split(",")) if args.mrz else None
        txn = bytes.fromhex(args.txn) if args.txn else None
    except (TypeError, ValueError) as exc:
        print(f"verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    device = Device(
        args.verifier, args.token, args.key or DEFAULT_SPEC, args.tcti, args.trust, args.camera,
        _reader(args.reader), args.queue,
    )  # fmt: skip
    return device.verify(mrz, args.can, _consent(args.consent), txn)


SITE_KEYS = {"verifier_url", "reader", "camera", "trust", "token_file"}


def load_site_config(path: Path) -> dict[str, str]:
    """The measured defaults (firmware/image/edgeproof.toml) with the site's [site] values.

    The site file may set only [site] keys: everything else is part of the measured release.
    """
    import tomllib

    defaults_file = Path(__file__).resolve().parent.parent / "firmware" / "image" / "edgeproof.toml"
    defaults = tomllib.loads(defaults_file.read_text())
    try:
        site = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if set(site) - {"site"} or set(site.get("site", {})) - SITE_KEYS:
        extra = sorted(set(site) - {"site"}) + sorted(set(site.get("site", {})) - SITE_KEYS)
        raise ValueError(f"{path} may set only [site] {sorted(SITE_KEYS)}; unknown: {extra}")
    out = {**defaults["site"], **site.get("site", {})}
    out["key"] = os.environ.get("EDGEPROOF_KEY") or defaults["keys"]["store"]
    out["tcti"] = os.environ.get("EDGEPROOF_TCTI") or defaults["keys"]["tcti"]
    out["queue"] = os.environ.get("EDGEPROOF_QUEUE") or defaults["queue"]["dir"]
    if not out.get("verifier_url"):
        raise ValueError(f"{path} must set [site] verifier_url")
    return {k: str(v) for k, v in out.items()}


def _run(args: argparse.Namespace) -> int:
    """Operator console on the device's terminal: one session per passport, queue flushed
    between sessions. Ends on an empty line or end of input."""
    from edge.mrtd.mrz import MrzKey
    from edge.verifier_link import flush_queue

    try:
        cfg = load_site_config(Path(args.config))
        token = Path(cfg["token_file"]).read_text().strip()
    except (OSError, ValueError) as exc:
        print(f"run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    device = Device(
        cfg["verifier_url"], token, cfg["key"], cfg["tcti"], cfg["trust"], cfg["camera"],
        _reader(cfg["reader"] or None), cfg["queue"],
    )  # fmt: skip
    print(f"edgeproof device ready; verifier {cfg['verifier_url']}", flush=True)
    while True:
        report = flush_queue(device.queue, cfg["verifier_url"], now=int(time.time()))
        if report.sent or report.expired or report.remaining:
            _say("queue", f"sent {report.sent}, dropped {report.expired} expired, "
                 f"{report.remaining} waiting")  # fmt: skip
        try:
            line = input("\nMRZ key (DOC,YYMMDD,YYMMDD) or CAN, empty line to stop: ").strip()
        except EOFError:
            return EXIT_OK
        if not line:
            return EXIT_OK
        try:
            mrz = MrzKey(*line.split(",")) if "," in line else None
        except (TypeError, ValueError) as exc:
            print(f"not an MRZ key: {exc}", flush=True)
            continue
        device.verify(mrz, None if mrz else line, _consent("ask"))


def _flush(args: argparse.Namespace) -> int:
    from edge.queue import EvidenceQueue
    from edge.verifier_link import flush_queue

    report = flush_queue(EvidenceQueue(Path(args.queue)), args.verifier, now=int(time.time()))
    print(f"sent {report.sent}, dropped {report.expired} expired, {report.remaining} waiting")
    return EXIT_OK if report.remaining == 0 else EXIT_QUEUED
