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

The device these commands drive, and the parts checked before and between sessions, are
edge/device.py; the `device` group itself is edge/cli.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from edge.device import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_QUEUED,
    Device,
    PartMissingError,
    check_camera,
    check_reader,
    check_verifier,
    console_line,
    load_device,
    load_site_config,
    problem,
    say,
    wait_for,
)

EXIT_USAGE = 2
#: Asked only after consent; what is typed is never echoed (docs/privacy.md).
KEY_PROMPT = "MRZ key (DOC,YYMMDD,YYMMDD) or CAN, typed unseen: "
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
    v.add_argument(
        "--mrz",
        metavar="DOC,YYMMDD,YYMMDD",
        help="document number, birth, expiry; for scripts only: it stays in the process "
        "list and the shell history. Without --mrz or --can the key is asked after consent, "
        "typed unseen",
    )
    v.add_argument("--can", help="card access number (PACE); see --mrz")
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


def _verdict(verdict: Any, lang: str) -> None:
    """The clerk's verdict line on the console, and in the journal (no personal datum in it:
    a plain verdict and a reason code), so a field office can count outcomes."""
    console_line(f"[verdict] {verdict.clerk(lang)}")


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


def _verify(args: argparse.Namespace) -> int:
    from edge.keystore import DEFAULT_SPEC

    if not args.token:
        print(
            "verify: give the relying-party token (--token or $EDGEPROOF_RP_TOKEN)", file=sys.stderr
        )
        return EXIT_USAGE
    try:
        mrz, can = _chip_key(args.mrz) if args.mrz else (None, args.can)
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
        device = load_device(cfg, args.token)
    except PartMissingError as missing:
        missing.show()
        return EXIT_FAILED
    # Consent first; only then the chip's key, when the command line did not carry it
    # (docs/privacy.md: nothing personal is typed before the person consents).
    consent = _consent(args.consent)
    if consent is not None and not (mrz or can):
        try:
            mrz, can = _chip_key(_secret_input(KEY_PROMPT))
        except EOFError:
            mrz = can = None
        except (TypeError, ValueError) as exc:
            print(f"verify: not an MRZ key ({type(exc).__name__})", file=sys.stderr)
            return EXIT_USAGE
        if not (mrz or can):
            print("verify: no MRZ key or CAN given: the chip cannot be opened", file=sys.stderr)
            return EXIT_USAGE
    code, verdict = device.session(mrz, can, consent, txn)
    del mrz, can  # Python strings cannot be zeroed; drop the references at least
    say("verdict", verdict.clerk(args.lang))
    return code


def _chip_key(line: str) -> tuple[Any, str | None]:
    """`DOC,YYMMDD,YYMMDD` is an MRZ key (ICAO 9303-11 section 9.7.2, BAC/PACE from the
    MRZ); anything else non-empty is a CAN (9303-11 section 4.4, PACE); empty is neither."""
    from edge.mrtd import MrzKey

    line = line.strip()
    if "," in line:
        return MrzKey(*line.split(",")), None
    return None, (line or None)


def _run(args: argparse.Namespace) -> int:
    """The device service: operator console on the terminal, the person's page on loopback,
    one session per passport. Exits only on a part that waiting cannot fix (non-zero, so
    systemd restarts it: firmware/image/edgeproof-device.service) or when its terminal
    closes (non-zero too); an empty line only re-asks."""
    from edge.liveness import ChallengePolicy, PublishingOverlay
    from edge.screen import Screen, from_error, serve
    from edge.verifier_link import flush_queue

    try:
        cfg = load_site_config(Path(args.config))
    except ValueError as exc:
        problem("config", str(exc), f"fix {args.config} (docs/deploy.md)")
        return EXIT_USAGE
    try:
        token = Path(cfg["token_file"]).read_text().strip()
    except OSError as exc:
        problem("token", f"cannot read {cfg['token_file']}: {exc.strerror}",
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
            problem("screen", f"cannot serve the person's page on 127.0.0.1:{port}: "
                     f"{exc.strerror}", "free the port or change [site] screen_port")  # fmt: skip
    try:
        try:
            device = load_device(cfg, token)
            wait_for(check_camera, cfg["camera"], screen=screen)
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

    default_lang = screen.lang
    while True:
        screen.set_lang(default_lang)
        try:
            wait_for(check_reader, device.reader, screen=screen)
            wait_for(check_verifier, device, screen=screen)
        except PartMissingError:  # only with $EDGEPROOF_RETRY_MAX: already shown
            screen.phase("problem")
            return EXIT_FAILED
        report = flush(device.queue, cfg["verifier_url"], now=int(time.time()))
        if report.sent or report.expired or report.remaining:
            say("queue", f"sent {report.sent}, dropped {report.expired} expired, "
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
            line = _secret_input(KEY_PROMPT).strip()
        except EOFError:
            problem("console", "the terminal closed", "the service restarts")
            return EXIT_FAILED
        try:
            mrz, can = _chip_key(line)
        except (TypeError, ValueError) as exc:
            print(f"not an MRZ key ({type(exc).__name__}); start again", flush=True)
            continue
        if not (mrz or can):
            screen.phase("idle")
            continue

        def progress(step: str, message: str) -> None:
            say(step, message)
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
        from edge.liveness import TextOverlay

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
