"""`edgeproof device verify|run|flush-queue`: sessions, the device service, the queue.

verify       run one verification: challenge, chip, camera + liveness, match, wipe, sign,
             submit; every step is shown. When the verifier is unreachable at submission,
             the signed evidence (nothing personal) waits in the offline queue.
run          the device service (systemd unit): an operator console on the terminal that
             runs one session per passport, flushing the queue in between.
flush-queue  send queued evidence; entries whose nonce expired are dropped and counted.

Exit codes: 0 the verifier affirmed a match (verify) or the queue was drained (flush);
1 a session step failed, or the result is not an affirmed match; 2 bad arguments;
3 the evidence was queued (verifier unreachable).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_QUEUED = 0, 1, 2, 3
DEFAULT_QUEUE = "/var/lib/edgeproof/queue"


def add_parsers(g: Any) -> None:
    v = g.add_parser(
        "verify", help="run one verification session", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    v.add_argument("--verifier", required=True, metavar="URL", help="verifier base URL")
    v.add_argument(
        "--token",
        default=os.environ.get("EDGEPROOF_RP_TOKEN"),
        help="the office's relying-party token (or $EDGEPROOF_RP_TOKEN)",
    )
    v.add_argument("--key", default=os.environ.get("EDGEPROOF_KEY"), help="key spec (see enroll)")
    v.add_argument("--tcti", default=os.environ.get("EDGEPROOF_TCTI"), help="TPM connection")
    v.add_argument("--mrz", metavar="DOC,YYMMDD,YYMMDD", help="document number, birth, expiry")
    v.add_argument("--can", help="card access number (PACE)")
    v.add_argument("--reader", help="PC/SC reader name or index (default: first with a card)")
    v.add_argument("--trust", required=True, metavar="DIR", help="CSCA certificates / master list")
    v.add_argument(
        "--camera", default="v4l2:0", help="capture spec: v4l2:0, picamera2:0, replay:PATH"
    )
    v.add_argument("--txn", metavar="HEX", help="relying party's transaction hash (SHA-256, hex)")
    v.add_argument("--queue", default=os.environ.get("EDGEPROOF_QUEUE", DEFAULT_QUEUE))
    v.add_argument(
        "--consent",
        choices=("ask", "given"),
        default="ask",
        help="ask the operator to confirm the person's consent (default), or 'given' when "
        "the operator has already confirmed it",
    )
    v.add_argument("--lang", choices=("en", "fr"), default="en", help="the verdict's language")
    v.set_defaults(func=_verify)

    r = g.add_parser(
        "run", help="the device service: an operator console that runs session after session"
    )
    r.add_argument("--config", default="/etc/edgeproof/site.toml", help="site configuration")
    r.add_argument("--lang", choices=("en", "fr"), help="default language ([site] lang)")
    r.add_argument(
        "--screen-port", type=int, metavar="PORT",
        help="the person's page on 127.0.0.1:PORT ([site] screen_port; 0: none)",
    )  # fmt: skip
    r.set_defaults(func=_run)

    f = g.add_parser("flush-queue", help="send evidence queued while the verifier was down")
    f.add_argument("--verifier", required=True, metavar="URL")
    f.add_argument("--queue", default=os.environ.get("EDGEPROOF_QUEUE", DEFAULT_QUEUE))
    f.set_defaults(func=_flush)


def _say(step: str, message: str) -> None:
    print(f"[{step}] {message}", flush=True)


def _problem(part: str, message: str, action: str) -> None:
    """One line, the same on the screen (stdout: tty1) and in the journal (stderr)."""
    line = f"[{part}] {message}; {action}"
    print(line, flush=True)
    if not (sys.stdout.isatty() and sys.stderr.isatty() and _same_tty()):
        print(line, file=sys.stderr, flush=True)


def _verdict(verdict: Any, lang: str) -> None:
    """The clerk's verdict line on the console, and in the journal (no personal datum in it:
    a plain verdict and a reason code), so a field office can count outcomes."""
    line = f"[verdict] {verdict.clerk(lang)}"
    print(line, flush=True)
    if not (sys.stdout.isatty() and sys.stderr.isatty() and _same_tty()):
        print(line, file=sys.stderr, flush=True)


def _same_tty() -> bool:
    try:
        return os.ttyname(sys.stdout.fileno()) == os.ttyname(sys.stderr.fileno())
    except (OSError, ValueError):
        return False


def _consent(mode: str) -> Any:
    from attest.evidence import ConsentMethod

    if mode == "given":
        return ConsentMethod.OPERATOR_CONFIRMED
    if not sys.stdin.isatty():
        print(
            "consent: no terminal to ask on; pass --consent given once confirmed", file=sys.stderr
        )
        return None
    answer = input("Has the person consented to a biometric check? [y/N] ").strip().lower()
    return ConsentMethod.OPERATOR_CONFIRMED if answer in ("y", "yes") else None


def _secret_input(prompt: str) -> str:
    """A line typed without echo, so the MRZ key (document number, date of birth) is never
    on the terminal, during or after the session (docs/privacy.md). Reads sys.stdin itself
    (not /dev/tty, as getpass does): the service's terminal is its stdin."""
    import termios

    fd = sys.stdin.fileno()
    try:
        old = termios.tcgetattr(fd)
    except termios.error:
        print(prompt, end="", flush=True)
        return sys.stdin.readline().rstrip("\n")
    new = list(old)
    new[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSADRAIN, new)  # echo off before the prompt invites typing
    try:
        print(prompt, end="", flush=True)
        line = sys.stdin.readline()
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)
        print(flush=True)
    if not line:
        raise EOFError
    return line.rstrip("\n")


@dataclass
class Device:
    """Everything a session needs that outlives one session: key, models, measurement.

    Built once per process (`device run` keeps it across sessions: loading the models and
    measuring the installation cost seconds, a session should not).
    """

    verifier_url: str
    token: str
    key_spec: str
    tcti: str | None
    trust_dir: str
    camera: str
    reader: str | int | None
    queue_dir: str

    def __post_init__(self) -> None:
        from edge.face.match import FaceMatcher
        from edge.keystore.base import cose_signer
        from edge.keystore.open import open_keystore
        from edge.liveness.engine import FaceModels
        from edge.measure import measure
        from edge.mrtd.passive import TrustStore
        from edge.queue import EvidenceQueue
        from edge.steps import device_identity

        tcti = {"tcti": self.tcti} if self.tcti else {}
        self.signer = cose_signer(open_keystore(self.key_spec, **tcti))
        self.identity = device_identity(measure())
        self.trust = TrustStore.from_path(self.trust_dir)
        self.models = FaceModels.load()
        self.matcher = FaceMatcher()
        self.queue = EvidenceQueue(Path(self.queue_dir))

    def session(
        self,
        mrz: Any,
        can: str | None,
        consent: Any,
        txn: bytes | None = None,
        overlay: Any = None,
        progress: Any = _say,
    ) -> tuple[int, Any]:
        """One session: its exit code (as `device verify`) and its plain verdict."""
        from edge.liveness.prompts import TextOverlay
        from edge.mrtd.transport import PcscTransport
        from edge.screen.verdict import from_error, from_result
        from edge.session import SessionError, run_session
        from edge.steps import CameraLiveStep, FaceMatchStep, PassportChipStep
        from edge.verifier_link import HttpVerifier

        link = HttpVerifier(self.verifier_url, self.token, txn_hash=txn)

        def on_unreachable(token: bytes, evidence: Any, challenge: Any) -> None:
            deadline = min(evidence.exp, challenge.expires_at)
            self.queue.put(token, cti=evidence.cti, deadline=deadline)

        try:
            result = run_session(
                verifier=link,
                chip=PassportChipStep(lambda: PcscTransport(self.reader), self.trust, mrz, can),
                live=CameraLiveStep(
                    self.camera, self.models, overlay=overlay or TextOverlay(sys.stdout)
                ),
                matcher=FaceMatchStep(self.matcher),
                signer=self.signer,
                device=self.identity,
                consent=consent,
                progress=progress,
                on_unreachable=on_unreachable,
            )
        except SessionError as exc:
            _say(exc.step, f"stopped: {exc.code}: {exc.message}")
            return EXIT_FAILED, from_error(exc.code)
        finally:
            link.close()
        sub = result.submission
        if sub is None:
            return EXIT_QUEUED, from_result(None, None)
        ok = sub.status == "affirming" and sub.decision == "match"
        return (EXIT_OK if ok else EXIT_FAILED), from_result(sub.status, sub.decision, sub.reason)

    def verify(self, mrz: Any, can: str | None, consent: Any, txn: bytes | None = None) -> int:
        """One session; the exit code of `device verify`."""
        return self.session(mrz, can, consent, txn)[0]


def _reader(spec: str | None) -> str | int | None:
    return int(spec) if spec and spec.isdigit() else spec


def _verify(args: argparse.Namespace) -> int:
    from edge.keystore.open import DEFAULT_SPEC
    from edge.mrtd.mrz import MrzKey

    if not args.token:
        print(
            "verify: give the relying-party token (--token or $EDGEPROOF_RP_TOKEN)", file=sys.stderr
        )
        return EXIT_USAGE
    if not (args.mrz or args.can):
        print("verify: give --mrz DOC,YYMMDD,YYMMDD or --can N to open the chip", file=sys.stderr)
        return EXIT_USAGE
    try:
        mrz = MrzKey(*args.mrz.split(",")) if args.mrz else None
        txn = bytes.fromhex(args.txn) if args.txn else None
    except (TypeError, ValueError) as exc:
        print(f"verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    cfg = {
        "verifier_url": args.verifier, "key": args.key or DEFAULT_SPEC, "tcti": args.tcti or "",
        "trust": args.trust, "camera": args.camera, "reader": args.reader or "",
        "queue": args.queue,
    }  # fmt: skip
    try:
        device = _load_device(cfg, args.token)
    except PartMissingError as missing:
        missing.show()
        return EXIT_FAILED
    code, verdict = device.session(mrz, args.can, _consent(args.consent), txn)
    _say("verdict", verdict.clerk(args.lang))
    return code


SITE_KEYS = {"verifier_url", "reader", "camera", "trust", "token_file", "lang", "screen_port"}


def load_site_config(path: Path) -> dict[str, str]:
    """The measured defaults (firmware/image/edgeproof.toml) with the site's [site] values.

    The site file may set only [site] keys: everything else is part of the measured release.
    """
    import tomllib

    defaults_file = Path(__file__).resolve().parent.parent / "firmware" / "image" / "edgeproof.toml"
    defaults = tomllib.loads(defaults_file.read_text())
    try:
        site = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if set(site) - {"site"} or set(site.get("site", {})) - SITE_KEYS:
        extra = sorted(set(site) - {"site"}) + sorted(set(site.get("site", {})) - SITE_KEYS)
        raise ValueError(f"{path} may set only [site] {sorted(SITE_KEYS)}; unknown: {extra}")
    out = {**defaults["site"], **site.get("site", {})}
    out["key"] = os.environ.get("EDGEPROOF_KEY") or defaults["keys"]["store"]
    out["tcti"] = os.environ.get("EDGEPROOF_TCTI") or defaults["keys"]["tcti"]
    out["queue"] = os.environ.get("EDGEPROOF_QUEUE") or defaults["queue"]["dir"]
    if not out.get("verifier_url"):
        raise ValueError(f"{path} must set [site] verifier_url")
    if out.get("lang", "en") not in ("en", "fr"):
        raise ValueError(f'{path}: [site] lang must be "en" or "fr"')
    return {k: str(v) for k, v in out.items()}


class PartMissingError(Exception):
    """A part the service needs is missing or failing: `part`, what is wrong, what to do,
    and whether waiting can fix it (pcscd restarting, a reader plugged in, the network)."""

    def __init__(self, part: str, message: str, action: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.part, self.message, self.action, self.retry = part, message, action, retry

    def show(self) -> None:
        _problem(self.part, self.message, self.action)


def _load_device(cfg: dict[str, str], token: str) -> Device:
    """Build the device, naming the part that is missing and the fix; see docs/operator.md
    ("When the service cannot start")."""
    from edge.face.errors import FaceError
    from edge.keystore.errors import KeyNotFoundError, KeyStoreError
    from edge.mrtd.errors import TrustStoreError

    key = cfg["key"]
    try:
        return Device(
            cfg["verifier_url"], token, key, cfg["tcti"], cfg["trust"], cfg["camera"],
            _reader(cfg["reader"] or None), cfg["queue"],
        )  # fmt: skip
    except KeyNotFoundError:
        # The spec as configured, `tpm:` included: without it keygen makes a software key.
        raise PartMissingError(
            "key", f"no device key at {key}",
            f"create it with `edgeproof device keygen --key {key}`, then "
            f"`edgeproof device enroll --key {key} --verifier URL`",
        ) from None  # fmt: skip
    except KeyStoreError as exc:
        where = f" (TPM {cfg['tcti']})" if key.startswith("tpm:") else ""
        raise PartMissingError(
            "key", f"the device key {key}{where} cannot be used: {_coded(exc)}",
            "check the TPM and the key file's owner and mode (0600, user edgeproof)",
        ) from None  # fmt: skip
    except TrustStoreError as exc:
        raise PartMissingError(
            "trust", f"CSCA trust store {cfg['trust']}: {_coded(exc)}",
            "put the CSCA certificates or ICAO master lists there "
            f"(`edgeproof passport trust build --master-list F --csca F --out {cfg['trust']}`)",
        ) from None  # fmt: skip
    except (FaceError, OSError, ValueError) as exc:
        raise PartMissingError(
            "release", f"the installed release cannot load: {_coded(exc)}",
            "reinstall the release (firmware/image/install.sh)",
        ) from None  # fmt: skip


def _coded(exc: Exception) -> str:
    """`code: message` once (CodedError's str() already starts with its code)."""
    code = getattr(exc, "code", None) or type(exc).__name__
    text = str(exc)
    return text if text.startswith(f"{code}:") else f"{code}: {text}"


def _check_camera(spec: str) -> None:
    from edge.capture.errors import CaptureError

    try:
        from edge.capture.spec import open_source

        open_source(spec).close()
    except (CaptureError, OSError, ValueError) as exc:
        raise PartMissingError(
            "camera", f"camera {spec} cannot be opened: {_coded(exc)}",
            "connect the camera (or fix [site] camera in site.toml)", retry=True,
        ) from None  # fmt: skip


def _check_reader(reader: str | int | None) -> None:
    from edge.mrtd.errors import TransportError
    from edge.mrtd.transport import list_readers

    try:
        names = list_readers()
    except TransportError:
        raise PartMissingError(
            "pcscd", "the PC/SC daemon (pcscd) is not running",
            "start it: `systemctl start pcscd.socket`; retrying", retry=True,
        ) from None  # fmt: skip
    if not names:
        raise PartMissingError(
            "reader", "no card reader is connected",
            "plug in the passport reader; retrying", retry=True,
        ) from None  # fmt: skip
    if isinstance(reader, str) and not any(reader.lower() in n.lower() for n in names):
        raise PartMissingError(
            "reader", f"no reader matches [site] reader {reader!r} (have: {names})",
            "plug it in or fix [site] reader; retrying", retry=True,
        )  # fmt: skip


def _check_verifier(device: Device) -> None:
    from edge.session import SessionError
    from edge.verifier_link import HttpVerifier

    link = HttpVerifier(device.verifier_url, device.token)
    try:
        link.keyset()
    except (SessionError, OSError) as exc:
        code = getattr(exc, "code", type(exc).__name__)
        raise PartMissingError(
            "verifier", f"verifier {device.verifier_url} unreachable or refusing: {code}",
            "check the network and [site] verifier_url; retrying", retry=True,
        ) from None  # fmt: skip
    finally:
        link.close()


#: Waits between retries of a part that may come back (seconds; the last one repeats).
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


def _wait_for(check: Any, *args: Any, screen: Any = None) -> None:
    """Run `check` until it passes, backing off (BACKOFF_S); one line when a part goes
    missing, one when it is back. Forever: the service stays up for the operator to fix
    it (`$EDGEPROOF_RETRY_MAX` bounds the attempts, for tests)."""
    shown: str | None = None
    limit = int(os.environ.get("EDGEPROOF_RETRY_MAX", "0") or 0)
    attempt = 0
    while True:
        try:
            check(*args)
        except PartMissingError as missing:
            if not missing.retry:
                raise
            if missing.message != shown:
                missing.show()
                shown = missing.message
                if screen is not None:
                    screen.phase("problem")
            attempt += 1
            if limit and attempt >= limit:
                raise
            time.sleep(BACKOFF_S[min(attempt - 1, len(BACKOFF_S) - 1)])
            continue
        if shown is not None:
            _say("ok", "back: " + shown)
        return


def _run(args: argparse.Namespace) -> int:
    """The device service: operator console on the terminal, the person's page on loopback,
    one session per passport. Exits only on a part that waiting cannot fix (non-zero, so
    systemd restarts it: firmware/image/edgeproof-device.service) or when its terminal
    closes (non-zero too); an empty line only re-asks."""
    from edge.liveness.prompts import PublishingOverlay
    from edge.liveness.tracker import ChallengePolicy
    from edge.screen.page import Screen, serve
    from edge.screen.verdict import from_error
    from edge.verifier_link import flush_queue

    try:
        cfg = load_site_config(Path(args.config))
    except ValueError as exc:
        _problem("config", str(exc), f"fix {args.config} (docs/deploy.md)")
        return EXIT_USAGE
    try:
        token = Path(cfg["token_file"]).read_text().strip()
    except OSError as exc:
        _problem("token", f"cannot read {cfg['token_file']}: {exc.strerror}",
                 "put the office's relying-party token there (root:edgeproof 0640)")  # fmt: skip
        return EXIT_USAGE
    lang = args.lang or cfg.get("lang", "en")
    screen = Screen(lang)
    port = args.screen_port if args.screen_port is not None else int(cfg.get("screen_port") or 0)
    server = None
    if port:
        try:
            server = serve(screen, port)
        except OSError as exc:
            _problem("screen", f"cannot serve the person's page on 127.0.0.1:{port}: "
                     f"{exc.strerror}", "free the port or change [site] screen_port")  # fmt: skip
    try:
        try:
            device = _load_device(cfg, token)
            _wait_for(_check_camera, cfg["camera"], screen=screen)
        except PartMissingError as missing:
            if not missing.retry:  # a retried part's line is already out
                missing.show()
            screen.phase("problem")
            return EXIT_FAILED
        print(f"edgeproof device ready; verifier {cfg['verifier_url']}", flush=True)
        # The countdown is the tracker's own step window (the liveness policy in force).
        window = ChallengePolicy().step_timeout_s
        overlay = PublishingOverlay(screen.prompt, window_s=window)
        return _console(device, cfg, screen, overlay, flush_queue,
                        from_error)  # fmt: skip
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()


def _console(
    device: Device, cfg: dict[str, str], screen: Any, overlay: Any, flush: Any, from_error: Any
) -> int:
    """Session after session: parts checked, consent asked first, then the MRZ (no echo)."""
    from attest.evidence import ConsentMethod
    from edge.mrtd.mrz import MrzKey

    default_lang = screen.lang
    while True:
        screen.set_lang(default_lang)
        try:
            _wait_for(_check_reader, device.reader, screen=screen)
            _wait_for(_check_verifier, device, screen=screen)
        except PartMissingError:  # only with $EDGEPROOF_RETRY_MAX: already shown
            screen.phase("problem")
            return EXIT_FAILED
        report = flush(device.queue, cfg["verifier_url"], now=int(time.time()))
        if report.sent or report.expired or report.remaining:
            _say("queue", f"sent {report.sent}, dropped {report.expired} expired, "
                 f"{report.remaining} waiting")  # fmt: skip
        # 1. Consent, before anything personal is typed (docs/privacy.md).
        try:
            if not _ask_consent(screen):
                verdict = from_error("session.no-consent")
                screen.verdict(verdict)
                _verdict(verdict, screen.lang)
                continue
            # 2. Only now the MRZ key or CAN, read without echo.
            screen.phase("passport")
            line = _secret_input("MRZ key (DOC,YYMMDD,YYMMDD) or CAN, typed unseen: ").strip()
        except EOFError:
            _problem("console", "the terminal closed", "the service restarts")
            return EXIT_FAILED
        if not line:
            screen.phase("idle")
            continue
        try:
            mrz = MrzKey(*line.split(",")) if "," in line else None
        except (TypeError, ValueError) as exc:
            print(f"not an MRZ key ({type(exc).__name__}); start again", flush=True)
            continue
        can = None if mrz else line

        def progress(step: str, message: str) -> None:
            _say(step, message)
            if step == "chip" and "passport" in message:
                screen.phase("passport")
            elif step in ("match", "erase", "sign", "result"):
                screen.phase("working")

        _, verdict = device.session(
            mrz, can, ConsentMethod.OPERATOR_CONFIRMED, overlay=_Both(overlay), progress=progress
        )
        del mrz, can, line  # Python strings cannot be zeroed; drop the references at least
        screen.verdict(verdict)
        _verdict(verdict, screen.lang)


YES = ("y", "yes", "o", "oui")
#: How long the person's page keeps a verdict before showing the next consent text.
VERDICT_HOLD_S = 15.0


def _ask_consent(screen: Any) -> bool:
    """The consent question, first thing in every session. `en`/`fr` picks this session's
    language (the person's page and the verdict); an empty line only asks again."""
    while True:
        screen.phase("consent", after=VERDICT_HOLD_S)
        answer = (
            input(
                f"\nNew session [{screen.lang}]: read the consent text to the person (their "
                "screen shows it). Consented? [y/n; en/fr sets the language] "
            )
            .strip()
            .lower()
        )
        if answer in ("en", "fr"):
            screen.set_lang(answer)
            screen.phase("consent")
            continue
        if answer in YES:
            return True
        if answer:
            return False


class _Both:
    """The page's overlay and the clerk's terminal line for each prompt."""

    def __init__(self, page: Any) -> None:
        from edge.liveness.prompts import TextOverlay

        self.page, self.text = page, TextOverlay(sys.stdout)

    def show(self, prompt: Any) -> None:
        self.page.show(prompt)
        self.text.show(prompt)

    def done(self, message: str) -> None:
        self.page.done(message)
        self.text.done(message)


def _flush(args: argparse.Namespace) -> int:
    from edge.queue import EvidenceQueue
    from edge.verifier_link import flush_queue

    report = flush_queue(EvidenceQueue(Path(args.queue)), args.verifier, now=int(time.time()))
    print(f"sent {report.sent}, dropped {report.expired} expired, {report.remaining} waiting")
    return EXIT_OK if report.remaining == 0 else EXIT_QUEUED
