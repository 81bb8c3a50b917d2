"""Face quality of one candidate: size, sharpness, pose, exposure, eyes open.

Why: a comparison is only as good as its worst image. Live frames are ranked by quality so
the best few are used; a chip photo that fails these checks gives "inconclusive" rather than
a guess. The measures follow the quality components of ISO/IEC 29794-5 (face image
quality): inter-eye distance (image resolution), sharpness, head pose (yaw and pitch),
illumination (brightness and clipped pixels) and eyes open. The limits are deliberately
loose (they reject what is clearly unusable, not what is merely imperfect) and are listed
in docs/face.md with the data they were checked on. Pose and eye openness use the face
mesh (3-D landmarks), the rest the aligned 112x112 crop. These are not the standard's
calibrated quality scores (its reference models are not shipped in a registry package).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.face.detect import Detection

# Mesh landmark indices (MediaPipe topology): cheek contour points and forehead / chin.
_RIGHT_CHEEK, _LEFT_CHEEK, _FOREHEAD, _CHIN = 234, 454, 10, 152
# Per eye: the two corners and the upper and lower eyelid midpoints (MediaPipe topology).
_EYES = ((33, 133, 159, 145), (362, 263, 386, 374))


@dataclass(frozen=True)
class QualityLimits:
    """Rejection limits. Eye distance: the 112 template has 35 px; below ~20 px a face is
    upsampled noise. Sharpness: variance of the Laplacian of the aligned crop's grey image."""

    min_eye_distance: float = 20.0
    min_presence: float = 0.5  # face mesh's own face-presence probability
    min_sharpness: float = 20.0
    max_yaw: float = 30.0
    max_pitch: float = 25.0
    min_brightness: float = 40.0
    max_brightness: float = 220.0
    max_clipped: float = 0.25
    min_eye_openness: float = 0.12  # eyelid gap / eye width, both eyes' mean (closed ~0.05)


@dataclass(frozen=True)
class Quality:
    """Measurements of one face, the reasons it fails (stable codes), and a rank score."""

    eye_distance: float
    sharpness: float
    yaw: float
    pitch: float
    brightness: float
    clipped: float
    detector_score: float
    presence: float
    failures: tuple[str, ...]
    eye_openness: float = 1.0

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def score(self) -> float:
        """Rank among usable frames: larger, sharper, more frontal, better exposed is better."""
        size = min(self.eye_distance / 60.0, 1.0)
        sharp = min(self.sharpness / 200.0, 1.0)
        pose = float(np.cos(np.radians(self.yaw)) * np.cos(np.radians(self.pitch)))
        expo = 1.0 - min(abs(self.brightness - 128.0) / 128.0, 1.0)
        return self.detector_score * size * (0.5 + 0.5 * sharp) * pose * (0.5 + 0.5 * expo)


def head_pose(landmarks: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) in degrees from the mesh: the angle of the cheek-to-cheek line and of the
    forehead-to-chin line out of the image plane (mesh z has the scale of x)."""
    cheeks = landmarks[_LEFT_CHEEK].astype(np.float64) - landmarks[_RIGHT_CHEEK]
    vertical = landmarks[_CHIN].astype(np.float64) - landmarks[_FOREHEAD]
    yaw = float(np.degrees(np.arctan2(cheeks[2], np.hypot(cheeks[0], cheeks[1]))))
    pitch = float(np.degrees(np.arctan2(vertical[2], np.hypot(vertical[0], vertical[1]))))
    return yaw, pitch


def eye_openness(landmarks: np.ndarray) -> float:
    """Mean over both eyes of eyelid gap / eye width (the eye aspect ratio), in the image
    plane: about 0.25-0.35 open, under 0.1 closed."""
    ratios = []
    for outer, inner, upper, lower in _EYES:
        width = float(np.linalg.norm(landmarks[outer, :2] - landmarks[inner, :2]))
        gap = float(np.linalg.norm(landmarks[upper, :2] - landmarks[lower, :2]))
        ratios.append(gap / width if width > 0 else 0.0)
    return float(np.mean(ratios))


def sharpness(aligned: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian over the central face region (grey levels)."""
    grey = aligned[16:96, 16:96].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    lap = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    value = float(lap.var())
    grey.fill(0)
    lap.fill(0)
    return value


def assess(
    detection: Detection,
    aligned: np.ndarray,
    landmarks: np.ndarray,
    limits: QualityLimits | None = None,
    presence: float = 1.0,
) -> Quality:
    """Measure one face and list every limit it fails."""
    lim = limits or QualityLimits()
    yaw, pitch = head_pose(landmarks)
    centre = aligned[16:96, 16:96]
    grey = centre.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    brightness = float(grey.mean())
    clipped = float(((grey <= 5) | (grey >= 250)).mean())
    grey.fill(0)
    sharp = sharpness(aligned)
    eyes = eye_openness(landmarks)
    failures = []
    if presence < lim.min_presence:
        failures.append("face.not-a-face")
    if detection.eye_distance < lim.min_eye_distance:
        failures.append("face.too-small")
    if sharp < lim.min_sharpness:
        failures.append("face.blurred")
    if abs(yaw) > lim.max_yaw or abs(pitch) > lim.max_pitch:
        failures.append("face.pose")
    if not lim.min_brightness <= brightness <= lim.max_brightness or clipped > lim.max_clipped:
        failures.append("face.exposure")
    if eyes < lim.min_eye_openness:
        failures.append("face.eyes-closed")
    return Quality(
        eye_distance=detection.eye_distance,
        sharpness=sharp,
        yaw=yaw,
        pitch=pitch,
        brightness=brightness,
        clipped=clipped,
        detector_score=detection.score,
        presence=presence,
        failures=tuple(failures),
        eye_openness=eyes,
    )
