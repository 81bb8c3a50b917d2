"""Test helpers: a device that signs evidence, a release, and real servers to run it against.

`Device` and `release()` use only attest (what the edge device does); `VerifierServer`
runs `edgeproof verifier init` and `serve` (real gunicorn on 127.0.0.1, a free port) and
`PostgresCluster` a throwaway Debian PostgreSQL cluster (initdb, then the postgres server
on a free loopback port), each stopped by PID.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cbor2
import httpx
import jwt as pyjwt
from pycose.keys.curves import P256
from pycose.keys.ec2 import EC2Key
from pycose.messages.sign1message import Sign1Message

from attest.challenge import Gesture
from attest.evidence import (
    AntiClone,
    Consent,
    ConsentMethod,
    Decision,
    DocumentAuth,
    Erasure,
    Evidence,
    Liveness,
    LivenessMethod,
    MeasuredItem,
    Outcome,
    ScoreBand,
    Threshold,
    sign_evidence,
)
from attest.keys import SigningKey, b64url, b64url_decode
from attest.keyset import KeySet
from attest.manifest import ReleaseManifest, sign_manifest
from attest.merkle import leaf_hash, verify_inclusion
from tests.rig import free_port, require_binary, stop_process, wait_for

REPO = Path(__file__).resolve().parents[2]
EDGEPROOF = [sys.executable, "-m", "edgeproof_cli"]
PG_BIN = "/usr/lib/postgresql/15/bin"
MODELS = {
    MeasuredItem.DETECTOR_MODEL: "face_detection_short_range.tflite",
    MeasuredItem.LANDMARK_MODEL: "face_landmark.tflite",
    MeasuredItem.EMBEDDING_MODEL: "sface.tflite",
}


@dataclass(frozen=True)
class Release:
    key: SigningKey
    manifest: ReleaseManifest
    signed: bytes

    def measurements(self) -> dict[MeasuredItem, bytes]:
        out = {MeasuredItem.RELEASE_MANIFEST: self.manifest.digest()}
        for item, name in MODELS.items():
            out[item] = self.manifest.models[name]
        return out


def release(version: str = "1.0.0", key: SigningKey | None = None) -> Release:
    key = key or SigningKey.generate()
    manifest = ReleaseManifest(
        name="edgeproof-edge",
        version=version,
        files={"edge/session.py": hashlib.sha256(b"session " + version.encode()).digest()},
        models={n: hashlib.sha256(n.encode()).digest() for n in MODELS.values()},
    )
    return Release(key, manifest, sign_manifest(manifest, key))


def evidence(
    nonce: bytes,
    challenge: tuple[Gesture, ...],
    rel: Release,
    now: int | None = None,
    method: LivenessMethod = LivenessMethod.ACTIVE_NONCE,
    **changes: Any,
) -> Evidence:
    """Claims of a good verification; `changes` overrides any field."""
    now = int(time.time()) if now is None else now
    iat = int(changes.pop("iat", now))
    ev = Evidence(
        nonce=nonce,
        iat=iat,
        exp=int(changes.pop("exp", iat + 120)),
        cti=secrets.token_bytes(16),
        swname="edgeproof-edge",
        swversion=rel.manifest.version,
        measurements=rel.measurements(),
        decision=Decision.MATCH,
        score_band=ScoreBand.HIGH,
        threshold=Threshold("sface-v1", -4),
        liveness=Liveness(method, challenge, Outcome.PASSED),
        document=DocumentAuth(
            Outcome.PASSED, AntiClone.CHIP_AUTHENTICATION, Outcome.PASSED, expired=False
        ),
        consent=Consent(True, ConsentMethod.OPERATOR_CONFIRMED),
        erasure=Erasure(40, 40, iat - 1),
    )
    return replace(ev, **changes) if changes else ev


@dataclass
class Client:
    """Speaks to a running verifier as its several roles."""

    base: str
    admin: str
    http: httpx.Client

    def h(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def token(self, role: str) -> str:
        r = self.http.post(
            f"{self.base}/v1/tokens", json={"role": role}, headers=self.h(self.admin)
        )
        assert r.status_code == 201, r.text
        tok: str = r.json()["token"]
        return tok

    def enrol(self, key: SigningKey, device_id: str = "device-1") -> dict[str, Any]:
        body = {"device_id": device_id, "cose_key": b64url(key.public.cose_key_bytes())}
        r = self.http.post(f"{self.base}/v1/devices", json=body, headers=self.h(self.admin))
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out

    def add_release(self, rel: Release) -> None:
        r = self.http.put(
            f"{self.base}/v1/reference-values",
            content=rel.signed,
            headers={**self.h(self.admin), "Content-Type": "application/cose"},
        )
        assert r.status_code in (200, 201), r.text

    def challenge(self, rp: str, **body: Any) -> dict[str, Any]:
        r = self.http.post(f"{self.base}/v1/challenges", json=body, headers=self.h(rp))
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out

    def check_included(
        self, auditor: str, data: bytes, index: int, size: int, root: bytes, base: str = ""
    ) -> None:
        """Entry `index` (bytes `data`) is in the tree of `size` with `root`: the server's
        inclusion proof, checked here (RFC 9162 section 2.1.3.2); raises if it is not."""
        inc = self.http.get(
            f"{base or self.base}/v1/log/proof/inclusion",
            params={"index": index, "tree_size": size},
            headers=self.h(auditor),
        ).json()
        proof = [b64url_decode(p) for p in inc["inclusion_proof"]]
        verify_inclusion(leaf_hash(data), index, size, proof, root)

    def keyset(self) -> KeySet:
        """The verifier's published key set: all a relying party needs."""
        r = self.http.get(f"{self.base}/.well-known/edgeproof/keys.json")
        assert r.status_code == 200, r.text
        return KeySet.from_json(r.text)

    def submit(self, token: bytes) -> httpx.Response:
        return self.http.post(
            f"{self.base}/v1/attestations",
            content=token,
            headers={"Content-Type": "application/eat+cwt"},
        )

    def good_token(
        self,
        rp: str,
        device: SigningKey,
        rel: Release,
        *,
        txn_hash: bytes | None = None,
        **changes: Any,
    ) -> bytes:
        """Evidence for a fresh challenge, bound to `txn_hash` when one is given."""
        ch = self.challenge(rp, **({} if txn_hash is None else {"txn_hash": b64url(txn_hash)}))
        nonce = b64url_decode(ch["nonce"])
        gestures = tuple(Gesture(g) for g in ch["liveness"]["challenge"])
        method = (
            LivenessMethod.ACTIVE_FIXED_DEMO
            if ch["liveness"]["method"] == "active-fixed-demo"
            else LivenessMethod.ACTIVE_NONCE
        )
        return sign_evidence(evidence(nonce, gestures, rel, method=method, **changes), device)


def check_with_independent_libraries(keys_doc: dict[str, Any], cwt: bytes, jwt: str) -> None:
    """pycose (COSE), PyJWT and joserfc (JOSE) validate a result with the published JWKS
    alone, and both serialisations match the draft-ietf-rats-ear-04 CDDL."""
    # cbor2 6 decodes a tagged array as a tuple (its maps frozen), which pycose refuses:
    # hand it plain types.
    top = cbor2.loads(cwt)
    assert top.tag == 18
    phdr, uhdr, payload, sig = top.value
    msg = Sign1Message.from_cose_obj([phdr, dict(uhdr), payload, sig], True)
    kid = b64url(next(v for k, v in msg.phdr.items() if getattr(k, "identifier", None) == 4))
    jwk = next(k for k in keys_doc["keys"] if k["kid"] == kid)
    msg.key = EC2Key(crv=P256, x=b64url_decode(jwk["x"]), y=b64url_decode(jwk["y"]))
    assert msg.verify_signature() and msg.payload is not None
    claims = cbor2.loads(msg.payload)
    assert claims[265] == "tag:ietf.org,2026:rats/ear#04"  # draft-ietf-rats-ear-04

    header = pyjwt.get_unverified_header(jwt)
    assert header["kid"] == kid
    key = pyjwt.PyJWKSet.from_dict(keys_doc)[header["kid"]]
    decoded = pyjwt.decode(jwt, key=key.key, algorithms=["ES256"])
    sub = decoded["submods"]["edgeproof-device"]
    assert sub["ear_status"] in ("affirming", "warning")
    assert sub["eat_nonce"] == b64url(claims[266]["edgeproof-device"][10])
    # joserfc too, and both serialisations against draft-ietf-rats-ear-04's CDDL (docs).
    from joserfc import jwt as joserfc_jwt
    from joserfc.jwk import KeySet as JoseKeySet

    from tests.attest.test_ear_interop import SCHEMA, json_as_cbor

    jose = joserfc_jwt.decode(jwt, JoseKeySet.import_key_set(keys_doc), algorithms=["ES256"])  # type: ignore[arg-type]
    assert jose.claims == decoded
    SCHEMA.validate_cbor(msg.payload)
    SCHEMA.validate_cbor(cbor2.dumps(json_as_cbor(decoded)))


def _run(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(args, env=env, capture_output=True, text=True, check=False, **kw)


class VerifierServer:
    """`edgeproof verifier init` + `serve` in a folder of its own."""

    def __init__(
        self,
        root: Path,
        release_key: SigningKey,
        database_url: str = "",
        policy: str = "production",
        workers: int = 2,
        init: bool = True,
        threads: int = 0,
    ) -> None:
        self.root = root
        self.instance = root / "instance"
        self.workers = workers
        self.threads = threads
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.admin = ""
        if init:
            pub = root / "release-key.pem"
            pub.write_bytes(release_key.public.pem())
            args = [*EDGEPROOF, "verifier", "init", "--instance", str(self.instance)]
            args += ["--release-key", str(pub), "--policy", policy]
            if database_url:
                args += ["--database-url", database_url]
            out = _run(args)
            assert out.returncode == 0, out.stderr
            self.admin = out.stdout.strip().splitlines()[-1]
            self.init_output = out.stdout

    @property
    def config(self) -> Path:
        return self.instance / "verifier.toml"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int = 0) -> VerifierServer:
        self.port = port or free_port()
        log = open(self.root / f"server-{self.port}.log", "ab")  # noqa: SIM115
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [
                *EDGEPROOF,
                *("verifier", "serve", "--config", str(self.config)),
                *("--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers)),
                *("--access-log", ""),
                *(("--threads", str(self.threads)) if self.threads else ()),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: workers die with it on kill()
        )
        log.close()

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_text()[-2000:]}")
            try:
                return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 30, "verifier /healthz")
        return self

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.root.glob("server-*.log"))

    def client(self) -> Client:
        return Client(self.base, self.admin, httpx.Client(timeout=30))

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def kill(self) -> None:
        """SIGKILL the gunicorn master and its workers (its own process group, by PID)."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None


class PostgresCluster:
    """A throwaway cluster: initdb in a temp dir, postgres on 127.0.0.1:free port."""

    def __init__(self) -> None:
        initdb = require_binary("initdb", PG_BIN)
        postgres = require_binary("postgres", PG_BIN)
        self.dir = Path(tempfile.mkdtemp(prefix="edgeproof-pg-"))
        self.user = "postgres" if os.geteuid() == 0 else None  # initdb refuses to run as root
        if self.user:
            shutil.chown(self.dir, self.user)
        data = self.dir / "data"
        out = subprocess.run(
            [initdb, "-D", str(data), "-U", "edgeproof", "--auth=trust", "-E", "UTF8"],
            capture_output=True,
            user=self.user,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        self.port = free_port()
        self.log = open(self.dir / "postgres.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                *(postgres, "-D", str(data), "-p", str(self.port), "-h", "127.0.0.1"),
                *("-k", str(self.dir), "-c", "max_connections=200", "-c", "fsync=on"),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            user=self.user,
        )
        self._n = 0
        wait_for(self._ready, 30, "postgres")

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def dsn(self, db: str) -> str:
        return f"postgresql://edgeproof@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """A fresh database; returns its SQLAlchemy URL."""
        import psycopg

        self._n += 1
        name = f"verifier{self._n}"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://edgeproof@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown: ends sessions, no waiting
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
