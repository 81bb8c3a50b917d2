"""The attestation format: pure, dependency-light, and the contract every other part shares.

Deterministic CBOR, COSE_Sign1, COSE keys, the evidence claims of profile v1, attestation
results (EAR), and RFC 9162 Merkle proofs. Depends on cbor2 and cryptography only; does no
I/O, reads no clock and keeps no global state: time, keys and randomness are passed in.
"""
