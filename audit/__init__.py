"""Independent audits of the verifier's RFC 9162 log (`edgeproof audit`).

An auditor trusts neither the verifier nor us: it keeps its own copy of every checkpoint
and the key set it first trusted, and re-derives everything else from the entries.
`checks` is the pure checking logic (no I/O), `source` fetches from a verifier or reads an
exported log, `state` is the auditor's local memory, `run` ties one audit together and
`report` renders the outcome as text, JSON or self-contained HTML.
"""
