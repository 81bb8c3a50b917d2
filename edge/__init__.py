"""The field device: chip reading (mrtd), capture, face matching, liveness, the session.

Hardware (pyscard, picamera2, OpenCV, LiteRT) is reached only through thin adapters so that
the logic above them is testable without the hardware.
"""
