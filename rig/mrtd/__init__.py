"""Test rig for the passport reader: a test-document generator and an ICAO 9303 chip emulator,
served in-process or to real pcscd through vpcd (pcscd.py), and the parsers' fuzz targets.

Not part of the device release (rig/__init__.py says why); `edgeproof passport emulate` and
`make-doc` (rig/mrtd/cli.py) and the demo use it on machines without a physical passport.
"""
