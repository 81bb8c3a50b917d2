"""Relying-party helpers: fetch and cache the verifier's key set, validate results.

The validation itself is pure and lives in `attest.rp`; this package adds the one piece of
I/O a relying party needs, fetching the published key set, and the `edgeproof rp` command.
Standard library only (urllib), so a service can vendor it next to `attest`.
"""
