"""Test rig for the passport reader: a test-document generator and an ICAO 9303 chip emulator.

Shipped in the package (not under tests/) because `edgeproof passport emulate` and the demo
use them on machines without a physical passport.
"""
