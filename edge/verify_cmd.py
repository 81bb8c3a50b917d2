"""`edgeproof device verify` and `edgeproof device flush-queue`: one session, and the queue.

verify       run one verification: challenge, chip, camera + liveness, match, wipe, sign,
             submit; every step is shown. When the verifier is unreachable at submission,
             the signed evidence (nothing personal) waits in the offline queue.
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


def _verify(args: argparse.Namespace) -> int:
    from edge.keystore.base import cose_signer
    from edge.keystore.open import open_keystore
    from edge.measure import measure
    from edge.mrtd.mrz import MrzKey
    from edge.mrtd.passive import TrustStore
    from edge.queue import EvidenceQueue
    from edge.session import SessionError, run_session
    from edge.steps import CameraLiveStep, FaceMatchStep, PassportChipStep, device_identity
    from edge.verifier_link import HttpVerifier

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
    from edge.face.match import FaceMatcher
    from edge.liveness.engine import FaceModels
    from edge.mrtd.transport import PcscTransport

    store = open_keystore(args.key or "tpm:/var/lib/edgeproof/keys/device.tpmkey")
    queue = EvidenceQueue(Path(args.queue))
    link = HttpVerifier(args.verifier, args.token, txn_hash=txn)

    def on_unreachable(token: bytes, evidence: Any, challenge: Any) -> None:
        queue.put(token, cti=evidence.cti, deadline=min(evidence.exp, challenge.expires_at))

    reader = int(args.reader) if args.reader and args.reader.isdigit() else args.reader
    try:
        result = run_session(
            verifier=link,
            chip=PassportChipStep(
                lambda: PcscTransport(reader), TrustStore.from_path(args.trust), mrz, args.can
            ),
            live=CameraLiveStep(args.camera, FaceModels.load()),
            matcher=FaceMatchStep(FaceMatcher()),
            signer=cose_signer(store),
            device=device_identity(measure()),
            consent=_consent(args.consent),
            progress=_say,
            on_unreachable=on_unreachable,
        )
    except SessionError as exc:
        _say(exc.step, f"stopped: {exc.code}: {exc.message}")
        return EXIT_FAILED
    if result.submission is None:
        return EXIT_QUEUED
    ok = result.submission.status == "affirming" and result.submission.decision == "match"
    return EXIT_OK if ok else EXIT_FAILED


def _flush(args: argparse.Namespace) -> int:
    from edge.queue import EvidenceQueue
    from edge.verifier_link import flush_queue

    report = flush_queue(EvidenceQueue(Path(args.queue)), args.verifier, now=int(time.time()))
    print(f"sent {report.sent}, dropped {report.expired} expired, {report.remaining} waiting")
    return EXIT_OK if report.remaining == 0 else EXIT_QUEUED
