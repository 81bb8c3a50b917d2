"""`edgeproof demo`: the whole mission on one machine, on the embedded defaults, no hardware.

1. The release process signs a manifest of exactly this installation (code and models).
2. A verifier starts under gunicorn on 127.0.0.1 with SQLite and the production policy
   (every challenge derived from the verifier's nonce), trusting that release; a
   software-key device is enrolled.
3. Test passports are generated under a test CSCA and served by the passport emulator:
   through real pcscd + vpcd + pyscard when they are installed, in-process otherwise.
4. Four sessions run, each the same code path a field device runs (edge.session), with a
   camera made in memory (rig/face/synthetic.py):
   right person   the chip photo's face, animated by the project's mesh renderer, answers
                  each prompt of the nonce's challenge -> match, affirming;
   wrong person   the same live face, another person's photo on the chip -> no match;
   photo replay   the chip photo held up to the camera as a print -> liveness fails;
   replayed video the right person's recorded answers to an earlier nonce's challenge,
                  played back -> liveness fails (a fresh nonce asks for other gestures).
5. For each, the relying party validates the signed result offline with the published key
   set, and the inclusion proof of the audit log entry is checked.

The people are public-domain portraits shipped with the project's rig (rig/face/media,
SOURCES.md there). No frame or photo is written anywhere: frames are rendered into the
capture ring and wiped with it. Only the verifier's database, its log and the device key
live in a temporary folder, removed at the end, also when the demo is stopped (Ctrl-C,
SIGTERM, a closed terminal). `--out DIR` keeps the evidence and result tokens for
`edgeproof attest inspect`.

exit codes: 0 every outcome as expected; 1 an outcome not as expected, or the demo could
not run; 2 bad arguments (an --out that is not a writable folder); 128+N stopped by
signal N (130 Ctrl-C, 129 closed terminal, 143 SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from attest import paths

#: Wall-clock seconds for the camera step. A device films in real time; the demo renders
#: its camera, which on a loaded machine runs slower than real time. The gestures' own
#: windows run on the frames' stream time and are not affected; the verifier's nonce
#: lives 300 s, so a slow session still submits in time.
LIVE_S = 150.0
#: Exit codes (documented in the docstring above and docs/operator.md).
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole mission on this machine: verifier, passport emulator, a rendered camera",
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
    """A step of the demo, and a stop point (main thread only)."""
    _STOP.check()
    _say(f"\n== {text}")


@dataclass
class Run:
    """One session of the demo: which chip, which camera, what must come out."""

    name: str
    expect: str  # "match", "no match" or "liveness fails"
    chip: Any  # TestDocument
    camera: Callable[[Any], Any]  # CaptureConfig -> FrameSource
    overlay: Any = None  # who sees the prompts (the live performer)
    challenge: tuple[Any, ...] = ()  # filled in when the verifier issues it


class DemoError(RuntimeError):
    pass


class Stopped(BaseException):
    """A stop signal arrived: unwind every context (verifier, chip rig, temporary folder)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _StopSignal:
    """The stop signal received. Code that swallows BaseException where `Stopped` lands
    would lose it, so each step and the end check again: 128+N, one step later at most."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def check(self) -> None:
        if self.signum is not None:
            raise Stopped(self.signum)


_STOP = _StopSignal()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # Once is enough: further signals must not interrupt the clean-up they asked for.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    _STOP.signum = signum
    raise Stopped(signum)


def _check_out(raw: str) -> Path:
    """`--out` must be a folder this user can write (created if missing)."""
    out = Path(raw)
    if out.exists() and not out.is_dir():
        raise DemoError(f"--out {raw}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoError(f"--out {raw}: cannot create it ({exc.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise DemoError(f"--out {raw}: not writable by this user")
    return out


def _demo(args: argparse.Namespace) -> int:
    try:
        out = _check_out(args.out) if args.out else None
    except DemoError as exc:
        print(f"edgeproof demo: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _STOP.signum = None
    previous = {
        sig: signal.signal(sig, _on_signal)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        with tempfile.TemporaryDirectory(prefix="edgeproof-demo-") as tmp:
            code = _run(Path(tmp), out, args.reader)
            _STOP.check()
            return code
    except DemoError as exc:
        print(f"edgeproof demo: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Stopped as stop:
        name = signal.Signals(stop.signum).name
        print(
            f"\nedgeproof demo: stopped by {name}; verifier stopped, temporary folder removed",
            file=sys.stderr,
        )
        return 128 + stop.signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(work: Path, out: Path | None, reader: str) -> int:
    from attest.keys import SigningKey
    from attest.manifest import sign_manifest
    from firmware.release import build

    _head("1. release: measure this installation and sign its manifest")
    release_key = SigningKey.generate()
    manifest = build()
    signed_manifest = sign_manifest(manifest, release_key)
    _say(f"{len(manifest.files)} files and {len(manifest.models)} models measured")
    _say(f"release manifest digest {manifest.digest().hex()[:16]}...")

    with contextlib.ExitStack() as stack:
        _head("2. verifier: SQLite, production policy, gunicorn on 127.0.0.1")
        verifier = stack.enter_context(_verifier(work, release_key))
        _say("starting in the background (verifier init, then gunicorn)")
        people = _people()
        _head("4. verifier ready: trust this release; device: make a key and enrol it")
        url, admin = verifier.ready()
        return _with_verifier(work, out, reader, url, admin, signed_manifest, stack, people)


def _people() -> tuple[list[Run], _Cast]:
    """The passports and the people in front of the camera, and the four sessions."""
    _head("3. passports and people")
    from rig.face.facerig import OTHER_PHOTO, SUBJECT_PHOTO
    from rig.mrtd.testdoc import DocOptions, generate

    genuine = generate(DocOptions(face_photo=str(SUBJECT_PHOTO)))
    other = generate(DocOptions(face_photo=str(OTHER_PHOTO), document_number="D23145890"))
    _say("two test passports: Eileen Collins's photo, and Grace Hopper's (public-domain")
    _say("portraits, rig/face/media); the person at the camera is Eileen Collins's")
    _say("photo brought to life by the project's face-mesh renderer, in memory")
    cast = _Cast.make()
    runs = [
        Run("right person", "match", genuine, *cast.live(seed=1)),
        Run("wrong person", "no match", other, *cast.live(seed=2)),
        Run("photo replay", "liveness fails", genuine, cast.print_attack),
        Run("replayed video", "liveness fails", genuine, lambda c: None),
    ]
    replay = runs[3]
    replay.camera = cast.replay_of(runs[0], runs[1], current=replay)
    return runs, cast


def _with_verifier(
    work: Path,
    out: Path | None,
    reader: str,
    url: str,
    admin: str,
    signed_manifest: bytes,
    stack: contextlib.ExitStack,
    people: tuple[list[Run], _Cast],
) -> int:
    import httpx

    from edge.keystore import SoftwareKeyStore, cose_signer, enrol
    from edge.measure import measure
    from edge.steps import device_identity

    auth = {"Authorization": f"Bearer {admin}"}
    r = httpx.put(
        url + paths.REFERENCE_VALUES,
        content=signed_manifest,
        headers={**auth, "Content-Type": "application/cose"},
        timeout=10,
    )
    _check(r, "reference values")
    _say("reference values: the signed release manifest is trusted")
    r = httpx.post(
        url + paths.TOKENS,
        json={"role": "relying-party", "label": "demo office"},
        headers=auth,
        timeout=10,
    )
    _check(r, "relying-party token")
    rp_token = r.json()["token"]

    (work / "device").mkdir(mode=0o700)
    store = SoftwareKeyStore.create(work / "device" / "key.pem")
    enrolment = enrol(store, url, admin, device_id="demo-device")
    _say(f"device enrolled, kid {enrolment.kid[:16]}...")
    signer = cose_signer(store)
    device = device_identity(measure())

    runs, cast = people
    chip_for = stack.enter_context(_chip_transports(work, reader))

    from edge.face import FaceMatcher

    matcher = FaceMatcher()
    failures = 0
    for n, run in enumerate(runs, start=1):
        _head(f"5.{n} session: {run.name} (expected: {run.expect})")
        ok = _session(run, chip_for, cast.models, matcher, signer, device, url, rp_token, out)
        failures += 0 if ok else 1
    cast.wipe()
    _head("done")
    _say("no frame, photo, template or personal datum was written to disk or sent;")
    _say("the verifier holds only the signed evidence and its results")
    if out is not None:
        _say(f"tokens kept in {out}: try `edgeproof attest inspect {out}/right-person.result.cbor`")
    return EXIT_FAILED if failures else EXIT_OK


@dataclass
class _Cast:
    """The people in front of the demo's camera, all rendered in memory."""

    models: Any
    frame: Any  # the subject's photo as a camera frame
    rig: Any
    performers: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def make(cls) -> _Cast:
        from edge.liveness import FaceModels
        from rig.face.facerig import SUBJECT_PHOTO, FaceRig, frame_from_photo, load_photo

        photo = load_photo(SUBJECT_PHOTO)
        frame = frame_from_photo(photo)
        photo.fill(0)
        return cls(FaceModels.load(), frame, FaceRig(frame))

    def live(self, seed: int) -> tuple[Callable[[Any], Any], Any]:
        """A camera on the live performer, and the performer (who watches the prompts)."""
        from rig.face.synthetic import Performer, PerformerSource

        performer = Performer(seed)
        self.performers[str(seed)] = performer
        return (lambda config: PerformerSource(self.rig, performer, seed=seed)), performer

    def print_attack(self, config: Any) -> Any:
        from rig.face.synthetic import PrintSource

        return PrintSource(self.frame, seed=3)

    def replay_of(self, *earlier: Run, current: Run) -> Callable[[Any], Any]:
        """The attacker's video: the moves an earlier session's person made, at their
        times, played back whatever the new prompts ask. Taken from an earlier session
        whose challenge differs from this one (with three steps, two nonces give the same
        challenge once in 36 draws; a replay then could pass, which is why production
        challenges should be long enough for the risk the relying party accepts)."""
        from rig.face.synthetic import Performer, PerformerSource

        def camera(config: Any) -> Any:
            for run in earlier:
                if run.challenge and run.challenge != current.challenge:
                    _say(
                        f"  [attack] replaying the recording of the {run.name!r} session, "
                        f"which answered {_spec(run.challenge)}"
                    )
                    moves = list(run.overlay.moves)
                    return PerformerSource(self.rig, Performer.scripted(moves), seed=4)
            raise DemoError("no earlier session with another challenge to replay")

        return camera

    def wipe(self) -> None:
        self.rig.wipe()
        self.frame.fill(0)


def _spec(gestures: tuple[Any, ...]) -> str:
    return ",".join(g.value for g in gestures)


def _check(r: Any, what: str) -> None:
    if r.status_code not in (200, 201):
        raise DemoError(f"{what}: verifier answered {r.status_code}: {r.text[:300]}")


@contextlib.contextmanager
def _chip_transports(work: Path, reader: str) -> Iterator[Callable[[Any], Any]]:
    """A function giving a transport to a chip holding the given document."""
    from rig.mrtd.card import EmulatedChip, InProcessTransport
    from rig.mrtd.pcscd import missing_parts

    missing = missing_parts()
    use_pcscd = reader == "pcscd" or (reader == "auto" and not missing)
    if reader == "pcscd" and missing:
        raise DemoError(f"--reader pcscd needs: {', '.join(missing)}")
    if not use_pcscd:
        why = "as asked" if reader == "in-process" else f"({', '.join(missing)} not installed)"
        _say(f"passport emulator: in-process {why}")
        yield lambda doc: InProcessTransport(EmulatedChip(doc))
        return
    from attest.errors import CodedError
    from edge.mrtd import PcscTransport
    from rig.mrtd.pcscd import pcsc_rig

    (work / "pcsc").mkdir()
    with contextlib.ExitStack() as rig_stack:
        try:
            rig = rig_stack.enter_context(pcsc_rig(work / "pcsc"))
        except (OSError, RuntimeError, CodedError) as exc:
            # pcscd is installed but cannot run for this user (no root, a busy or foreign
            # lock): the demo still runs, on the in-process reader, and says why.
            if reader == "pcscd":
                raise DemoError(f"--reader pcscd: the pcscd rig cannot start: {exc}") from None
            _say(f"passport emulator: in-process (pcscd installed but cannot start: {exc})")
            yield lambda doc: InProcessTransport(EmulatedChip(doc))
            return
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
    from edge.mrtd import TrustStore
    from edge.session import SessionError, Timeouts, run_session
    from edge.steps import CameraLiveStep, FaceMatchStep, PassportChipStep
    from edge.verifier_link import HttpVerifier

    txn = hashlib.sha256(f"demo transaction {run.name} {time.time()}".encode()).digest()
    link = _Watched(HttpVerifier(url, rp_token, txn_hash=txn), run)
    chip = PassportChipStep(
        transport=lambda: chip_for(run.chip),
        trust=TrustStore([Certificate.load(run.chip.csca_der)]),
        mrz=run.chip.mrz_key,
    )
    live = CameraLiveStep(
        run.camera, models, overlay=_Prompts(run.overlay) if run.overlay else None
    )

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
            timeouts=Timeouts(live_s=LIVE_S),
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
        from rig.witness import keep_proof  # its .tlog-proof and the *.vkey files

        keep_proof(None, out, slug, url, rp_token, sub.result_token, _say)
    try:
        checked = validate_result(
            sub.result_token, link.inner.keyset(), now=int(time.time()), expected_txn_hash=txn
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
        "no match": decision == "no-match" and checked.tier.label == "affirming",
        "liveness fails": liveness != "passed" and not checked.accepted,
    }[run.expect]
    _say(f"  {'as expected' if got else 'NOT AS EXPECTED'}: {run.expect}")
    return got


class _Prompts:
    """The device's screen: prints each prompt and shows it to the performer."""

    def __init__(self, person: Any) -> None:
        self._person = person

    def show(self, prompt: Any) -> None:
        if prompt.gesture is not None:
            _say(f"  [screen] {prompt.text}")
        self._person.show(prompt)

    def done(self, message: str) -> None:
        self._person.done(message)


class _Watched:
    """The device's verifier link, noting the challenge issued (the demo prints it and the
    replay attack picks a recording that answered another one)."""

    def __init__(self, inner: Any, run: Run) -> None:
        self.inner, self._run = inner, run

    def challenge(self) -> Any:
        ch = self.inner.challenge()
        self._run.challenge = tuple(ch.gestures)
        return ch

    def submit(self, evidence: bytes) -> Any:
        return self.inner.submit(evidence)


class _Verifier:
    """The demo's verifier: the rig's `VerifierServer` (rig/verifier.py: `verifier init` with
    the production policy, then `serve` on a free loopback port), with the demo's witness
    (rig/witness.py) and, when installed, nginx in front; booted in a background thread
    while the demo prepares passports and models. `stop()` may run at any moment (a
    signal): the rig stops whatever child runs by PID and starts none after it."""

    def __init__(self, work: Path, release_key: Any) -> None:
        from rig.verifier import VerifierServer

        self.work = work
        (work / "verifier").mkdir()
        self.server = VerifierServer(work / "verifier", release_key, workers=1, init=False)
        self.witness: Any = None  # rig.witness.WitnessProc, once started
        self.proxy: Any = None  # verifier.proxy.NginxProxy, when nginx is installed
        self._lock = threading.Lock()
        self._stopping = False
        self._error: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._boot, name="verifier-boot", daemon=True)

    def start(self) -> _Verifier:
        self._thread.start()
        return self

    def _boot(self) -> None:
        from rig.verifier import VerifierStoppedError
        from rig.witness import start_for  # one witness cosigns the demo's log

        try:
            self.server.init()
            witness = start_for(self.work, self.server.instance, _say)
            with self._lock:
                self.witness, stopping = witness, self._stopping
            if stopping:  # stop() ran while it started: it could not see it
                witness.stop()
                return
            self.server.start(timeout=60)
        except VerifierStoppedError:
            pass
        except Exception as exc:  # reported by ready(), in the main thread
            self._error = f"the verifier could not start: {exc}"
        finally:
            self._done.set()

    def ready(self) -> tuple[str, str]:
        """Wait until it answers (signals still interrupt the wait)."""
        while not self._done.wait(0.2):
            pass
        if self._error is not None:
            raise DemoError(self._error)
        assert self.server.proc is not None
        _say(f"verifier up at {self.server.base} (pid {self.server.proc.pid}), policy: production")
        return self._front(), self.server.admin

    def _front(self) -> str:
        """The URL clients use: Debian's nginx in front of gunicorn when it is installed, as
        the verifier is deployed (docs/deploy.md: slow clients cannot hold its workers)."""
        from rig.proc import free_port
        from verifier.proxy import NginxProxy, nginx_binary

        if nginx_binary() is None:
            _say("nginx is not installed: clients talk to gunicorn directly (docs/deploy.md)")
            return self.server.base
        listen = f"127.0.0.1:{free_port()}"
        proxy = NginxProxy(self.work / "nginx", listen, f"127.0.0.1:{self.server.port}")
        with self._lock:
            if self._stopping:
                return self.server.base
            self.proxy = proxy
        started = proxy.start().proc
        assert started is not None
        _say(f"nginx in front at http://{listen} (pid {started.pid}), as deployed")
        return f"http://{listen}"

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            witness, proxy = self.witness, self.proxy
        if proxy is not None:
            proxy.stop()
        if witness is not None:
            witness.stop()
        self.server.close()
        self._thread.join(timeout=30)


@contextlib.contextmanager
def _verifier(work: Path, release_key: Any) -> Iterator[_Verifier]:
    verifier = _Verifier(work, release_key).start()
    try:
        yield verifier
    finally:
        verifier.stop()
