"""The audit's C2SP checks: the log's signed-note checkpoint, its cosignatures, and
consistency with what each witness cosigned.

  * the log's vkey: given (--log-key), or fetched and kept on first use in the state folder
    (a later change fails: `audit.log-key-changed`);
  * /log/checkpoint must verify (c2sp.org/tlog-checkpoint@v1.0.0, signed-note@v1.0.0) and be
    of the same tree as the verifier's signed JSON checkpoint (an RFC 9162 consistency
    proof between the two): a log showing two trees fails with `audit.fork`;
  * each witness given (--witness 'VKEY [URL]') must have cosigned it
    (c2sp.org/tlog-cosignature@v1.0.1); a missing cosignature is a warning (a witness may be
    down), a bad one fails;
  * with a URL, the witness's own latest cosigned checkpoint (tlog-witness "Monitor
    Retrieval Mechanism") must be consistent with the log's tree: a witness holding a
    checkpoint this tree does not extend is proof of a fork (`audit.fork`);
  * the last C2SP checkpoint this auditor saw (state/tlog/checkpoint) must be extended too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from attest import merkle, paths
from attest.errors import ProofError
from attest.note import ALG_COSIGNATURE_V1, NoteError, SignedCheckpoint, Verifier, open_checkpoint
from audit.errors import AuditError
from audit.report import Check

KEYS = paths.KEYSET  # member tlog.log_vkey (verifier/tlog_api.py)
CHECKPOINT = paths.TLOG_CHECKPOINT


@dataclass(frozen=True)
class WitnessArg:
    key: Verifier
    url: str | None

    @classmethod
    def parse(cls, text: str) -> WitnessArg:
        vkey, _, url = text.strip().partition(" ")
        if "+" not in vkey or Path(vkey).is_file():
            vkey = Path(vkey).read_text(encoding="utf-8").strip()
        key = Verifier.from_vkey(vkey)
        if key.alg != ALG_COSIGNATURE_V1:
            raise NoteError(f"witness {key.name}: not a cosignature/v1 vkey (type 0x04)")
        return cls(key, url.strip().rstrip("/") or None)


class TlogSource:
    """GETs of the public C2SP resources (no token needed)."""

    def __init__(self, base: str, timeout: float = 10.0) -> None:
        self.base = base.rstrip("/")
        self.http = httpx.Client(timeout=timeout)

    def get(self, url: str) -> str:
        r = self.http.get(url)
        if r.status_code != 200:
            raise NoteError(f"GET {url}: HTTP {r.status_code}", code="audit.fetch-failed")
        return r.text

    def log_vkey(self) -> str:
        try:
            vkey = json.loads(self.get(self.base + KEYS))["tlog"]["log_vkey"]
        except (ValueError, KeyError, TypeError):
            raise NoteError("the key set names no log vkey (tlog.log_vkey)") from None
        if not isinstance(vkey, str):
            raise NoteError("the key set's tlog.log_vkey is not text")
        return vkey

    def checkpoint(self) -> str:
        return self.get(self.base + CHECKPOINT)

    def witness_checkpoint(self, url: str, origin: str) -> str:
        return self.get(f"{url}/{hashlib.sha256(origin.encode()).hexdigest()}/checkpoint")


def _fork_detail(what: str, size: int, root: bytes, exc: Exception) -> str:
    msg = getattr(exc, "message", str(exc))
    return (
        f"{what} holds size {size} root {root.hex()}, which this log's tree does not extend: {msg}"
    )


def run_tlog_checks(
    add: Callable[[Check], None],
    src: TlogSource,
    state: Path,
    log_key: str | None,
    witnesses: list[WitnessArg],
    cp_size: int,
    cp_root: bytes,
    consistency: Callable[[int, int], list[bytes]],
    cmd: str,
) -> None:
    """Add the C2SP checks to a report. `cp_size`/`cp_root` is the verifier's checkpoint
    already verified by the audit; `consistency(a, b)` fetches a proof from the log. Each
    step stops the rest when it fails: a later check under an untrusted key proves nothing."""
    tdir = state / "tlog"
    tdir.mkdir(parents=True, exist_ok=True)
    fetch = (f"curl -sf {src.base}{CHECKPOINT}", cmd)
    log = _log_key(add, src, tdir / "log.vkey", log_key, fetch)
    if log is None:
        return
    opened = _checkpoint(add, src, log, witnesses, fetch)
    if opened is None:
        return
    text, scp = opened
    last = tdir / "checkpoint"
    views = _views(add, src, log, witnesses, last, scp)
    if _no_fork(add, views, cp_size, cp_root, consistency, cmd):
        last.write_text(text)


def _log_key(
    add: Callable[[Check], None],
    src: TlogSource,
    stored: Path,
    log_key: str | None,
    fetch: tuple[str, ...],
) -> Verifier | None:
    """1. The log's note key (C2SP signed-note), trusted on first use unless given."""
    try:
        served = src.log_vkey()
        vkey = log_key or (stored.read_text().strip() if stored.exists() else served)
        log = Verifier.from_vkey(vkey)
    except NoteError as exc:
        add(
            Check(
                "tlog-key", "Log note key (C2SP signed-note)", "fail", exc.message, fetch, exc.code
            )
        )
        return None
    if not stored.exists():
        stored.write_text(log.vkey + "\n")
    if served != log.vkey:
        add(
            Check(
                "tlog-key",
                "Log note key (C2SP signed-note)",
                "fail",
                f"the verifier publishes {served}, not the trusted {log.vkey}",
                (f"curl -sf {src.base}{KEYS}",),
                "audit.log-key-changed",
            )
        )
        return None
    return log


def _checkpoint(
    add: Callable[[Check], None],
    src: TlogSource,
    log: Verifier,
    witnesses: list[WitnessArg],
    fetch: tuple[str, ...],
) -> tuple[str, SignedCheckpoint] | None:
    """2. The checkpoint note (C2SP tlog-checkpoint) and its cosignatures (tlog-cosignature);
    a missing cosignature only warns: a witness may be down."""
    title = "C2SP checkpoint signed by the log and cosigned by the witnesses"
    try:
        text = src.checkpoint()
        scp = open_checkpoint(text, log, [w.key for w in witnesses])
    except NoteError as exc:
        add(Check("tlog-checkpoint", title, "fail", exc.message, fetch, exc.code))
        return None
    cp = scp.checkpoint
    missing = [w.key.name for w in witnesses if w.key.name not in scp.cosigners]
    detail = f"size {cp.size} signed by {log.name}; cosigned by {sorted(scp.cosigners) or 'none'}"
    if missing:
        add(
            Check(
                "tlog-checkpoint",
                title,
                "warn",
                detail + f"; no cosignature from {missing} (down, or refusing this tree)",
                fetch,
                "audit.not-witnessed",
            )
        )
    else:
        add(Check("tlog-checkpoint", title, "pass", detail, fetch))
    return text, scp


def _views(
    add: Callable[[Check], None],
    src: TlogSource,
    log: Verifier,
    witnesses: list[WitnessArg],
    last: Path,
    scp: SignedCheckpoint,
) -> list[tuple[str, SignedCheckpoint]]:
    """3a. Every view of the tree there is: the note checkpoint, the last one this auditor
    kept, and each witness's latest (a witness that cannot be read is reported, not used)."""
    views: list[tuple[str, SignedCheckpoint]] = [("the log's C2SP checkpoint", scp)]
    if last.exists():
        try:
            views.append(
                ("the checkpoint this auditor kept", open_checkpoint(last.read_text(), log))
            )
        except NoteError as exc:
            add(Check("tlog-state", "Kept C2SP checkpoint", "fail", exc.message, (), exc.code))
    for w in witnesses:
        if w.url is None:
            continue
        try:
            wtext = src.witness_checkpoint(w.url, log.name)
            wcp = open_checkpoint(wtext, log, [w.key])
            if w.key.name not in wcp.cosigners:
                raise NoteError(
                    "its checkpoint lacks its own cosignature", code="audit.witness-bad"
                )
        except NoteError as exc:
            add(
                Check(
                    f"witness-{w.key.name}",
                    f"Witness {w.key.name}'s view",
                    "warn" if exc.code == "audit.fetch-failed" else "fail",
                    exc.message,
                    (f"curl -sf {w.url}/<sha256(origin)>/checkpoint",),
                    exc.code,
                )
            )
            continue
        views.append((f"witness {w.key.name}", wcp))
    return views


def _no_fork(
    add: Callable[[Check], None],
    views: list[tuple[str, SignedCheckpoint]],
    cp_size: int,
    cp_root: bytes,
    consistency: Callable[[int, int], list[bytes]],
    cmd: str,
) -> bool:
    """3b. Every view must be of one tree: each is consistent with the verifier's
    checkpoint (RFC 9162 section 2.1.4.2 consistency proofs), in whichever direction."""
    forks = []
    for what, v in views:
        size, root = v.checkpoint.size, v.checkpoint.root
        try:
            if size <= cp_size:
                merkle.verify_consistency(size, cp_size, consistency(size, cp_size), root, cp_root)
            else:  # fetched after the verifier's checkpoint: the log grew, or it rolled back
                merkle.verify_consistency(cp_size, size, consistency(cp_size, size), cp_root, root)
        except (ProofError, NoteError, AuditError) as exc:
            forks.append(_fork_detail(what, size, root, exc))
    title = "Witnessed checkpoints are consistent with the log (no fork)"
    if forks:
        add(Check("tlog-fork", title, "fail", "; ".join(forks), (cmd,), "audit.fork"))
        return False
    add(
        Check(
            "tlog-fork",
            title,
            "pass",
            f"{len(views)} views ({', '.join(w for w, _ in views)}) extend to size {cp_size}",
            (cmd,),
        )
    )
    return True
