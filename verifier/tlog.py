"""The log in C2SP formats: the log's note key, witnessed checkpoints, tiles, tlog-proofs.

What each piece follows:
  * checkpoints: c2sp.org/tlog-checkpoint@v1.0.0 notes (c2sp.org/signed-note@v1.0.0), signed
    with the log's own Ed25519 note key (`log-key.pem`, key name = the log origin);
  * witnessing: c2sp.org/tlog-witness@v1.0.0 add-checkpoint; the cosignatures returned are
    c2sp.org/tlog-cosignature@v1.0.1 `cosignature/v1` lines;
  * tiles and entry bundles: c2sp.org/tlog-tiles@v0.1.0;
  * proofs for relying parties: c2sp.org/tlog-proof@v1.

Witnessing is off the appraisal path: one thread per host (`Publisher`, the holder of a
file lock in the instance folder) wakes every `checkpoint_interval_ms`, signs a checkpoint
of the committed tree if it grew, asks every configured witness to cosign it with a
consistency proof from the size that witness last cosigned, and stores the cosigned note
in `<instance>/tlog/checkpoint` (written by rename, so readers see whole files). Every
worker serves that file; appraisals never wait for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from attest import paths
from attest.errors import ProofError
from attest.note import (
    ALG_COSIGNATURE_V1,
    Checkpoint,
    Note,
    NoteError,
    Signer,
    open_checkpoint,
    parse_signature_lines,
    sign_checkpoint,
)
from attest.note import (
    Verifier as NoteVerifier,
)
from attest.tlog import TILE_WIDTH, TLOG_PROOF, TLOG_TILES, AddCheckpoint, TlogProof
from verifier.auditlog import LogView
from verifier.errors import ConfigError

log = logging.getLogger("verifier.tlog")
STATE_DIR = "tlog"
CHECKPOINT_FILE = "checkpoint"


@dataclass(frozen=True)
class WitnessSpec:
    """A configured witness: `"<vkey> <submission URL prefix>"` in the configuration."""

    key: NoteVerifier
    url: str

    @classmethod
    def parse(cls, text: str) -> WitnessSpec:
        vkey, _, url = text.strip().partition(" ")
        try:
            key = NoteVerifier.from_vkey(vkey)
        except NoteError as exc:
            raise ConfigError(f"witness {text!r}: {exc.message}") from None
        if key.alg != ALG_COSIGNATURE_V1:
            raise ConfigError(f"witness {key.name}: its vkey must be a cosignature/v1 key (0x04)")
        url = url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"witness {key.name}: give '<vkey> <http(s) URL prefix>'")
        return cls(key, url)


def load_log_key(path: Path, origin: str) -> Signer:
    """The log's note key; made (0600) if the instance has none yet.

    `verifier init` makes it; an instance initialised before the log had a note key gets
    one at its first start. Written to a temporary file and linked into place, so two
    workers starting at once agree on one key and never read half a file.
    """
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(Signer.generate(origin).private_pem())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()
    try:
        return Signer.from_pem(origin, path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read the log key {path}: {exc.strerror}") from None
    except NoteError as exc:
        raise ConfigError(f"the log key {path}: {exc.message}") from None


class CheckpointStore:
    """The newest cosigned checkpoint note of this host, in the instance folder."""

    def __init__(self, instance: Path) -> None:
        self.dir = instance / STATE_DIR
        self.path = self.dir / CHECKPOINT_FILE

    def read(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write(self, text: str) -> None:
        self.dir.mkdir(mode=0o700, exist_ok=True)
        tmp = self.dir / f".{CHECKPOINT_FILE}.{os.getpid()}"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.path)


class TlogView:
    """Checkpoints, tiles and proofs over one worker's `LogView`."""

    def __init__(
        self,
        log_view: LogView,
        key: Signer,
        witnesses: tuple[WitnessSpec, ...],
        store: CheckpointStore,
    ) -> None:
        self.log = log_view
        self.key = key
        self.witnesses = witnesses
        self.store = store

    def sign(self, size: int) -> Note:
        return sign_checkpoint(Checkpoint(self.key.name, size, self.log.root(size)), self.key)

    def witnessed(self) -> tuple[Checkpoint, str] | None:
        """The stored cosigned checkpoint, if it is one of this tree (never serve a fork)."""
        text = self.store.read()
        if text is None:
            return None
        try:
            scp = open_checkpoint(text, self.key.verifier, [w.key for w in self.witnesses])
        except NoteError:
            log.error("the stored checkpoint %s does not verify; not served", self.store.path)
            return None
        cp = scp.checkpoint
        if cp.size > self.log.size or self.log.root(cp.size) != cp.root:
            log.error("the stored checkpoint (size %d) is not of this tree; not served", cp.size)
            return None
        return cp, text

    def checkpoint(self, size: int) -> str:
        """What /log/checkpoint serves: the cosigned note, or one signed now when no
        cosigned checkpoint exists yet (a log with no witnesses configured)."""
        w = self.witnessed()
        if w is not None and (self.witnesses or w[0].size == size):
            return w[1]
        return self.sign(size).encode()

    def proof(self, index: int, size: int) -> TlogProof:
        """A tlog-proof for entry `index` against the newest checkpoint that covers it: the
        witnessed one when it does, else one the log signs now at `size`."""
        w = self.witnessed()
        if w is not None and w[0].size > index:
            cp_size, text = w[0].size, w[1]
        else:
            cp_size, text = size, self.sign(size).encode()
        _, path, _ = self.log.inclusion(index, cp_size)
        return TlogProof(index, tuple(path), text)

    def tile(self, level: int, n: int, width: int) -> bytes:
        """Tile `n` of tile level `level`, `width` hashes (tlog-tiles, "Merkle Tree")."""
        return b"".join(self.log.complete_subtrees(8 * level, n * TILE_WIDTH, width))

    def document(self) -> dict[str, Any]:
        """The `tlog` member of the key set document (/.well-known/edgeproof/keys.json): where
        the log is and the note vkeys that check it. JWK Set members other than `keys` are
        ignored by JWKS libraries (RFC 7517 section 5), so relying parties see no change."""
        return {
            "origin": self.key.name,
            "log_vkey": self.key.vkey,
            "witnesses": [
                {"name": w.key.name, "vkey": w.key.vkey, "url": w.url} for w in self.witnesses
            ],
            "checkpoint": paths.TLOG_CHECKPOINT,
            "tiles": paths.TLOG_TILES,
            "formats": [
                "c2sp.org/signed-note@v1.0.0",
                "c2sp.org/tlog-checkpoint@v1.0.0",
                "c2sp.org/tlog-cosignature@v1.0.1",
                "c2sp.org/tlog-witness@v1.0.0",
                TLOG_TILES,
                TLOG_PROOF,
            ],
        }


@dataclass
class _Peer:
    spec: WitnessSpec
    size: int | None = None  # the size it last cosigned, as far as we know


class Publisher:
    """The one thread per host that signs checkpoints and asks witnesses to cosign them."""

    def __init__(
        self,
        tlog: TlogView,
        sync: Callable[[], int],
        consistency: Callable[[int, int], list[bytes]],
        interval_s: float,
        lock_path: Path,
        http: httpx.Client | None = None,
    ) -> None:
        self.tlog = tlog
        self.sync = sync
        self.consistency = consistency
        self.interval_s = interval_s
        self.lock_path = lock_path
        self.http = http or httpx.Client(timeout=5.0)
        self.peers = [_Peer(w) for w in tlog.witnesses]
        self.published = -1
        self.complete = False  # every witness cosigned the published size
        self.retry_at = 0.0
        self._lock_file: IO[bytes] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refusals: list[tuple[str, int, str]] = []  # (witness, status, body), last 100

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tlog-publisher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _leader(self) -> bool:
        if self._lock_file is not None:
            return True
        self.lock_path.parent.mkdir(mode=0o700, exist_ok=True)
        f = open(self.lock_path, "ab")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        self._lock_file = f
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                if self._leader():
                    self.tick()
            except Exception:  # the thread must outlive a bad moment (database restart, ...)
                log.exception("checkpoint publishing failed; retrying")

    def tick(self) -> None:
        """Sign the committed tree's checkpoint and collect cosignatures (once per size)."""
        size = self.sync()
        now = time.monotonic()
        # A witness that did not cosign (down, or refusing a fork) is asked again every ten
        # intervals, not every interval: a refusing witness keeps each refusal as evidence.
        if size == self.published and (self.complete or now < self.retry_at):
            return
        note = self.tlog.sign(size)
        text = note.encode()
        sigs = []
        for peer in self.peers:
            got = self._submit(peer, text, size)
            if got:
                sigs += got
        self.tlog.store.write(note.with_signatures(sigs).encode())
        self.published = size
        self.complete = len({s.name for s in sigs}) == len(self.peers)
        self.retry_at = now + 10 * self.interval_s

    def _submit(self, peer: _Peer, text: str, size: int) -> list[Any]:
        """tlog-witness add-checkpoint, with one retry after a 409 told us its size."""
        for _ in range(2):
            old = peer.size if peer.size is not None and peer.size <= size else 0
            try:
                proof = self.consistency(old, size) if old else []
            except (ValueError, ProofError):
                proof = []
            body = AddCheckpoint(old, tuple(proof), text).encode()
            try:
                r = self.http.post(peer.spec.url + paths.WITNESS_ADD_CHECKPOINT, content=body)
            except httpx.HTTPError as exc:
                log.warning("witness %s unreachable: %s", peer.spec.key.name, exc)
                return []
            if r.status_code == 409 and r.headers.get("content-type", "").startswith(
                "text/x.tlog.size"
            ):
                try:
                    peer.size = int(r.text.strip())
                except ValueError:
                    return []
                if peer.size > size:
                    log.error(
                        "witness %s has cosigned size %d, beyond this log's %d: another "
                        "replica is ahead, or this log was rolled back",
                        peer.spec.key.name,
                        peer.size,
                        size,
                    )
                    return []
                continue
            if r.status_code != 200:
                # 422: the witness holds a checkpoint this tree is not consistent with.
                log.error(
                    "witness %s refused size %d: HTTP %d %s",
                    peer.spec.key.name,
                    size,
                    r.status_code,
                    r.text.strip()[:200],
                )
                self.refusals = [*self.refusals[-99:], (peer.spec.key.name, r.status_code, r.text)]
                return []
            try:
                lines = parse_signature_lines(r.text)
                note = Note.parse(text)
                ok = Note(note.text, tuple(lines)).signed_by([peer.spec.key])
            except NoteError as exc:
                log.error("witness %s answered a bad cosignature: %s", peer.spec.key.name, exc)
                return []
            peer.size = size
            return [s for s in lines if s.name in ok]
        return []
