"""Build, describe and load a field office's trust store; read a chip dump from disk.

A trust store on disk is a folder `passport trust build` writes:

    csca/<C>_<sha256 prefix>.der   one CSCA (or link) certificate each, DER, de-duplicated
    crl/<sha256 prefix>.crl        CRLs, each verified against a CSCA of the store
    manifest.json                  where each came from, when, and what it holds

`TrustStore.from_paths` loads it (the manifest is informative only), as it loads a loose
certificate, a master list or a folder of them. Building is where the operator's trust
decision is checked: each master list's CMS signature must chain to a CSCA the operator
names (`--master-list-signer`, ICAO 9303-12 section 8), so a list copied from anywhere
cannot smuggle in a CSCA.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import x509

from edge.mrtd.certs import country_of, key_id_of
from edge.mrtd.csca import TrustStore, load_certificates, load_crl, load_master_list
from edge.mrtd.errors import TrustStoreError

FORMAT = "edgeproof-trust-store/1"
MAX_INPUT_BYTES = 64 << 20  # the ICAO master list is about 1 MiB; refuse absurd files early


def _files(path: Path, suffixes: tuple[str, ...] | None = None) -> list[Path]:
    if not path.exists():
        raise TrustStoreError(f"{path} does not exist", code="trust.not-found")
    if path.is_dir():
        found = [
            f
            for f in sorted(path.rglob("*"))
            if f.is_file() and (suffixes is None or f.suffix.lower() in suffixes)
        ]
        if not found:
            raise TrustStoreError(f"{path} holds no usable file", code="trust.empty")
        return found
    return [path]


def read_input(path: Path) -> bytes:
    """The bytes of one input file, bounded, with an OSError turned into a coded error."""
    try:
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise TrustStoreError(f"{path} is implausibly large", code="trust.invalid")
        return path.read_bytes()
    except OSError as exc:
        raise TrustStoreError(
            f"{path} cannot be read: {exc.strerror}", code="trust.unreadable"
        ) from exc


@dataclass
class BuildResult:
    store: TrustStore
    sources: list[dict[str, object]] = field(default_factory=list)


def build(
    master_lists: Sequence[Path],
    master_list_signers: Sequence[Path],
    cscas: Sequence[Path],
    crls: Sequence[Path],
) -> BuildResult:
    """Merge master lists (each verified under a named signer CSCA), loose CSCA files and
    CRLs into one store; raise TrustStoreError with a code on the first bad input."""
    if master_lists and not master_list_signers:
        raise TrustStoreError(
            "a master list is trusted only under a CSCA you name: add --master-list-signer "
            "CERT (e.g. the issuing state's CSCA, or ICAO's United Nations CSCA for the ICAO "
            "list)",
            code="trust.master-list-untrusted",
        )
    signers = [
        cert
        for p in master_list_signers
        for f in _files(p, (".der", ".cer", ".crt", ".pem"))
        for cert in load_certificates(read_input(f), f.name)
    ]
    certs: list[x509.Certificate] = []
    sources: list[dict[str, object]] = []
    for p in master_lists:
        for f in _files(p, (".ml",)):
            data = read_input(f)
            listed = load_master_list(data, signers=signers)
            certs.extend(listed)
            sources.append(_source(f, data, "master-list", certificates=len(listed)))
    for p in cscas:
        for f in _files(p, (".der", ".cer", ".crt", ".pem")):
            data = read_input(f)
            loaded = load_certificates(data, f.name)
            certs.extend(loaded)
            sources.append(_source(f, data, "csca", certificates=len(loaded)))
    store = TrustStore(certs)
    for p in crls:
        for f in _files(p, (".crl", ".der", ".pem")):
            data = read_input(f)
            item = load_crl(data, f.name)
            store.add_crl(item)
            sources.append(
                _source(f, data, "crl", revoked=len(item["tbs_cert_list"]["revoked_certificates"]))
            )
    if not store.cscas:
        raise TrustStoreError("no CSCA certificate given", code="trust.empty")
    return BuildResult(store, sources)


def _source(f: Path, data: bytes, kind: str, **extra: object) -> dict[str, object]:
    return {"file": f.name, "kind": kind, "sha256": hashlib.sha256(data).hexdigest(), **extra}


def write(result: BuildResult, out: Path, *, now: dt.datetime | None = None) -> Path:
    """Write the store to `out` atomically (a sibling temporary folder, then a rename).

    An existing `out` is replaced only if it is a trust store (has our manifest) or empty:
    a mistyped --out must not wipe an unrelated folder.
    """
    now = now or dt.datetime.now(dt.UTC)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        manifest = out / "manifest.json"
        if not manifest.is_file() or _format_of(manifest) != FORMAT:
            raise TrustStoreError(
                f"{out} exists and is not a trust store; choose another --out",
                code="trust.out-exists",
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".trust-", dir=out.parent))
    try:
        (tmp / "csca").mkdir()
        (tmp / "crl").mkdir()
        entries = []
        for c in result.store.cscas:
            der = c.dump()
            digest = hashlib.sha256(der).hexdigest()
            name = f"{country_of(c.subject) or 'XX'}_{digest[:16]}.der"
            (tmp / "csca" / name).write_bytes(der)
            entries.append(_describe(c, name))
        for item in result.store.crls:
            der = item.dump()
            (tmp / "crl" / f"{hashlib.sha256(der).hexdigest()[:16]}.crl").write_bytes(der)
        description = {
            "format": FORMAT,
            "built": now.isoformat(timespec="seconds"),
            "sources": result.sources,
            "cscas": entries,
            "crls": len(result.store.crls),
        }
        (tmp / "manifest.json").write_text(json.dumps(description, indent=1) + "\n")
        if out.exists():
            old = out.with_name(out.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _format_of(manifest: Path) -> str | None:
    try:
        value = json.loads(manifest.read_text()).get("format")
    except (OSError, ValueError, AttributeError):
        return None
    return str(value) if value else None


def _describe(c: x509.Certificate, file: str) -> dict[str, object]:
    validity = c["tbs_certificate"]["validity"]
    return {
        "file": file,
        "country": country_of(c.subject),
        "subject": c.subject.human_friendly,
        "key_id": key_id_of(c).hex(),
        "not_before": validity["not_before"].native.date().isoformat(),
        "not_after": validity["not_after"].native.date().isoformat(),
    }


def describe(store: TrustStore, *, now: dt.datetime | None = None) -> dict[str, object]:
    """What `passport trust show` prints: counts by country, validity, CRLs."""
    now = now or dt.datetime.now(dt.UTC)
    countries = Counter(country_of(c.subject) or "??" for c in store.cscas)
    valid = sum(
        1
        for c in store.cscas
        if c["tbs_certificate"]["validity"]["not_before"].native
        <= now
        <= c["tbs_certificate"]["validity"]["not_after"].native
    )
    revoked = sum(len(i["tbs_cert_list"]["revoked_certificates"]) for i in store.crls)
    return {
        "cscas": len(store.cscas),
        "valid_now": valid,
        "countries": dict(sorted(countries.items())),
        "crls": len(store.crls),
        "revoked_serials": revoked,
    }


def manifest_of(path: Path) -> dict[str, object] | None:
    m = path / "manifest.json"
    if not path.is_dir() or not m.is_file():
        return None
    try:
        value = json.loads(m.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


# -- chip dumps on disk --------------------------------------------------------------------

_EFS = ("EF.COM", "EF.SOD", "EF.CardAccess", "EF.CardSecurity")
DUMP_NAMES = (*_EFS, *(f"DG{n}" for n in range(1, 17)))
MAX_DUMP_FILE = 1 << 20  # READ BINARY addresses 32 KiB (64 KiB with odd INS); 1 MiB is ample


def read_dump(folder: Path) -> dict[str, bytes]:
    """The chip files of a dump folder by canonical name (EF.SOD, DG1, ...).

    Each name may end in `.bin`; names are matched without regard to case. Other files are
    ignored. A file that is too large or unreadable is a TrustStoreError-like coded error.
    """
    canonical = {n.lower(): n for n in DUMP_NAMES}
    found: dict[str, bytes] = {}
    for f in sorted(folder.iterdir()):
        if not f.is_file():
            continue
        key = f.name.lower()
        key = key.removesuffix(".bin")
        name = canonical.get(key)
        if name is None:
            continue
        if name in found:
            raise TrustStoreError(f"{folder} holds {name} twice", code="dump.duplicate-file")
        try:
            if f.stat().st_size > MAX_DUMP_FILE:
                raise TrustStoreError(f"{f.name} is implausibly large", code="dump.file-too-large")
            found[name] = f.read_bytes()
        except OSError as exc:
            raise TrustStoreError(
                f"{f} cannot be read: {exc.strerror}", code="dump.unreadable"
            ) from exc
    return found


def data_groups_of(files: dict[str, bytes]) -> dict[int, bytes]:
    return {int(name[2:]): data for name, data in files.items() if name.startswith("DG")}
