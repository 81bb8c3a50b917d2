"""`edgeproof passport ...`: read a chip, check a dump, keep the trust store.

The test rig's `passport emulate` and `passport make-doc` are not here: they live with the
emulator in rig/mrtd/cli.py (outside the device release) and edgeproof_cli adds them to
this group when the rig is installed.

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
