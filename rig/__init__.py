"""Test and demo infrastructure: the rig that stands in for the world around the device.

Why a package of its own: the passport emulator, the rendered camera, the verifier under
gunicorn, the PostgreSQL cluster and the witness process are what the demo, the tests and
the benchmarks run the real code against. None of it belongs on a device, so none of it is
in the device release or its measurement (edge.measure measures attest, edge,
edgeproof_cli and firmware; firmware/release.py refuses a manifest holding a rig file).
Only edgeproof_cli (the `demo` and the emulator commands), tests and benchmarks import it;
tests/test_architecture.py holds that rule.
"""
