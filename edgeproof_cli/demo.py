"""`edgeproof demo`: the whole mission on one machine, on the embedded defaults, no hardware.

1. The release process signs a manifest of exactly this installation (code and models).
2. A verifier starts under gunicorn on 127.0.0.1 with SQLite and the explicit demo policy,
   trusting that release; a software-key device is enrolled.
3. Test passports are generated under a test CSCA and served by the passport emulator:
   through real pcscd + vpcd + pyscard when they are installed, in-process otherwise.
4. Three sessions run, each the same code path a field device runs (edge.session):
   genuine (chip photo of the performer, recorded clip) -> match;
   wrong person (another face on the chip, same clip) -> no match;
   photo replay (the still photo shown to the camera) -> liveness fails.
5. For each, the relying party validates the signed result offline with the published key
   set, and the inclusion proof of the audit log entry is checked.

Why the demo policy: a recording cannot perform a fresh challenge derived from a nonce; that
is the point of the challenge. So the demo verifier issues the fixed challenge the recorded
clip happens to perform ("turn_right,turn_right", see docs/capture-liveness.md), the
evidence says so (liveness method "active-fixed-demo"), and a production verifier rejects
such evidence.

Everything lives in a temporary folder removed at the end; `--out DIR` keeps the evidence
and result tokens for `edgeproof attest inspect`. Nothing biometric or personal is written:
the test passports are synthetic documents around public photos shipped in data/.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CLIP = REPO / "data" / "video" / "short_hamilton_clip.mp4"
STILL = REPO / "data" / "video" / "lin-manuel-miranda.png"
OTHER_FACE = REPO / "data" / "demo" / "other-person.jpg"
EDGEPROOF = [sys.executable, "-m", "edgeproof_cli"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole mission on this machine: verifier, passport emulator, camera replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", metavar="DIR", help="keep evidence and result tokens in DIR")
    p.add_argument(
        "--reader",
        choices=("auto", "pcscd", "in-process"),
        default="auto",
        help="serve the passport through real pcscd (auto: when installed) or in-process",
    )
    p.set_defaults(func=_demo)


def _say(text: str) -> None:
    print(text, flush=True)


def _head(text: str) -> None:
    _say(f"\n== {text}")


@dataclass(frozen=True)
class Run:
    name: str
    expect: str
    chip: Any  # TestDocument
    camera: str  # capture spec


def _demo(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edgeproof-demo-") as tmp:
        try:
            return _run(Path(tmp), out, args.reader)
        except DemoError as exc:
            print(f"edgeproof demo: {exc}", file=sys.stderr)
            return 1


class DemoError(RuntimeError):
    pass


def _run(work: Path, out: Path | None, reader: str) -> int:
    from attest.keys import SigningKey
    from attest.manifest import sign_manifest
    from firmware.release import build

    _head("1. release: measure this installation and sign its manifest")
    release_key = SigningKey.generate()
    (work / "release.pub").write_bytes(release_key.public.pem())
    manifest = build()
    signed_manifest = sign_manifest(manifest, release_key)
    _say(f"{len(manifest.files)} files and {len(manifest.models)} models measured")
    _say(f"release manifest digest {manifest.digest().hex()[:16]}...")

    with contextlib.ExitStack() as stack:
        url, admin = stack.enter_context(_verifier(work))
        return _with_verifier(work, out, reader, url, admin, signed_manifest, stack)


def _with_verifier(
    work: Path,
    out: Path | None,
    reader: str,
    url: str,
    admin: str,
    signed_manifest: bytes,
    stack: contextlib.ExitStack,
) -> int:
    import httpx

    from edge.keystore.base import cose_signer
    from edge.keystore.enroll import enrol
    from edge.keystore.software import SoftwareKeyStore
    from edge.measure import measure
    from edge.steps import device_identity

    auth = {"Authorization": f"Bearer {admin}"}
    r = httpx.put(
        f"{url}/v1/reference-values",
        content=signed_manifest,
        headers={**auth, "Content-Type": "application/cose"},
        timeout=10,
    )
    _check(r, "reference values")
    _say("reference values: the signed release manifest is trusted")
    r = httpx.post(
        f"{url}/v1/tokens",
        json={"role": "relying-party", "label": "demo office"},
        headers=auth,
        timeout=10,
    )
    _check(r, "relying-party token")
    rp_token = r.json()["token"]

    _head("3. device: make a software key and enrol it")
    (work / "device").mkdir(mode=0o700)
    store = SoftwareKeyStore.create(work / "device" / "key.pem")
    enrolment = enrol(store, url, admin, device_id="demo-device")
    _say(f"device enrolled, kid {enrolment.kid[:16]}...")
    signer = cose_signer(store)
    device = device_identity(measure())

    _head("4. passports: generate test documents under a test CSCA")
    from edge.mrtd.sim.testdoc import DocOptions, generate

    genuine = generate(DocOptions())
    other = generate(DocOptions(face_photo=str(OTHER_FACE), document_number="D23145890"))
    _say("two passports: one with the performer's photo, one with another person's")
    photo_replay = _still_as_video(work)

    runs = [
        Run("genuine", "match", genuine, f"replay:{CLIP}"),
        Run("wrong person", "no match", other, f"replay:{CLIP}"),
        Run("photo replay", "liveness fails", genuine, f"replay:{photo_replay}"),
    ]
    chip_for = stack.enter_context(_chip_transports(work, reader))

    from edge.face.match import FaceMatcher
    from edge.liveness.engine import FaceModels

    models = FaceModels.load()
    matcher = FaceMatcher()
    failures = 0
    for n, run in enumerate(runs, start=1):
        _head(f"5.{n} session: {run.name} (expected: {run.expect})")
        ok = _session(run, chip_for, models, matcher, signer, device, url, rp_token, out)
        failures += 0 if ok else 1
    _head("done")
    _say("no frame, photo, template or personal datum was written to disk or sent")
    if out is not None:
        _say(f"tokens kept in {out}: try `edgeproof attest inspect {out}/genuine.evidence.cbor`")
    return 1 if failures else 0


def _check(r: Any, what: str) -> None:
    if r.status_code not in (200, 201):
        raise DemoError(f"{what}: verifier answered {r.status_code}: {r.text[:300]}")


def _still_as_video(work: Path) -> Path:
    """The chip photo held up to the camera: the still, slightly moved, as frames."""
    from PIL import Image

    folder = work / "photo-replay"
    folder.mkdir()
    canvas = Image.new("RGB", (640, 360), (40, 40, 40))
    with Image.open(STILL) as src:
        face = src.convert("RGB")
    face.thumbnail((300, 340))
    for i in range(150):
        frame = canvas.copy()
        dx, dy = int(12 * ((i % 30) / 30 - 0.5)), int(6 * ((i % 20) / 20 - 0.5))
        frame.paste(face, (170 + dx, 10 + dy))
        frame.save(folder / f"{i:04d}.png")
    return folder


@contextlib.contextmanager
def _chip_transports(work: Path, reader: str) -> Iterator[Callable[[Any], Any]]:
    """A function giving a transport to a chip holding the given document."""
    from edge.mrtd.sim.card import EmulatedChip, InProcessTransport
    from edge.mrtd.sim.pcscd import missing_parts

    missing = missing_parts()
    use_pcscd = reader == "pcscd" or (reader == "auto" and not missing)
    if reader == "pcscd" and missing:
        raise DemoError(f"--reader pcscd needs: {', '.join(missing)}")
    if not use_pcscd:
        why = "as asked" if reader == "in-process" else f"({', '.join(missing)} not installed)"
        _say(f"passport emulator: in-process {why}")
        yield lambda doc: InProcessTransport(EmulatedChip(doc))
        return
    from edge.mrtd.sim.pcscd import pcsc_rig
    from edge.mrtd.transport import PcscTransport

    (work / "pcsc").mkdir()
    with pcsc_rig(work / "pcsc") as rig:
        _say("passport emulator: behind real pcscd + vpcd, read with pyscard")

        def transport(doc: Any) -> Any:
            rig.insert(EmulatedChip(doc))
            return PcscTransport(rig.reader)

        yield transport


def _session(
    run: Run,
    chip_for: Callable[[Any], Any],
    models: Any,
    matcher: Any,
    signer: Any,
    device: Any,
    url: str,
    rp_token: str,
    out: Path | None,
) -> bool:
    from asn1crypto.x509 import Certificate

    from attest.ear import DECISION_NAMES
    from attest.errors import AttestError
    from attest.evidence import ConsentMethod
    from attest.rp import validate_result
    from edge.mrtd.passive import TrustStore
    from edge.session import SessionError, run_session
    from edge.steps import CameraLiveStep, FaceMatchStep, PassportChipStep
    from edge.verifier_link import HttpVerifier

    txn = hashlib.sha256(f"demo transaction {run.name} {time.time()}".encode()).digest()
    link = HttpVerifier(url, rp_token, txn_hash=txn)
    chip = PassportChipStep(
        transport=lambda: chip_for(run.chip),
        trust=TrustStore([Certificate.load(run.chip.csca_der)]),
        mrz=run.chip.mrz_key,
    )
    live = CameraLiveStep(run.camera, models)

    def progress(step: str, message: str) -> None:
        _say(f"  [{step}] {message}")

    try:
        result = run_session(
            verifier=link,
            chip=chip,
            live=live,
            matcher=FaceMatchStep(matcher),
            signer=signer,
            device=device,
            consent=ConsentMethod.OPERATOR_CONFIRMED,
            progress=progress,
        )
    except SessionError as exc:
        _say(f"  session stopped at {exc.step}: {exc.code}: {exc.message}")
        return False
    sub = result.submission
    assert sub is not None
    slug = re.sub(r"[^a-z]+", "-", run.name)
    if out is not None:
        (out / f"{slug}.evidence.cbor").write_bytes(result.evidence_token)
        (out / f"{slug}.result.cbor").write_bytes(sub.result_token)
        from witness.demo import keep_proof  # issue 16: its .tlog-proof and the *.vkey files

        keep_proof(None, out, slug, url, rp_token, sub.result_token, _say)
    try:
        checked = validate_result(
            sub.result_token, link.keyset(), now=int(time.time()), expected_txn_hash=txn
        )
    except AttestError as exc:
        _say(f"  relying party: result REFUSED: {exc.code}: {exc.message}")
        return False
    decision = DECISION_NAMES.get(checked.decision) if checked.decision else "none"
    verdict = "ACCEPTED" if checked.accepted else "not accepted"
    _say(
        f"  relying party (offline, published keys only): {verdict}: "
        f"status {checked.tier.label}, decision {decision}"
    )
    liveness = result.evidence.liveness.result.name.lower()
    got = {
        "match": checked.accepted,
        "no match": decision == "no-match",
        "liveness fails": liveness == "failed" and not checked.accepted,
    }[run.expect]
    _say(f"  {'as expected' if got else 'NOT AS EXPECTED'}: {run.expect}")
    return got


@contextlib.contextmanager
def _verifier(work: Path) -> Iterator[tuple[str, str]]:
    """`edgeproof verifier init` (demo policy) and `serve` on a free loopback port."""
    import socket

    import httpx

    _head("2. verifier: SQLite, demo policy, gunicorn on 127.0.0.1")
    inst = work / "verifier"
    init = subprocess.run(
        [
            *EDGEPROOF,
            "verifier",
            "init",
            "--instance",
            str(inst),
            "--policy",
            "demo",
            "--release-key",
            str(work / "release.pub"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if init.returncode != 0:
        raise DemoError(f"verifier init failed: {init.stderr.strip()}")
    admin = init.stdout.strip().splitlines()[-1]
    from witness.demo import start_for  # issue 16: one witness cosigns the demo's log

    witness = start_for(work, inst, _say)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = (work / "verifier.log").open("wb")
    proc = subprocess.Popen(
        [
            *EDGEPROOF,
            "verifier",
            "serve",
            "--config",
            str(inst / "verifier.toml"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-log",
            "",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise DemoError(
                    "the verifier exited: " + (work / "verifier.log").read_text()[-800:]
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise DemoError("the verifier did not start within 60 s")
            time.sleep(0.2)
        _say(f"verifier up at {url} (pid {proc.pid}), policy: demo")
        yield url, admin
    finally:
        witness.stop()
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()
