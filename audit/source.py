"""Where the log comes from: a live verifier over HTTP, or an exported log file.

Both answer the same five questions (key set, checkpoint, entries, consistency and
inclusion proofs); nothing they return is trusted until `audit.checks` has checked it.
A `Source` also says how a person would fetch the same thing again (`fetch_command`),
for the report's "reproduce" lines; the auditor token never appears in them.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx

from attest import merkle, paths
from attest.ear import decode_ear_unverified
from attest.errors import AttestError
from attest.keys import PublicKey, b64url, b64url_decode
from attest.keyset import KeySet
from audit.checks import decode_proof
from audit.errors import FetchError, SourceError

KEYS_PATH = paths.KEYSET
PAGE = 1000  # the verifier's largest `limit` for /v1/log/entries
EXPORT_FORMAT = "edgeproof-log-export/1"
MAX_EXPORT_BYTES = 2 << 30
TOKEN_ENV = "EDGEPROOF_AUDITOR_TOKEN"  # noqa: S105 (a variable name, not a secret)


class Source(Protocol):
    def args(self) -> list[str]:
        """The `edgeproof audit` arguments that select this source (no secrets)."""

    def fetch_command(self, path: str) -> str | None:
        """A shell command that fetches `path` from the same source, if it has one."""

    def inspect_commands(self, index: int) -> tuple[str, ...]:
        """Commands that extract entry `index` and explain it with `edgeproof attest inspect`."""

    def keyset(self) -> tuple[KeySet, dict[str, Any]]: ...

    def checkpoint(self) -> dict[str, Any]: ...

    def entries(self, start: int, limit: int) -> list[tuple[int, bytes]]:
        """Entries with start <= index < start + limit (fewer if some are missing)."""

    def consistency(self, first: int, second: int) -> list[bytes]: ...

    def inclusion(self, index: int, size: int) -> list[bytes]: ...

    def device_evidence(self, ear_data: bytes) -> tuple[bytes, PublicKey | None] | None:
        """The stored evidence behind a result and its device's enrolled key; None when
        this source has no evidence (an export, or a result from before the verifier kept
        evidence)."""
        ...


def _entries(doc: Any) -> list[tuple[int, bytes]]:
    if not isinstance(doc, list):
        raise SourceError("entries must be a list")
    out = []
    for e in doc:
        if not isinstance(e, dict) or not isinstance(e.get("index"), int):
            raise SourceError("each entry is {index, data, ...}")
        try:
            out.append((e["index"], b64url_decode(str(e.get("data")))))
        except AttestError:
            raise SourceError(f"entry {e['index']}: data is not base64url") from None
    return out


def _extract(select: str, out: str) -> str:
    """A python3 one-liner turning an entry's base64url `data` (on stdin) into a file."""
    code = (
        "import base64,json,sys; d=json.load(sys.stdin)" + select + "; "
        "open(sys.argv[1],'wb').write(base64.urlsafe_b64decode(d+'='*(-len(d)%4)))"
    )
    return f"python3 -c {shlex.quote(code)} {out}"


class VerifierSource:
    """GET requests against a verifier's log API (docs/verifier.md), with an auditor token."""

    def __init__(self, base: str, token: str, timeout: float = 30.0) -> None:
        self.base = base.rstrip("/")
        self._http = httpx.Client(
            timeout=timeout, headers={"Authorization": f"Bearer {token}"}, follow_redirects=False
        )
        self._devices: dict[str, PublicKey | None] = {}

    def close(self) -> None:
        self._http.close()

    def args(self) -> list[str]:
        return ["--verifier", self.base, "--token", f'"${TOKEN_ENV}"']

    def fetch_command(self, path: str) -> str:
        auth = f'-H "Authorization: Bearer ${TOKEN_ENV}"' if path != KEYS_PATH else ""
        return " ".join(p for p in ("curl -sf", auth, shlex.quote(self.base + path)) if p)

    def inspect_commands(self, index: int) -> tuple[str, ...]:
        entry = self.fetch_command(paths.log_entries(index, 1))
        out = f"entry-{index}.cwt"
        extract = _extract("['entries'][0]['data']", out)
        return (
            f"{entry} | {extract}",
            f"{self.fetch_command(KEYS_PATH)} > keys.json",
            f"edgeproof attest inspect {out} --key keys.json",
        )

    def _get(self, path: str, params: dict[str, int] | None = None) -> Any:
        try:
            r = self._http.get(self.base + path, params=params)
        except httpx.HTTPError as exc:
            raise FetchError(f"GET {path}: {exc}") from None
        if r.status_code != 200:
            detail = r.text[:300].replace("\n", " ")
            raise FetchError(f"GET {path}: HTTP {r.status_code}: {detail}")
        try:
            return r.json()
        except ValueError:
            raise SourceError(f"GET {path}: not JSON") from None

    def keyset(self) -> tuple[KeySet, dict[str, Any]]:
        doc = self._get(KEYS_PATH)
        return KeySet.from_json(doc), doc

    def checkpoint(self) -> dict[str, Any]:
        doc: dict[str, Any] = self._get(paths.LOG_CHECKPOINT)
        return doc

    def entries(self, start: int, limit: int) -> list[tuple[int, bytes]]:
        doc = self._get(paths.LOG_ENTRIES, {"start": start, "limit": min(limit, PAGE)})
        return _entries(doc.get("entries") if isinstance(doc, dict) else None)

    def consistency(self, first: int, second: int) -> list[bytes]:
        doc = self._get(paths.LOG_CONSISTENCY, {"first": first, "second": second})
        return decode_proof(doc.get("consistency_proof", ()) if isinstance(doc, dict) else ())

    def inclusion(self, index: int, size: int) -> list[bytes]:
        doc = self._get(paths.LOG_INCLUSION, {"index": index, "tree_size": size})
        return decode_proof(doc.get("inclusion_proof", ()) if isinstance(doc, dict) else ())

    def device_evidence(self, ear_data: bytes) -> tuple[bytes, PublicKey | None] | None:
        try:
            ear = decode_ear_unverified(ear_data)
        except AttestError:
            return None
        doc = self._get(paths.attestation(ear.appraisal_id))
        raw = doc.get("evidence") if isinstance(doc, dict) else None
        if not isinstance(raw, str):
            return None
        kid = b64url(ear.device_kid)
        if kid not in self._devices:
            try:
                dev = self._get(paths.device(kid))
                self._devices[kid] = PublicKey.from_cose_key(b64url_decode(dev["cose_key"]))
            except (FetchError, AttestError, KeyError, TypeError):
                self._devices[kid] = None
        try:
            return b64url_decode(raw), self._devices[kid]
        except AttestError:
            return None


class ExportSource:
    """An exported log (`edgeproof audit export`): key set, one checkpoint, all entries.

    Proofs are computed from the exported entries themselves. That is sound, not circular:
    the audit first checks that those entries rebuild the signed checkpoint's root, so a
    proof derived from them is a proof about the signed tree.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            if path.stat().st_size > MAX_EXPORT_BYTES:
                raise SourceError(f"{path}: larger than {MAX_EXPORT_BYTES} bytes")
            doc = json.loads(path.read_bytes())
        except OSError as exc:
            raise SourceError(f"{path}: {exc.strerror}") from None
        except ValueError:
            raise SourceError(f"{path}: not JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
            raise SourceError(f"{path}: not an {EXPORT_FORMAT} file")
        for name in ("keyset", "checkpoint"):
            if not isinstance(doc.get(name), dict):
                raise SourceError(f"{path}: {name} missing")
        self._doc = doc
        self._entries = dict(_entries(doc.get("entries")))
        self._tree: merkle.MerkleTree | None = None

    def args(self) -> list[str]:
        return ["--export", shlex.quote(str(self.path))]

    def device_evidence(self, ear_data: bytes) -> tuple[bytes, PublicKey | None] | None:
        return None  # an export carries the log, not the evidence

    def fetch_command(self, path: str) -> None:
        return None

    def inspect_commands(self, index: int) -> tuple[str, ...]:
        path, out = shlex.quote(str(self.path)), f"entry-{index}.cwt"
        select = f"['entries']; d=[e['data'] for e in d if e['index']=={index}][0]"
        keys = "import json,sys; json.dump(json.load(sys.stdin)['keyset'],open('keys.json','w'))"
        return (
            f"{_extract(select, out)} < {path}",
            f"python3 -c {shlex.quote(keys)} < {path}",
            f"edgeproof attest inspect {out} --key keys.json",
        )

    def keyset(self) -> tuple[KeySet, dict[str, Any]]:
        doc: dict[str, Any] = self._doc["keyset"]
        return KeySet.from_json(doc), doc

    def checkpoint(self) -> dict[str, Any]:
        doc: dict[str, Any] = self._doc["checkpoint"]
        return doc

    def entries(self, start: int, limit: int) -> list[tuple[int, bytes]]:
        return [(i, self._entries[i]) for i in range(start, start + limit) if i in self._entries]

    def _full_tree(self) -> merkle.MerkleTree:
        if self._tree is None:
            tree = merkle.MerkleTree()
            for i in range(len(self._entries)):
                if i not in self._entries:
                    break
                tree.append(self._entries[i])
            self._tree = tree
        return self._tree

    def consistency(self, first: int, second: int) -> list[bytes]:
        try:
            return self._full_tree().consistency_proof(first, second)
        except ValueError as exc:
            raise SourceError(f"the export cannot prove consistency: {exc}") from None

    def inclusion(self, index: int, size: int) -> list[bytes]:
        try:
            return self._full_tree().inclusion_proof(index, size)
        except ValueError as exc:
            raise SourceError(f"the export cannot prove inclusion: {exc}") from None


def iter_pages(source: Source, size: int) -> Iterator[list[tuple[int, bytes]]]:
    """Pages of entries below `size`; each page covers an index range, gaps and all."""
    for start in range(0, size, PAGE):
        yield source.entries(start, min(PAGE, size - start))


def export(source: VerifierSource, out: Path) -> dict[str, Any]:
    """Write key set, current checkpoint and every entry up to it; returns the checkpoint."""
    _, keys = source.keyset()
    cp = source.checkpoint()
    size = cp.get("tree_size")
    if not isinstance(size, int) or size < 0:
        raise SourceError("checkpoint has no tree_size")
    entries = [
        {"index": i, "data": b64url(data)} for page in iter_pages(source, size) for i, data in page
    ]
    doc = {
        "format": EXPORT_FORMAT,
        "source": source.base,
        "keyset": keys,
        "checkpoint": cp,
        "entries": entries,
    }
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(doc, separators=(",", ":")))
    tmp.replace(out)
    return cp
