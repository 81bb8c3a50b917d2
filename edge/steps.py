"""The device's real session steps: thin adapters from edge.session's protocols to the
capture, liveness and face packages (and, in edge/verifier_link.py, to the verifier).

Each adapter converts the package's own result into the typed outcome the attestation
claims are built from, and nothing more: the decisions are made in the packages.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attest.challenge import Gesture
from attest.evidence import (
    AntiClone,
    Decision,
    DocumentAuth,
    Liveness,
    LivenessMethod,
    MeasuredItem,
    Outcome,
    ScoreBand,
    Threshold,
)
from edge.capture import CaptureConfig, CaptureSession, Frame, FrameSource, open_source
from edge.face import Decision as FaceDecision
from edge.face import FaceMatcher
from edge.face import ScoreBand as FaceBand
from edge.liveness import FaceModels, LivenessEngine, LivenessResult, Overlay, run_check
from edge.liveness import Outcome as LiveResultOutcome
from edge.measure import RELEASE_NAME, Measurement
from edge.mrtd import (
    CheckStatus,
    DocumentAuthentication,
    MrtdError,
    MrzKey,
    PassportReading,
    Transport,
    TransportError,
    TrustStore,
    read_passport,
)
from edge.session import DeviceIdentity, LiveOutcome, MatchOutcome, SessionError

_DECISIONS = {
    FaceDecision.MATCH: Decision.MATCH,
    FaceDecision.NO_MATCH: Decision.NO_MATCH,
    FaceDecision.INCONCLUSIVE: Decision.INCONCLUSIVE,
}
_BANDS = {
    FaceBand.LOW: ScoreBand.LOW,
    FaceBand.BORDERLINE: ScoreBand.NEAR,
    FaceBand.HIGH: ScoreBand.HIGH,
    FaceBand.NONE: ScoreBand.LOW,
}
_LIVE = {
    LiveResultOutcome.PASSED: Outcome.PASSED,
    LiveResultOutcome.FAILED: Outcome.FAILED,
    LiveResultOutcome.INCONCLUSIVE: Outcome.INCONCLUSIVE,
}


class KeptFrames:
    """A few frames copied out of the capture ring for matching, in one preallocated
    array that `wipe()` zeroes and checks, so the match can happen after capture ended."""

    def __init__(self, capacity: int, shape: tuple[int, int, int]) -> None:
        self._buf = np.zeros((capacity, *shape), np.uint8)
        self._n = 0
        self._next = 0

    def keep(self, pixels: np.ndarray) -> None:
        """Copy a frame in, replacing the oldest when full."""
        self._buf[self._next][...] = pixels
        self._next = (self._next + 1) % len(self._buf)
        self._n = min(self._n + 1, len(self._buf))

    def frames(self) -> Sequence[Any]:
        return [self._buf[i] for i in range(self._n)]

    def wipe(self) -> None:
        self._buf.fill(0)
        self._n = 0
        if self._buf.any():  # pragma: no cover - fill(0) cannot fail; the check is the promise
            raise RuntimeError("kept frames were not wiped")


@dataclass
class CameraLiveStep:
    """Film the person through `source` (a capture spec: replay:PATH, v4l2:0, picamera2:0)
    while the liveness engine follows the challenge; keep every `keep_every`-th frame."""

    source: str | Callable[[CaptureConfig], FrameSource]  # a spec, or a source factory
    models: FaceModels
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    buffer_frames: int = 8
    keep: int = 16
    keep_every: int = 10
    #: Where prompts go (the device's screen, or the terminal); None shows none. The
    #: engine's "not sure yet: blink or turn your head now" re-prompts (issue 14) go
    #: there too, and all of them end with the capture session, at the step's deadline.
    overlay: Overlay | None = None

    def run(
        self, gestures: tuple[Gesture, ...], method: LivenessMethod, deadline: float
    ) -> tuple[LiveOutcome, KeptFrames]:

        if isinstance(self.source, str):
            src = open_source(self.source, self.capture)
        else:
            src = self.source(self.capture)
        kept = KeptFrames(self.keep, src.format.shape)
        engine = LivenessEngine(self.models, gestures, overlay=self.overlay)
        session = CaptureSession(
            src,
            buffer_frames=self.buffer_frames,
            max_seconds=max(0.1, deadline - time.time()),
        )
        try:
            with session:
                result = run_check(_Sampling(session, kept, self.keep_every), engine)
        except BaseException:
            kept.wipe()
            raise
        report = session.report
        return (
            LiveOutcome(
                liveness=to_liveness(result, gestures, method),
                frames_captured=report.frames_captured,
                frames_erased=report.frames_erased,
                erasure_verified=report.verified_zero,
            ),
            kept,
        )


class _Sampling:
    """Wraps a capture session so that every n-th frame is also copied for matching."""

    def __init__(self, session: CaptureSession, kept: KeptFrames, every: int) -> None:
        self._session, self._kept, self._every = session, kept, every

    def frames(self) -> Iterator[Frame]:
        for frame in self._session.frames():
            if frame.index % self._every == 0:
                self._kept.keep(frame.pixels)
            yield frame


def to_liveness(
    result: LivenessResult, gestures: tuple[Gesture, ...], method: LivenessMethod
) -> Liveness:
    outcome = _LIVE[result.outcome]
    failed = None
    if outcome is Outcome.FAILED and result.failed_step is not None:
        failed = min(max(result.failed_step - 1, 0), len(gestures) - 1)  # 1-based -> index
    return Liveness(method, gestures, outcome, failed)


@dataclass
class FaceMatchStep:
    matcher: FaceMatcher

    def match(self, chip_face: Any, live_frames: Sequence[Any]) -> MatchOutcome:
        r = self.matcher.match(chip_face, live_frames)
        far_exp = max(-12, min(-1, round(math.log10(r.far))))
        return MatchOutcome(
            _DECISIONS[r.decision], _BANDS[r.score_band], Threshold(r.threshold_id, far_exp)
        )


def to_document_auth(auth: DocumentAuthentication) -> DocumentAuth:
    """ICAO 9303-11 results as the evidence's document claim: chip authentication (6.2) is
    preferred to active authentication (6.1) as the anti-clone proof; "not supported" is
    reported as such, never as passed."""
    status = {
        CheckStatus.PASSED: Outcome.PASSED,
        CheckStatus.FAILED: Outcome.FAILED,
        CheckStatus.NOT_SUPPORTED: Outcome.NOT_SUPPORTED,
        CheckStatus.NOT_CHECKED: Outcome.INCONCLUSIVE,
        # CA/AA against a key passive authentication did not authenticate (results.py)
        CheckStatus.INCONCLUSIVE: Outcome.INCONCLUSIVE,
    }
    if auth.chip.status is not CheckStatus.NOT_SUPPORTED:
        method, result = AntiClone.CHIP_AUTHENTICATION, status[auth.chip.status]
        if auth.active.status is CheckStatus.FAILED:
            result = Outcome.FAILED
    elif auth.active.status is not CheckStatus.NOT_SUPPORTED:
        method, result = AntiClone.ACTIVE_AUTHENTICATION, status[auth.active.status]
    else:
        method, result = AntiClone.NONE, Outcome.NOT_SUPPORTED
    expired = auth.not_expired.status is CheckStatus.FAILED
    return DocumentAuth(status[auth.passive.status], method, result, expired)


class _ChipReading:
    """A PassportReading seen through edge.session.ChipReading; owns the decoded photo."""

    def __init__(self, reading: PassportReading) -> None:
        self._reading = reading
        self.document = to_document_auth(reading.authentication)
        self._rgb: np.ndarray | None = None

    def face_rgb(self) -> np.ndarray:
        """The photo is chip data: a photo that does not decode stops the session with the
        chip step's coded error (the session's `finally` still wipes everything)."""
        if self._rgb is None:
            try:
                self._rgb = self._reading.face.to_rgb()
            except MrtdError as exc:
                raise SessionError("chip", exc.code, str(exc)) from None
            except Exception as exc:  # chip data never ends the session with a traceback
                raise SessionError(
                    "chip", "chip.data-unreadable", f"chip photo unreadable: {type(exc).__name__}"
                ) from None
        return self._rgb

    def document_number(self) -> bytearray:
        return self._reading.document_number

    def wipe(self) -> None:
        if self._rgb is not None:
            self._rgb.fill(0)
        self._reading.wipe()


class _Deadline:
    """A transport that refuses to start an exchange after the step's deadline: a chip read
    that hangs (a card half on the reader) ends with a clear error instead of a stuck
    session. Each exchange is also bounded by the transport's own timeout."""

    reconnect: Callable[[], None]  # the inner transport's, when it has one (mrtd.reader)

    def __init__(self, inner: Transport, deadline: float) -> None:
        self.inner, self.deadline = inner, deadline
        inner_reconnect = getattr(inner, "reconnect", None)
        if inner_reconnect is not None:  # lets the reader recover a lost link or session
            self.reconnect = inner_reconnect

    def transmit(self, apdu: bytes) -> bytes:
        if time.time() > self.deadline:
            raise TransportError(
                "reading the chip took too long; keep the passport still on the reader "
                "and start again",
                code="pcsc.chip-timeout",
            )
        return self.inner.transmit(apdu)


@dataclass
class PassportChipStep:
    """Read the chip through `transport()` (PC/SC, or the in-process emulator in the demo)."""

    transport: Callable[[], Transport]
    trust: TrustStore
    mrz: MrzKey | None = None
    can: str | None = None
    progress: Callable[[int, int], None] | None = None

    def read(self, deadline: float) -> _ChipReading:
        transport = self.transport()
        try:
            reading = read_passport(
                _Deadline(transport, deadline),
                mrz=self.mrz,
                can=self.can,
                trust=self.trust,
                progress=self.progress,
            )
        except MrtdError as exc:
            raise SessionError("chip", exc.code, str(exc)) from None
        except SessionError:
            raise
        except Exception as exc:
            # Every chip parser answers bad bytes with an MrtdError (fuzzed in
            # tests/mrtd/test_fuzz_documents.py); should one still slip through, the chip is
            # untrusted input and the session ends with a coded stop, never a traceback.
            raise SessionError(
                "chip",
                "chip.data-unreadable",
                f"the chip sent data the reader could not process ({type(exc).__name__})",
            ) from None
        finally:
            close = getattr(transport, "close", None)
            if close is not None:
                close()
        return _ChipReading(reading)


def device_identity(m: Measurement) -> DeviceIdentity:
    """What the device reports about itself: its release digest and the models it runs."""
    from edge.face import DEFAULT_EMBEDDER, model_info

    files = {
        MeasuredItem.DETECTOR_MODEL: model_info("face_detection_short_range").file,
        MeasuredItem.LANDMARK_MODEL: model_info("face_landmark").file,
        MeasuredItem.EMBEDDING_MODEL: model_info(DEFAULT_EMBEDDER).file,
    }
    measurements = {MeasuredItem.RELEASE_MANIFEST: m.digest}
    measurements.update({item: m.models[name] for item, name in files.items()})
    return DeviceIdentity(RELEASE_NAME, m.manifest.version, measurements)
