"""The device as the session commands see it: what outlives one session (`Device`: key,
models, measurement, trust store, queue), the site configuration, and the parts the service
checks before and between sessions, each failure naming the part and the fix.

Kept apart from edge/verify_cmd.py (the commands and the operator console) because both
`device verify` and `device run` build and check the same device; see docs/operator.md.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_QUEUED = 0, 1, 3


def say(step: str, message: str) -> None:
    """A session step's progress line, as the clerk reads it on the console."""
    print(f"[{step}] {message}", flush=True)


def console_line(line: str) -> None:
    """One line, the same on the screen (stdout: tty1) and in the journal (stderr), written
    once where both are the same terminal."""
    print(line, flush=True)
    if not (sys.stdout.isatty() and sys.stderr.isatty() and _same_tty()):
        print(line, file=sys.stderr, flush=True)


def problem(part: str, message: str, action: str) -> None:
    """A missing or failing part: what is wrong and what to do, on screen and journal."""
    console_line(f"[{part}] {message}; {action}")


def _same_tty() -> bool:
    try:
        return os.ttyname(sys.stdout.fileno()) == os.ttyname(sys.stderr.fileno())
    except (OSError, ValueError):
        return False


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
        from edge.face import FaceMatcher
        from edge.keystore import cose_signer, open_keystore
        from edge.liveness import FaceModels
        from edge.measure import measure
        from edge.mrtd import TrustStore
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
        progress: Any = say,
    ) -> tuple[int, Any]:
        """One session: its exit code (as `device verify`) and its plain verdict."""
        from edge.liveness import TextOverlay
        from edge.mrtd import PcscTransport
        from edge.screen import from_error, from_result
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
            say(exc.step, f"stopped: {exc.code}: {exc.message}")
            return EXIT_FAILED, from_error(exc.code)
        finally:
            link.close()
        sub = result.submission
        if sub is None:
            return EXIT_QUEUED, from_result(None, None)
        ok = sub.status == "affirming" and sub.decision == "match"
        return (EXIT_OK if ok else EXIT_FAILED), from_result(sub.status, sub.decision, sub.reason)


def reader_spec(spec: str | None) -> str | int | None:
    return int(spec) if spec and spec.isdigit() else spec


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
        problem(self.part, self.message, self.action)


def load_device(cfg: dict[str, str], token: str) -> Device:
    """Build the device, naming the part that is missing and the fix; see docs/operator.md
    ("When the service cannot start")."""
    from edge.face import FaceError
    from edge.keystore import KeyNotFoundError, KeyStoreError
    from edge.mrtd import TrustStoreError

    key = cfg["key"]
    try:
        return Device(
            cfg["verifier_url"], token, key, cfg["tcti"], cfg["trust"], cfg["camera"],
            reader_spec(cfg["reader"] or None), cfg["queue"],
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


def check_camera(spec: str) -> None:
    from edge.capture import CaptureError, open_source

    try:
        open_source(spec).close()
    except (CaptureError, OSError, ValueError) as exc:
        raise PartMissingError(
            "camera", f"camera {spec} cannot be opened: {_coded(exc)}",
            "connect the camera (or fix [site] camera in site.toml)", retry=True,
        ) from None  # fmt: skip


def check_reader(reader: str | int | None) -> None:
    from edge.mrtd import TransportError, list_readers

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


def check_verifier(device: Device) -> None:
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


def wait_for(check: Any, *args: Any, screen: Any = None) -> None:
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
            say("ok", "back: " + shown)
        return
