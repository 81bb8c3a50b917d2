"""The verifier under gunicorn, for the demo, the tests and the benchmarks: ONE helper.

`VerifierServer` runs `edgeproof verifier init` and `edgeproof verifier serve` in a folder of
its own (real gunicorn, bound to 127.0.0.1 on a free port), waits until /healthz answers,
and stops it by PID. Both children run in a session of their own: a terminal's SIGINT or
SIGHUP reaches only the caller, which stops them (gunicorn would take SIGHUP as "reload"
and outlive the demo), and `kill()` can SIGKILL the master with its workers as a group.

`close()` may be called from another thread while `init()` or `start()` is still running (the
demo boots the verifier in the background and may be stopped at any moment): it stops
whatever child runs, no new child is spawned after it, and the waits give up. `stop()`
stops the children but leaves the server startable again (tests restart it).

`Release` and `release()` make a signed release manifest the verifier can trust, the way the
release process does (attest only, no installation measured); `evidence()` the claims of a
good verification, as a device signs them; `Client` speaks the verifier's API as an
administrator, a relying party or an auditor (it is how the tests, the benchmarks and the
demo's set-up enrol devices and trust releases); `make_world` sets a running one up with
an enrolled device, a trusted release and relying-party and auditor tokens.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from attest import paths
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
from rig.proc import EDGEPROOF, child_env, free_port, healthy, stop_process

#: The models a test release names, by the measurement each one is reported under.
MODELS = {
    MeasuredItem.DETECTOR_MODEL: "face_detection_short_range.tflite",
    MeasuredItem.LANDMARK_MODEL: "face_landmark.tflite",
    MeasuredItem.EMBEDDING_MODEL: "sface.tflite",
}


@dataclass(frozen=True)
class Release:
    """A release key, a manifest, and the manifest signed with the key."""

    key: SigningKey
    manifest: ReleaseManifest
    signed: bytes

    def measurements(self) -> dict[MeasuredItem, bytes]:
        out = {MeasuredItem.RELEASE_MANIFEST: self.manifest.digest()}
        for item, name in MODELS.items():
            out[item] = self.manifest.models[name]
        return out


def release(version: str = "1.0.0", key: SigningKey | None = None) -> Release:
    """A made-up release: one file and the three models, digests of their names."""
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


def _expect(r: httpx.Response, *codes: int) -> None:
    if r.status_code not in codes:
        raise RuntimeError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}")


@dataclass
class Client:
    """Speaks to a running verifier as its several roles (admin, relying party, auditor)."""

    base: str
    admin: str
    http: httpx.Client

    def h(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def token(self, role: str) -> str:
        r = self.http.post(
            f"{self.base}{paths.TOKENS}", json={"role": role}, headers=self.h(self.admin)
        )
        _expect(r, 201)
        tok: str = r.json()["token"]
        return tok

    def enrol(self, key: SigningKey, device_id: str = "device-1") -> dict[str, Any]:
        body = {"device_id": device_id, "cose_key": b64url(key.public.cose_key_bytes())}
        r = self.http.post(f"{self.base}{paths.DEVICES}", json=body, headers=self.h(self.admin))
        _expect(r, 201)
        out: dict[str, Any] = r.json()
        return out

    def add_release(self, rel: Release) -> None:
        r = self.http.put(
            f"{self.base}{paths.REFERENCE_VALUES}",
            content=rel.signed,
            headers={**self.h(self.admin), "Content-Type": "application/cose"},
        )
        _expect(r, 200, 201)

    def challenge(self, rp: str, **body: Any) -> dict[str, Any]:
        r = self.http.post(f"{self.base}{paths.CHALLENGES}", json=body, headers=self.h(rp))
        _expect(r, 201)
        out: dict[str, Any] = r.json()
        return out

    def check_included(
        self, auditor: str, data: bytes, index: int, size: int, root: bytes, base: str = ""
    ) -> None:
        """Entry `index` (bytes `data`) is in the tree of `size` with `root`: the server's
        inclusion proof, checked here (RFC 9162 section 2.1.3.2); raises if it is not."""
        inc = self.http.get(
            f"{base or self.base}{paths.LOG_INCLUSION}",
            params={"index": index, "tree_size": size},
            headers=self.h(auditor),
        ).json()
        proof = [b64url_decode(p) for p in inc["inclusion_proof"]]
        verify_inclusion(leaf_hash(data), index, size, proof, root)

    def keyset(self) -> KeySet:
        """The verifier's published key set: all a relying party needs."""
        r = self.http.get(f"{self.base}{paths.KEYSET}")
        _expect(r, 200)
        return KeySet.from_json(r.text)

    def submit(self, token: bytes) -> httpx.Response:
        return self.http.post(
            f"{self.base}{paths.ATTESTATIONS}",
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


class VerifierStoppedError(RuntimeError):
    """`stop()` was called while the verifier was being started."""


class VerifierServer:
    """`edgeproof verifier init` + `serve` in `root`; the instance lives in `root/instance`."""

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
        self.release_key = release_key
        self.database_url = database_url
        self.policy = policy
        self.workers = workers
        self.threads = threads
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.admin = ""
        self.init_output = ""
        self._lock = threading.Lock()
        self._children: list[subprocess.Popen[Any]] = []
        self._closed = False
        if init:
            self.init()

    @property
    def config(self) -> Path:
        return self.instance / "verifier.toml"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, args: list[str], **kw: Any) -> subprocess.Popen[Any]:
        with self._lock:
            if self._closed:
                raise VerifierStoppedError("the verifier was stopped while it started")
            proc: subprocess.Popen[Any] = subprocess.Popen(
                args, env=child_env(PYTHONUNBUFFERED="1"), start_new_session=True, **kw
            )
            self._children.append(proc)
            return proc

    def init(self, timeout: float = 120.0) -> str:
        """Run `verifier init`; returns (and keeps) the first admin token it prints."""
        pub = self.root / "release-key.pem"
        pub.write_bytes(self.release_key.public.pem())
        args = [*EDGEPROOF, "verifier", "init", "--instance", str(self.instance)]
        args += ["--release-key", str(pub), "--policy", self.policy]
        if self.database_url:
            args += ["--database-url", self.database_url]
        proc = self._spawn(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"verifier init failed: {err.strip()[-2000:]}")
        self.admin = out.strip().splitlines()[-1]
        self.init_output = out
        return self.admin

    def start(self, port: int = 0, timeout: float = 30.0) -> VerifierServer:
        """Serve on `port` (0: a free one) and return once /healthz answers."""
        self.port = port or free_port()
        with open(self.root / f"server-{self.port}.log", "ab") as log:
            self.proc = self._spawn(
                [
                    *EDGEPROOF,
                    *("verifier", "serve", "--config", str(self.config)),
                    *("--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers)),
                    *("--access-log", ""),
                    *(("--threads", str(self.threads)) if self.threads else ()),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready(self.proc, timeout)
        return self

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not healthy(self.base):
            if self._closed:
                raise VerifierStoppedError("the verifier was stopped while it started")
            if proc.poll() is not None:
                raise RuntimeError(f"the verifier exited: {self.log_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f}s waiting for verifier /healthz")
            time.sleep(0.05)

    def client(self) -> Client:
        return Client(self.base, self.admin, httpx.Client(timeout=30))

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.root.glob("server-*.log"))

    def stop(self) -> None:
        """Stop `init` or `serve`, whichever runs, by PID (SIGTERM, then SIGKILL)."""
        with self._lock:
            children, self._children = self._children, []
        for proc in children:
            stop_process(proc, timeout=15)
        self.proc = None

    def close(self) -> None:
        """`stop()` for good: from any thread, also while the server is starting."""
        with self._lock:
            self._closed = True
        self.stop()

    def kill(self) -> None:
        """SIGKILL the gunicorn master and its workers (its own process group, by PID)."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self._children = [p for p in self._children if p is not self.proc]
            self.proc = None


@dataclass
class World:
    """A running verifier with a relying party, an auditor, an enrolled device, a release."""

    server: VerifierServer
    client: Client
    rp: str
    auditor: str
    device: SigningKey
    release: Release

    def good(self, txn_hash: bytes | None = None, **changes: object) -> bytes:
        return self.client.good_token(
            self.rp, self.device, self.release, txn_hash=txn_hash, **changes
        )


def make_world(server: VerifierServer, rel: Release) -> World:
    """Enrol a fresh device and trust `rel` on a running server; make its two role tokens."""
    c = server.client()
    device = SigningKey.generate()
    c.enrol(device)
    c.add_release(rel)
    return World(server, c, c.token("relying-party"), c.token("auditor"), device, rel)
