"""Reading and authenticating the passport chip (ICAO Doc 9303 parts 10 and 11) over PC/SC.

The rest of the device uses `edge.mrtd.reader.read_passport` with a `Transport`
(`edge.mrtd.transport.PcscTransport`, or `edge.mrtd.sim.card.InProcessTransport` without
pcscd) and a `edge.mrtd.passive.TrustStore`; the result's `DocumentAuthentication`
(`edge.mrtd.results`) is what becomes attestation claims. See docs/passport.md.
"""
