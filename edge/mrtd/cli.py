"""`edgeproof passport ...`: read a chip, run the emulator, make a test document.

`read` prints only the authentication summary: no name, number or photo reaches the
terminal or the disk unless `--show-photo FILE` asks for the photo explicitly.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

EXIT_AUTHENTICATED, EXIT_ERROR, EXIT_NOT_AUTHENTICATED = 0, 1, 2


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("passport", help="read and authenticate a passport chip (ICAO 9303)")
    sub = p.add_subparsers(dest="passport_command", metavar="ACTION", required=True)

    r = sub.add_parser("read", help="read the chip over PC/SC and authenticate the document")
    r.add_argument("--mrz", help="DOCNUMBER,YYMMDD,YYMMDD (document number, birth, expiry)")
    r.add_argument("--can", help="card access number (6 digits) for PACE")
    r.add_argument("--reader", help="reader name, part of it, or index (default: the first)")
    r.add_argument("--trust", required=True, help="folder of CSCA certificates / master lists")
    r.add_argument("--show-photo", metavar="FILE", help="write the chip photo to FILE (PNG)")
    r.add_argument("--dg11-12", action="store_true", help="also read DG11 and DG12")
    r.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a card")
    r.set_defaults(func=_read)

    e = sub.add_parser("emulate", help="serve a test document to pcscd through vpcd (loopback)")
    e.add_argument("--doc", required=True, help="document folder made by `make-doc`")
    e.add_argument("--port", type=int, default=35963, help="vpcd port of reader 0")
    faults = ["bad_mac", "truncated", "wrong_sw", "removed", "slow"]
    e.add_argument("--fault", choices=[*faults, "tag_lost", "pace_6300", "pace_refused"])
    e.add_argument("--fault-count", type=int, default=1, help="times tag_lost/pace_6300 fire")
    e.add_argument("--pace-only", action="store_true", help="a chip that refuses BAC")
    e.add_argument("--fault-after", type=int, default=3, help="protected reads before the fault")
    e.add_argument("--delay", type=float, default=0.2, help="seconds per response for 'slow'")
    e.add_argument("--short-apdus", action="store_true", help="no extended-length support")
    e.set_defaults(func=_emulate)

    m = sub.add_parser("make-doc", help="generate a signed test passport and its CSCA")
    m.add_argument("--out", required=True, help="folder to write (chip/, trust/, document.json)")
    m.add_argument("--curve", choices=["brainpoolP256r1", "secp256r1"], default="brainpoolP256r1")
    m.add_argument("--image-format", choices=["jpeg2000", "jpeg"], default="jpeg2000")
    m.add_argument("--face-container", choices=["19794-5", "39794-5"], default="19794-5")
    m.add_argument("--no-pace", action="store_true", help="BAC only (no EF.CardAccess)")
    m.add_argument(
        "--pace-suite",
        type=int,
        choices=[1, 2, 3, 4],
        default=2,
        help="1 3DES, 2 AES-128, 3 AES-192, 4 AES-256",
    )
    m.add_argument("--pace-cam", action="store_true", help="PACE-CAM and EF.CardSecurity too")
    m.add_argument("--active-auth", choices=["ecdsa", "rsa", "none"], default="ecdsa")
    m.add_argument("--no-chip-auth", action="store_true")
    for flag in (
        "expired-dsc",
        "untrusted-csca",
        "wrong-dg-hash",
        "mismatched-aa-key",
        "mismatched-ca-key",
    ):
        m.add_argument(f"--{flag}", action="store_true", help="negative test document")
    m.set_defaults(func=_make_doc)


def _read(args: argparse.Namespace) -> int:
    from edge.mrtd.errors import MrtdError
    from edge.mrtd.mrz import MrzKey
    from edge.mrtd.passive import TrustStore
    from edge.mrtd.reader import read_passport
    from edge.mrtd.results import CheckStatus
    from edge.mrtd.transport import PcscTransport

    def progress(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(
            f"\rreading chip [{'#' * filled}{'.' * (width - filled)}] {done}/{total} bytes"
        )
        sys.stderr.flush()

    try:
        mrz = MrzKey.parse(args.mrz) if args.mrz else None
        trust = TrustStore.from_path(args.trust)
        reader = int(args.reader) if args.reader and args.reader.isdigit() else args.reader
        with (
            PcscTransport(reader, timeout=args.timeout) as transport,
            read_passport(
                transport,
                mrz=mrz,
                can=args.can,
                trust=trust,
                progress=progress,
                read_dg11_12=args.dg11_12,
            ) as reading,
        ):
            sys.stderr.write("\n")
            auth = reading.authentication
            print(f"access control: {auth.protocol or auth.access_control}")
            for name, result in auth.rows():
                detail = (
                    f" [{result.code}] {result.message}"
                    if result.status is CheckStatus.FAILED
                    else ""
                )
                print(f"{name}: {result.status.value}{detail}")
            print(f"document authenticated: {'yes' if auth.authenticated else 'NO'}")
            if args.show_photo:
                from PIL import Image

                Image.fromarray(reading.face.to_rgb()).save(args.show_photo, "PNG")
                print(f"photo written to {args.show_photo} (delete it when done)")
            return EXIT_AUTHENTICATED if auth.authenticated else EXIT_NOT_AUTHENTICATED
    except MrtdError as exc:
        sys.stderr.write(f"\nerror: {exc}\n")
        return EXIT_ERROR


def _emulate(args: argparse.Namespace) -> int:
    import signal
    import threading

    from edge.mrtd.sim.card import ChipLimits, EmulatedChip, Fault
    from edge.mrtd.sim.testdoc import TestDocument
    from edge.mrtd.sim.vpcd import VpcdServer

    doc = TestDocument.load(args.doc)
    fault = (
        Fault(args.fault, args.fault_after, args.delay, args.fault_count) if args.fault else None
    )
    limits = ChipLimits(extended_length=not args.short_apdus)
    chip = EmulatedChip(doc, fault=fault, limits=limits, bac=not args.pace_only)
    server = VpcdServer(chip, port=args.port).start()
    print(
        f"emulating {args.doc} for vpcd on 127.0.0.1:{args.port} and :{args.port + 1}; "
        "start pcscd now (see docs/passport.md). Ctrl-C to stop.",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop()
    return 0


def _make_doc(args: argparse.Namespace) -> int:
    from edge.mrtd.sim.testdoc import DocOptions, generate

    options = DocOptions(
        curve=args.curve,
        image_format=args.image_format,
        face_container=args.face_container,
        pace=not args.no_pace,
        pace_suite=args.pace_suite,
        pace_cam=args.pace_cam,
        active_auth=args.active_auth,
        chip_auth=not args.no_chip_auth,
        expired_dsc=args.expired_dsc,
        untrusted_csca=args.untrusted_csca,
        wrong_dg_hash=args.wrong_dg_hash,
        mismatched_aa_key=args.mismatched_aa_key,
        mismatched_ca_key=args.mismatched_ca_key,
    )
    doc = generate(options)
    out = doc.write(args.out)
    key = doc.mrz_key
    print(f"test document written to {out}")
    print(
        f"  --mrz {key.document_number},{key.date_of_birth},{key.date_of_expiry}  --can {doc.can}"
        f"  --trust {out / 'trust'}"
    )
    return 0
