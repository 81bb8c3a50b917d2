"""The verifier's operations: the glue between HTTP, the pure appraisal and the database.

Each operation is one short transaction. `submit` is the one that matters: appraisal runs
outside any transaction (it is pure: a signature check and the policy), then ONE write
transaction (verifier.committer, which groups concurrent acceptances) consumes the nonce
with a conditional UPDATE, stores the appraisal and appends it to the log under the log
head's lock. Only after COMMIT does the client hear "accepted", so an acknowledged result
is always in the log, and two replicas can never both consume one nonce.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import DatabaseError, IntegrityError

from attest import ear as earmod
from attest.challenge import challenge_spec, parse_challenge_spec
from attest.commitment import TXN_SALT_BYTES, transaction_nonce
from attest.errors import AttestError
from attest.evidence import LivenessMethod
from attest.keys import PublicKey, SigningKey, b64url, public_key_from_pem
from attest.keyset import KeySet
from attest.manifest import ReleaseManifest, verify_manifest
from attest.note import open_checkpoint
from verifier import appraisal as ap
from verifier.auditlog import Checkpoint, LogView
from verifier.committer import Committer, Pending
from verifier.config import RESULT_PROFILES, Config
from verifier.errors import ConfigError, NotFoundError, RequestError, VerifierError
from verifier.hotpath import HotPath
from verifier.policy import Policy, policy_named
from verifier.storage import (
    ApiToken,
    Appraisal,
    Device,
    Nonce,
    ReferenceManifest,
    make_engine,
    session_factories,
)
from verifier.tlog import CheckpointStore, Publisher, TlogView, WitnessSpec, load_log_key

log = logging.getLogger("verifier")
ROLES = ("admin", "auditor", "relying-party")
NONCE_BYTES = 16
POOL_SIZE = 20  # the appraisal's connections per worker: see Verifier.__init__
MAX_OVERLAP_S = 30 * 24 * 3600


def hash_token(token: str) -> bytes:
    """Tokens carry 256 random bits, so a plain SHA-256 is a safe stored form."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def new_token() -> str:
    return "ep_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Caller:
    token_id: int
    role: str


def _read_key(path: Path) -> PublicKey:
    pem = path.read_bytes()
    if b"PRIVATE KEY" in pem:
        return SigningKey.from_private_pem(pem).public
    return public_key_from_pem(pem)


class Verifier:
    """Everything one worker process holds: engine, keys, policy, its copy of the log."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.policy: Policy = policy_named(config.policy, config.clock_skew_s)
        assert config.result_key is not None
        try:
            self.result_key = SigningKey.from_private_pem(config.result_key.read_bytes())
            retiring = [_read_key(p) for p in config.retiring_result_keys]
            self.release_keys = {k.kid: k for k in map(_read_key, config.release_keys)}
        except OSError as exc:
            raise ConfigError(f"cannot read key file {exc.filename}: {exc.strerror}") from None
        except AttestError as exc:
            raise ConfigError(f"unusable key file: {exc}") from None
        self.keyset = KeySet.of([self.result_key.public], retiring)
        # A pooled connection per request thread (serve runs 16 per worker) plus the
        # committer's: when the pool is smaller, connections beyond it are closed on return
        # and opened again on the next request (on PostgreSQL a new server process each).
        sqlite = config.backend == "sqlite"
        self.engine = make_engine(config.database_url, pool_size=POOL_SIZE if sqlite else 5)
        self.reader, self.writer = session_factories(self.engine)
        # Hot-path reads need no transaction: autocommit saves BEGIN/ROLLBACK per request
        # (each statement still reads committed data only). On PostgreSQL that takes a pool
        # of its own, so a driver connection never changes mode between uses.
        self.hot_reads = HotPath(
            self.engine
            if sqlite
            else make_engine(config.database_url, pool_size=POOL_SIZE, autocommit=True)
        )
        self.log = LogView()
        lock_file = None
        if sqlite:
            lock_file = Path(config.database_url.removeprefix("sqlite:///") + ".writelock")
        # SQLite: one engine, so one set of statements for reads and writes.
        writes = self.hot_reads if sqlite else HotPath(self.engine)
        self.committer = Committer(writes, self.log, lock_file)
        self._refs: dict[bytes, frozenset[bytes]] = {}
        self._refs_lock = threading.Lock()
        # The log in C2SP formats (verifier/tlog.py): note key, witnesses, checkpoints.
        assert config.log_key is not None
        self.tlog = TlogView(
            self.log,
            load_log_key(config.log_key, config.log_origin),
            tuple(WitnessSpec.parse(w) for w in config.witnesses),
            CheckpointStore(config.instance_path),
        )
        self.publisher: Publisher | None = None

    def now(self) -> int:
        return int(self.clock())

    # -- tokens --------------------------------------------------------------------------

    def authenticate(self, token: str) -> Caller | None:
        h = hash_token(token)
        with self.reader() as s:
            row = s.execute(
                select(ApiToken).where(ApiToken.token_hash == h, ApiToken.revoked_at.is_(None))
            ).scalar_one_or_none()
        # The index lookup finds the row; the constant-time compare is the actual check.
        if row is None or not hmac.compare_digest(row.token_hash, h):
            return None
        return Caller(row.id, row.role)

    def create_token(self, role: str, label: str) -> tuple[int, str]:
        if role not in ROLES:
            raise RequestError(f"role must be one of {ROLES}")
        token = new_token()
        with self.writer() as s, s.begin():
            row = ApiToken(
                token_hash=hash_token(token), role=role, label=label, created_at=self.now()
            )
            s.add(row)
            s.flush()
            return row.id, token

    def revoke_token(self, token_id: int) -> None:
        with self.writer() as s, s.begin():
            r = s.execute(
                update(ApiToken)
                .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=self.now())
            )
            if r.rowcount != 1:
                raise NotFoundError(f"no active token {token_id}")

    # -- challenges ----------------------------------------------------------------------

    def issue_challenge(
        self, caller: Caller, txn_hash: bytes | None, commitment: bytes | None
    ) -> dict[str, Any]:
        # A named transaction goes into the nonce, not to the device (attest.commitment).
        salt: bytes | None = None
        if txn_hash is None:
            nonce = secrets.token_bytes(NONCE_BYTES)
        else:
            salt = secrets.token_bytes(TXN_SALT_BYTES)
            nonce = transaction_nonce(salt, txn_hash)
        now = self.now()
        challenge = self.policy.challenge_for(nonce)
        row = Nonce(
            nonce=nonce,
            issued_at=now,
            expires_at=now + self.config.nonce_ttl_s,
            owner_token_id=caller.token_id,
            txn_hash=txn_hash,
            txn_salt=salt,
            commitment=commitment,
            liveness_method=int(self.policy.liveness_method),
            challenge=challenge_spec(challenge),
        )
        with self.writer() as s, s.begin():
            s.add(row)
        return {
            "nonce": b64url(nonce),
            "issued_at": now,
            "expires_at": row.expires_at,
            "policy_id": self.policy.id,
            "liveness": {
                "method": _METHOD_NAMES[self.policy.liveness_method],
                "challenge": [g.value for g in challenge],
            },
            "document_commitment": b64url(commitment) if commitment else None,
        }

    def purge_nonces(self, grace_s: int = 3600) -> int:
        """Delete challenges that expired unused more than `grace_s` ago; returns how many.

        Consumed nonces stay: the appraisal keeps its own copy, and keeping them makes a
        late replay answer `nonce.replayed` rather than `nonce.unknown`.
        """
        with self.writer() as s, s.begin():
            r = s.execute(
                delete(Nonce).where(
                    Nonce.consumed_at.is_(None), Nonce.expires_at < self.now() - grace_s
                ),
                execution_options={"synchronize_session": False},
            )
            return int(r.rowcount)

    # -- devices -------------------------------------------------------------------------

    def enrol(
        self, device_id: str, key: PublicKey, hardware_model: str | None = None
    ) -> dict[str, Any]:
        row = Device(
            kid=key.kid,
            device_id=device_id,
            hardware_model=hardware_model,
            alg=key.alg,
            cose_key=key.cose_key_bytes(),
            enrolled_at=self.now(),
        )
        try:
            with self.writer() as s, s.begin():
                s.add(row)
        except IntegrityError:
            raise VerifierError("this key is already enrolled", code="request.conflict") from None
        return _device_json(row)

    def device(self, kid: bytes) -> dict[str, Any]:
        with self.reader() as s:
            row = s.get(Device, kid)
        if row is None:
            raise NotFoundError("no such device key")
        return _device_json(row)

    def revoke_device(self, kid: bytes) -> dict[str, Any]:
        now = self.now()
        with self.writer() as s, s.begin():
            row = s.get(Device, kid)
            if row is None:
                raise NotFoundError("no such device key")
            if row.revoked_at is None:
                row.revoked_at = now
            return _device_json(row)

    def rotate_device(self, kid: bytes, new_key: PublicKey, overlap_s: int) -> dict[str, Any]:
        if not 0 <= overlap_s <= MAX_OVERLAP_S:
            raise RequestError(f"overlap_s must be 0..{MAX_OVERLAP_S}")
        now = self.now()
        try:
            with self.writer() as s, s.begin():
                old = s.get(Device, kid)
                if old is None:
                    raise NotFoundError("no such device key")
                if old.revoked_at is not None or old.replaced_by is not None:
                    raise VerifierError(
                        "only an active, unrotated key can be rotated", code="request.conflict"
                    )
                new = Device(
                    kid=new_key.kid,
                    device_id=old.device_id,
                    hardware_model=old.hardware_model,
                    alg=new_key.alg,
                    cose_key=new_key.cose_key_bytes(),
                    enrolled_at=now,
                )
                s.add(new)
                old.not_after = now + overlap_s
                old.replaced_by = new_key.kid
                s.flush()
                return {"old": _device_json(old), "new": _device_json(new)}
        except IntegrityError:
            raise VerifierError(
                "the new key is already enrolled", code="request.conflict"
            ) from None

    # -- reference values ----------------------------------------------------------------

    def add_manifest(self, signed: bytes) -> tuple[bool, dict[str, Any]]:
        try:
            manifest = verify_manifest(signed, self.release_keys)
        except AttestError as exc:
            raise VerifierError(f"{exc.code}: {exc.message}", code="manifest.invalid") from None
        digest = manifest.digest()
        info = {"digest": b64url(digest), "name": manifest.name, "version": manifest.version}
        try:
            with self.writer() as s, s.begin():
                if s.get(ReferenceManifest, digest) is not None:
                    return False, info
                s.add(
                    ReferenceManifest(
                        digest=digest,
                        name=manifest.name,
                        version=manifest.version,
                        signed=signed,
                        added_at=self.now(),
                    )
                )
        except IntegrityError:  # another replica added it at the same moment
            return False, info
        return True, info

    def manifests(self) -> list[dict[str, Any]]:
        with self.reader() as s:
            rows = s.execute(
                select(ReferenceManifest).order_by(ReferenceManifest.added_at)
            ).scalars()
            return [
                {
                    "digest": b64url(r.digest),
                    "name": r.name,
                    "version": r.version,
                    "added_at": r.added_at,
                }
                for r in rows
            ]

    def _references(self, count: int) -> ap.ReferenceValues:
        """Manifests are append-only, so the cache is current when the row count matches."""
        with self._refs_lock:
            if count != len(self._refs):
                refs = {}
                with self.reader() as s:
                    rows = s.execute(select(ReferenceManifest.digest, ReferenceManifest.signed))
                    for row in rows:
                        m = ReleaseManifest.decode(_payload(row.signed))
                        refs[row.digest] = frozenset(m.models.values())
                self._refs = refs
            return ap.ReferenceValues(dict(self._refs))

    # -- attestations --------------------------------------------------------------------

    def submit(self, token: bytes, profile: str | None = None) -> dict[str, Any]:
        """Appraise, sign, commit (nonce + appraisal + log entry), answer with the proof.

        `profile`: the EAR profile to issue (attest.ear.PROFILES); the configured one
        (`result_profile`) when None."""
        now = self.now()
        sub = ap.read(token)  # the one parse: the peek and the appraisal share it
        seen = sub.peek
        with self.hot_reads.connection() as conn:
            rec = self.hot_reads.read(seen.kid, seen.nonce, seen.cti, conn)
        dev, nrow = rec.device, rec.nonce
        result = ap.appraise(
            sub,
            _device_record(dev),
            _nonce_record(nrow),
            self._references(rec.manifest_count),
            self.policy,
            now,
            cti_seen=rec.cti_seen,
        )
        ev = result.evidence
        if result.refused or ev is None or nrow is None or dev is None:
            raise _refusal(result)
        appraisal_id = uuid.uuid4().hex
        ear = earmod.Ear(
            iat=now,
            status=result.status,
            trust_vector=result.trust_vector,
            policy_id=self.policy.id,
            verifier_build=self.config.verifier_build,
            nonce=ev.nonce,
            appraisal_id=appraisal_id,
            evidence_digest=result.evidence_digest,
            device_kid=dev.kid,
            decision=ev.decision,
            txn_hash=nrow.txn_hash,
            txn_salt=nrow.txn_salt,
            profile=profile or RESULT_PROFILES[self.config.result_profile],
        )
        cwt = earmod.sign_ear_cwt(ear, self.result_key)
        jwt = earmod.sign_ear_jwt(ear, self.result_key)
        check_list = [c.to_json() for c in result.checks]
        checks = json.dumps(check_list, separators=(",", ":"))
        row = {
            "id": appraisal_id,
            "created_at": now,
            "device_kid": dev.kid,
            "nonce": ev.nonce,
            "cti": ev.cti,
            "evidence_digest": result.evidence_digest,
            "status": int(result.status),
            "policy_id": self.policy.id,
            "owner_token_id": nrow.owner_token_id,
            "ear_cwt": cwt,
            "ear_jwt": jwt,
            "checks": checks,
            "evidence": token,
        }
        # One transaction: nonce consumption, appraisal and log entry (see committer.py).
        index = self.committer.commit(Pending(row, cwt, now))
        out = self._appraisal_json(
            appraisal_id, result.status, ev.decision, cwt, jwt, index, check_list
        )
        if self.log.size <= index:  # the commit read at most CATCH_UP leaves: read the rest
            with self.hot_reads.connection() as conn:
                self.log.extend(self.hot_reads.leaves(conn, self.log.size, index + 1))
        out["log"] = self._inclusion_json(index, index + 1)
        out["tlog_proof_url"] = f"/v1/attestations/{appraisal_id}/tlog-proof"
        return out

    def _appraisal_json(
        self,
        aid: str,
        status: earmod.Status,
        decision: Any,
        cwt: bytes,
        jwt: str,
        index: int,
        checks: list[dict[str, Any]],
    ) -> dict[str, Any]:
        return {
            "appraisal_id": aid,
            "status": status.label,
            "decision": earmod.DECISION_NAMES[decision] if decision is not None else None,
            "policy_id": self.policy.id,
            "ear": {"cwt": b64url(cwt), "jwt": jwt},
            "log_index": index,
            "checks": checks,
        }

    def appraisal(self, caller: Caller, appraisal_id: str) -> dict[str, Any]:
        with self.reader() as s:
            row = s.get(Appraisal, appraisal_id)
        # A relying party sees only its own; others' ids look the same as unknown ones.
        if row is None or (
            caller.role == "relying-party" and row.owner_token_id != caller.token_id
        ):
            raise NotFoundError("no such appraisal")
        ear = earmod.verify_ear_cwt(row.ear_cwt, self.keyset)
        out = self._appraisal_json(
            row.id,
            earmod.Status(row.status),
            ear.decision,
            row.ear_cwt,
            row.ear_jwt,
            row.log_index,
            json.loads(row.checks),
        )
        out["policy_id"] = row.policy_id
        out["created_at"] = row.created_at
        if caller.role != "relying-party":  # auditors re-check the device's signature
            out["evidence"] = b64url(row.evidence) if row.evidence is not None else None
        out["tlog_proof"] = self._tlog_proof(row.log_index)
        return out

    # -- log -----------------------------------------------------------------------------

    def _synced(self, at_least: int = 0) -> int:
        with self.reader() as s:
            return self.log.sync(s, at_least)

    def checkpoint(self) -> dict[str, Any]:
        size = self._synced()
        cp = Checkpoint(self.config.log_origin, size, self.log.root(size), self.now())
        return cp.to_json(self.result_key)

    def inclusion(self, index: int, size: int | None = None) -> dict[str, Any]:
        have = self._synced(0 if size is None else size)
        size = have if size is None else size
        if not 0 <= index < size <= have:
            raise VerifierError(f"need 0 <= index < tree_size <= {have}", code="log.bad-size")
        return self._inclusion_json(index, size)

    def _inclusion_json(self, index: int, size: int) -> dict[str, Any]:
        leaf, proof, root = self.log.inclusion(index, size)
        return {
            "index": index,
            "tree_size": size,
            "leaf_hash": b64url(leaf),
            "inclusion_proof": [b64url(p) for p in proof],
            "root_hash": b64url(root),
        }

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        have = self._synced()
        if not 0 <= first <= second <= have:
            raise VerifierError(f"need 0 <= first <= second <= {have}", code="log.bad-size")
        proof, r1, r2 = self.log.consistency(first, second)
        return {
            "first": first,
            "second": second,
            "first_root": b64url(r1),
            "second_root": b64url(r2),
            "consistency_proof": [b64url(p) for p in proof],
        }

    def entries(self, start: int, limit: int) -> dict[str, Any]:
        from verifier.storage import LogEntry

        have = self._synced()
        if not 0 <= start <= have:
            raise VerifierError(f"start must be in 0..{have}", code="log.bad-size")
        with self.reader() as s:
            rows = (
                s.execute(
                    select(LogEntry)
                    .where(LogEntry.idx >= start, LogEntry.idx < min(have, start + limit))
                    .order_by(LogEntry.idx)
                )
                .scalars()
                .all()
            )
        # The page covers [start, end) whatever rows it found: a client following `next`
        # always moves forward, even past a hole an auditor should see for itself.
        end = min(have, start + limit)
        return {
            "tree_size": have,
            "entries": [
                {"index": r.idx, "appraisal_id": r.appraisal_id, "data": b64url(r.data)}
                for r in rows
            ],
            "next": end if end < have else None,
        }

    # -- the log in C2SP formats (verifier/tlog.py, verifier/tlog_api.py) -----------------

    def start_publisher(self) -> None:
        """Sign checkpoints and collect witness cosignatures in the background (only when
        witnesses are configured; otherwise /log/checkpoint is signed per request)."""
        if not self.tlog.witnesses or self.publisher is not None:
            return
        self.publisher = Publisher(
            self.tlog,
            self._synced,
            lambda a, b: self.log.consistency(a, b)[0],
            self.config.checkpoint_interval_ms / 1000,
            self.config.instance_path / "tlog" / "publisher.lock",
        )
        self.publisher.start()

    def note_checkpoint(self) -> str:
        return self.tlog.checkpoint(self._synced())

    def keyset_document(self) -> str:
        """The published key set, with the log's note vkeys as its `tlog` member."""
        from verifier.tlog_api import tlog_document

        return json.dumps(
            {**self.keyset.to_json(), "tlog": tlog_document(self)}, indent=2, sort_keys=True
        )

    def witness_status(self) -> dict[str, Any]:
        """For the console: the C2SP checkpoint served, and which witnesses cosigned it."""
        text = self.note_checkpoint()
        names = [w.key.name for w in self.tlog.witnesses]
        cp = open_checkpoint(text, self.tlog.key.verifier, [w.key for w in self.tlog.witnesses])
        return {
            "note": text,
            "size": cp.checkpoint.size,
            "configured": names,
            "cosigned": sorted(cp.cosigners),
        }

    def tile(self, level: int, n: int, width: int) -> bytes:
        self._synced()
        try:
            return self.tlog.tile(level, n, width)
        except ValueError:
            raise NotFoundError("that tile is not complete yet (tlog-tiles)") from None

    def entry_bundle(self, n: int, width: int) -> bytes:
        from attest.tlog import TILE_WIDTH, entry_bundle
        from verifier.storage import LogEntry

        have = self._synced()
        lo, hi = n * TILE_WIDTH, n * TILE_WIDTH + width
        if hi > have:
            raise NotFoundError("that entry bundle is not complete yet (tlog-tiles)")
        with self.reader() as s:
            rows = s.execute(
                select(LogEntry.idx, LogEntry.data)
                .where(LogEntry.idx >= lo, LogEntry.idx < hi)
                .order_by(LogEntry.idx)
            ).all()
        if [r[0] for r in rows] != list(range(lo, hi)):
            raise VerifierError("log entries are missing from storage", code="log.corrupt")
        return entry_bundle([bytes(r[1]) for r in rows])

    def _tlog_proof(self, index: int) -> str:
        size = self._synced(index + 1)
        return self.tlog.proof(index, size).encode()

    def tlog_proof(self, caller: Caller, appraisal_id: str) -> str:
        with self.reader() as s:
            row = s.get(Appraisal, appraisal_id)
        if row is None or (
            caller.role == "relying-party" and row.owner_token_id != caller.token_id
        ):
            raise NotFoundError("no such appraisal")
        return self._tlog_proof(row.log_index)

    def open_pool(self) -> None:
        """Open the appraisal's connections before the first request needs them.

        Otherwise the first requests after a start each wait for a connection to be set up
        (on PostgreSQL a new server process and its authentication) and for the first
        execution of the read, which PostgreSQL parses, plans and, since the engine asks
        psycopg to prepare at once (storage.make_engine), keeps prepared. In verifier_load on
        PostgreSQL this took the p99 of the first two seconds from about 83 ms to that of
        the rest of the run (about 45 ms). A database that is down is not an error here:
        the requests will say so.
        """
        conns = []
        try:
            for _ in range(POOL_SIZE):
                conns.append(self.hot_reads.engine.raw_connection())
                self.hot_reads.read(None, None, None, conns[-1])
        except (DatabaseError, self.hot_reads.driver_error):
            log.warning("could not open the connection pool; the database is not reachable")
        finally:
            for c in conns:
                c.close()

    def healthy(self) -> bool:
        try:
            with self.reader() as s:
                s.execute(select(1))
        except DatabaseError:
            return False
        return True


_METHOD_NAMES = {
    LivenessMethod.ACTIVE_NONCE: "active-nonce",
    LivenessMethod.ACTIVE_FIXED_DEMO: "active-fixed-demo",
}


def _payload(signed: bytes) -> bytes:
    from attest.cose import decode_sign1

    return decode_sign1(signed, max_size=300 * 1024).payload


@lru_cache(maxsize=4096)
def _device_key(cose_key: bytes) -> PublicKey:
    """Parsing (and point-checking) a key is a pure function of its bytes: cache it."""
    return PublicKey.from_cose_key(cose_key)


def _device_record(row: Any) -> ap.DeviceRecord | None:
    """From a `devices` row (ORM object or Core row)."""
    if row is None:
        return None
    return ap.DeviceRecord(
        kid=row.kid,
        key=_device_key(row.cose_key),
        device_id=row.device_id,
        revoked_at=row.revoked_at,
        not_after=row.not_after,
    )


def _nonce_record(row: Any) -> ap.NonceRecord | None:
    """From a `nonces` row (ORM object or Core row)."""
    if row is None:
        return None
    return ap.NonceRecord(
        nonce=row.nonce,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        consumed=row.consumed_at is not None,
        liveness_method=LivenessMethod(row.liveness_method),
        challenge=parse_challenge_spec(row.challenge),
        txn_hash=row.txn_hash,
        txn_salt=row.txn_salt,
        commitment=row.commitment,
    )


def _device_json(row: Device) -> dict[str, Any]:
    return {
        "kid": b64url(row.kid),
        "device_id": row.device_id,
        "hardware_model": row.hardware_model,
        "alg": row.alg,
        "cose_key": b64url(row.cose_key),
        "enrolled_at": row.enrolled_at,
        "not_after": row.not_after,
        "revoked_at": row.revoked_at,
        "replaced_by": b64url(row.replaced_by) if row.replaced_by else None,
    }


def _refusal(result: ap.Result) -> VerifierError:
    """A problem carrying the first failure's reason code and every check."""
    first = result.failures[0] if result.failures else None
    code = first.code if first and first.code else "evidence.malformed"
    detail = first.detail if first else "evidence was not accepted"
    return VerifierError(
        detail,
        code=code,
        checks=[c.to_json() for c in result.checks],
        ear_status=result.status.label,
    )
