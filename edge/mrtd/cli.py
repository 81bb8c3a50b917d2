"""`edgeproof passport ...`: read a chip, check a dump, keep the trust store, run the emulator,
make a test document.

`read` prints only the authentication summary: no name, number or photo reaches the
terminal or the disk unless `--show-photo FILE` asks for the photo explicitly. `check`
prints only check names, statuses and reason codes.

Exit codes: `read` 0 authenticated, 2 read but not authenticated, 1 error (unchanged);
`check` 0 authenticated, 1 not authenticated, 2 usage error (as issue 13 specifies);
`trust build|show` 0 done, 2 usage or input error. Ordinary mistakes (a missing file, a
folder that is not a trust store) print one line `error: code: message`, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

EXIT_AUTHENTICATED, EXIT_ERROR, EXIT_NOT_AUTHENTICATED = 0, 1, 2
CHECK_AUTHENTICATED, CHECK_NOT_AUTHENTICATED, CHECK_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("passport", help="read and authenticate a passport chip (ICAO 9303)")
    sub = p.add_subparsers(dest="passport_command", metavar="ACTION", required=True)

    r = sub.add_parser("read", help="read the chip over PC/SC and authenticate the document")
    r.add_argument("--mrz", help="DOCNUMBER,YYMMDD,YYMMDD (document number, birth, expiry)")
    r.add_argument("--can", help="card access number (6 digits) for PACE")
    r.add_argument("--reader", help="reader name, part of it, or index (default: the first)")
    r.add_argument(
        "--trust",
        required=True,
        action="append",
        help="trust store folder, master list, CSCA certificate or folder of them (repeatable)",
    )
    r.add_argument("--show-photo", metavar="FILE", help="write the chip photo to FILE (PNG)")
    r.add_argument("--dg11-12", action="store_true", help="also read DG11 and DG12")
    r.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a card")
    r.set_defaults(func=_read)

    c = sub.add_parser("check", help="passive authentication of a chip dump on disk")
    c.add_argument("dump", metavar="DUMP_DIR", help="folder with EF.SOD, DG1..DG16 (.bin optional)")
    c.add_argument(
        "--trust",
        required=True,
        action="append",
        help="trust store folder, master list, CSCA certificate (DER/PEM) or folder (repeatable)",
    )
    c.add_argument("--at", metavar="YYYY-MM-DD", help="check validity at this date (default: now)")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(func=_check)

    t = sub.add_parser("trust", help="build or show a CSCA trust store")
    tsub = t.add_subparsers(dest="trust_command", metavar="ACTION", required=True)
    b = tsub.add_parser("build", help="merge master lists, CSCA certificates and CRLs")
    b.add_argument("--master-list", action="append", default=[], metavar="F", help="ICAO .ml")
    b.add_argument(
        "--master-list-signer",
        action="append",
        default=[],
        metavar="CERT",
        help="CSCA that must have issued each master list's signer (or the signer itself)",
    )
    b.add_argument("--csca", action="append", default=[], metavar="F", help="certificate/folder")
    b.add_argument("--crl", action="append", default=[], metavar="F", help="CRL (DER or PEM)")
    b.add_argument("--out", required=True, metavar="DIR", help="trust store folder to write")
    b.set_defaults(func=_trust_build)
    sh = tsub.add_parser("show", help="summarise a trust store (or any --trust input)")
    sh.add_argument("path", metavar="PATH", nargs="+")
    sh.add_argument("--json", action="store_true", help="print one JSON object")
    sh.set_defaults(func=_trust_show)

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
        trust = TrustStore.from_paths(args.trust)
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


def _error(exc: Exception) -> None:
    sys.stderr.write(f"error: {exc}\n")


def _check(args: argparse.Namespace) -> int:
    """Passive authentication of a dump (9303-11 section 5.1), for operators and auditors."""
    import datetime as dt
    import json
    from pathlib import Path

    from edge.mrtd.errors import MrtdError
    from edge.mrtd.passive import TrustStore, passive_checks, signed_data_checks
    from edge.mrtd.results import CheckResult
    from edge.mrtd.sod import Sod
    from edge.mrtd.trust import data_groups_of, read_dump

    try:
        now = (
            dt.datetime.combine(dt.date.fromisoformat(args.at), dt.time(12), tzinfo=dt.UTC)
            if args.at
            else dt.datetime.now(dt.UTC)
        )
    except ValueError:
        _error(ValueError(f"--at {args.at!r} is not a date YYYY-MM-DD"))
        return CHECK_USAGE
    folder = Path(args.dump)
    if not folder.is_dir():
        _error(FileNotFoundError(f"{folder} is not a folder"))
        return CHECK_USAGE
    try:
        files = read_dump(folder)
        trust = TrustStore.from_paths(args.trust)
    except MrtdError as exc:
        _error(exc)
        return CHECK_USAGE
    if "EF.SOD" not in files:
        _error(FileNotFoundError(f"{folder} holds no EF.SOD (or EF.SOD.bin)"))
        return CHECK_USAGE
    rows: list[tuple[str, CheckResult]]
    try:
        sod = Sod.parse(files["EF.SOD"])
        report = passive_checks(sod, data_groups_of(files), trust, now)
    except MrtdError as exc:
        rows, authenticated = [("sod-decode", CheckResult.failed(exc))], False
    else:
        rows = [("sod-decode", CheckResult.passed())]
        rows += [(c.name, c.result) for c in report.checks]
        authenticated = report.authenticated
    if "EF.CardSecurity" in files:  # PACE-CAM chips: signed like EF.SOD (9303-11 9.2)
        card = signed_data_checks(files["EF.CardSecurity"], trust, now)
        rows += [(c.name, c.result) for c in card.checks]
        authenticated = authenticated and card.authenticated
    code = next((r.code for _, r in rows if r.status.value == "failed"), None)
    if args.json:
        out = {
            "authenticated": authenticated,
            "code": code,
            "checks": [{"name": n, "status": r.status.value, "code": r.code} for n, r in rows],
        }
        print(json.dumps(out))
    else:
        for name, r in rows:
            message = (r.message or "").removeprefix(f"{r.code}: ")
            detail = f" [{r.code}] {message}" if r.status.value == "failed" else ""
            print(f"{name}: {r.status.value}{detail}")
        print(f"document authenticated: {'yes' if authenticated else 'NO'}")
    return CHECK_AUTHENTICATED if authenticated else CHECK_NOT_AUTHENTICATED


def _trust_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edge.mrtd.errors import MrtdError
    from edge.mrtd.trust import build, describe, write

    if not (args.master_list or args.csca):
        _error(ValueError("give at least one --master-list or --csca"))
        return CHECK_USAGE
    try:
        result = build(
            [Path(p) for p in args.master_list],
            [Path(p) for p in args.master_list_signer],
            [Path(p) for p in args.csca],
            [Path(p) for p in args.crl],
        )
        out = write(result, Path(args.out))
    except MrtdError as exc:
        _error(exc)
        return CHECK_USAGE
    summary = describe(result.store)
    print(
        f"trust store written to {out}: {summary['cscas']} CSCA certificates from "
        f"{len(summary['countries'])} countries, {summary['crls']} CRLs "  # type: ignore[arg-type]
        f"({summary['revoked_serials']} revoked serials)"
    )
    return 0


def _trust_show(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from edge.mrtd.errors import MrtdError
    from edge.mrtd.passive import TrustStore
    from edge.mrtd.trust import describe, manifest_of

    try:
        store = TrustStore.from_paths(args.path)
    except MrtdError as exc:
        _error(exc)
        return CHECK_USAGE
    summary = describe(store)
    manifests = [m for m in (manifest_of(Path(p)) for p in args.path) if m]
    if args.json:
        print(json.dumps({**summary, "built": [m.get("built") for m in manifests]}))
        return 0
    for m in manifests:
        print(f"built {m.get('built')} from:")
        sources = m.get("sources")
        for source in sources if isinstance(sources, list) else []:
            print(f"  {source['kind']}: {source['file']} (sha256 {source['sha256'][:16]})")
    print(
        f"{summary['cscas']} CSCA certificates ({summary['valid_now']} valid now), "
        f"{summary['crls']} CRLs ({summary['revoked_serials']} revoked serials)"
    )
    countries = summary["countries"]
    assert isinstance(countries, dict)
    print("by country: " + ", ".join(f"{c} {n}" for c, n in countries.items()))
    return 0


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
