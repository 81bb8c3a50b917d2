"""A transparency-log witness (c2sp.org/tlog-witness@v1.0.0): `edgeproof witness serve`.

Its own process, its own Ed25519 cosigner key and its own small SQLite state: it cosigns a
log's checkpoint only when it is consistent with the last one it cosigned, so a log that
shows two different trees to two parties is caught. Imports attest only.
"""
