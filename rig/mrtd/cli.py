"""`edgeproof passport emulate` and `edgeproof passport make-doc`: the passport test rig on
the command line.

Why they are added to the device's `passport` group rather than a group of their own: users
and docs know them by these names (docs/passport.md). They live here, with the emulator,
because the device release must not carry the emulator (rig/__init__.py); edgeproof_cli's
passport_cmd.py registers the reader's commands (edge/mrtd/cli.py) and then `add_commands`
to the same group, when the rig is installed.
"""

from __future__ import annotations

import argparse
import contextlib
from typing import Any


def add_commands(passport: argparse.ArgumentParser) -> None:
    """Add `emulate` and `make-doc` to the `passport` parser's actions."""
    sub: Any = next(a for a in passport._actions if isinstance(a, argparse._SubParsersAction))
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
        "revoked-dsc",
    ):
        m.add_argument(f"--{flag}", action="store_true", help="negative test document")
    for flag in (
        "sod-rsa-encryption",
        "sid-issuer-reordered",
        "econtent-id-data",
        "dg15-negative-modulus",
        "crl",
    ):
        m.add_argument(f"--{flag}", action="store_true", help="as some real issuers do")
    m.add_argument("--issuing-state", default="UTO", help="DG1 issuing state (MRZ code)")
    m.add_argument("--country", default="UT", help="C= of the CSCA and DSC")
    m.set_defaults(func=_make_doc)


def _emulate(args: argparse.Namespace) -> int:
    import signal
    import threading

    from rig.mrtd.card import ChipLimits, EmulatedChip, Fault
    from rig.mrtd.testdoc import TestDocument
    from rig.mrtd.vpcd import VpcdServer

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
    from rig.mrtd.testdoc import DocOptions, generate

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
        revoked_dsc=args.revoked_dsc,
        sod_rsa_encryption=args.sod_rsa_encryption,
        sid_issuer_reordered=args.sid_issuer_reordered,
        econtent_id_data=args.econtent_id_data,
        dg15_negative_modulus=args.dg15_negative_modulus,
        crl=args.crl,
        issuing_state=args.issuing_state,
        country=args.country,
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
