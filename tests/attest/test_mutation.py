"""Mutation test: 10,000 valid evidence tokens, each flipped, truncated and extended.

Every mutated token must be refused, and refused only with the package's own error type
(an AttestError subclass): no IndexError, TypeError, UnicodeError or cbor2 exception may
leak, and no token with a changed signed byte may ever verify. Tokens are varied cheaply:
one claims payload is encoded once, and each token gets its own nonce and cti by
overwriting those fixed-size fields in the encoded bytes before signing.
"""

from __future__ import annotations

import contextlib
import random

import pytest

from attest import cose
from attest.errors import AttestError
from attest.evidence import Evidence, verify_evidence
from attest.keys import EDDSA, ES256, SigningKey
from attest.report import describe
from tests.attest.conftest import evidence

TOKENS = 10_000


def test_mutated_tokens_are_always_refused_with_attest_errors() -> None:
    rnd = random.Random(20261123)
    keys = [SigningKey.generate(ES256), SigningKey.generate(EDDSA)]
    lookup = {k.kid: k.public for k in keys}
    ev = evidence()
    payload = ev.encode()
    nonce_at, cti_at = payload.index(ev.nonce), payload.index(ev.cti)
    refused = {"flip": 0, "truncate": 0, "extend": 0}
    codes: set[str] = set()
    for n in range(TOKENS):
        p = bytearray(payload)
        p[nonce_at : nonce_at + 32] = rnd.randbytes(32)
        p[cti_at : cti_at + 16] = n.to_bytes(16, "big")
        key = keys[n & 1]
        token = cose.sign1(bytes(p), key)
        if n % 500 == 0:  # the unmutated token is valid (spot check: verifying costs time)
            assert verify_evidence(token, lookup)[0].cti == n.to_bytes(16, "big")
        flipped = bytearray(token)
        i = rnd.randrange(len(token))
        flipped[i] ^= 1 << rnd.randrange(8)
        cut = token[: rnd.randrange(len(token))]
        at = rnd.randrange(len(token) + 1)
        extended = token[:at] + rnd.randbytes(rnd.randint(1, 4)) + token[at:]
        if n & 2:
            extended = token + rnd.randbytes(rnd.randint(1, 8))  # trailing bytes
        for kind, bad in (("flip", flipped), ("truncate", cut), ("extend", extended)):
            with pytest.raises(AttestError) as err:
                verify_evidence(bytes(bad), lookup)
            codes.add(err.value.code)
            refused[kind] += 1
    assert refused == {"flip": TOKENS, "truncate": TOKENS, "extend": TOKENS}
    # The refusals are named, not one catch-all.
    assert {"cose.bad-signature", "cbor.truncated", "cbor.trailing-bytes"} <= codes


def test_mutated_payloads_and_reports_raise_only_attest_errors() -> None:
    """The decoders behind the signature (and the auditor's report) on hostile bytes."""
    rnd = random.Random(7)
    key = SigningKey.generate(EDDSA)
    payload = evidence().encode()
    token = cose.sign1(payload, key)
    for _ in range(3000):
        p = bytearray(payload)
        for _ in range(rnd.randint(1, 3)):
            i = rnd.randrange(len(p))
            choice = rnd.randrange(3)
            if choice == 0:
                p[i] = rnd.randrange(256)
            elif choice == 1:
                del p[i]
            else:
                p.insert(i, rnd.randrange(256))
        with contextlib.suppress(AttestError):
            Evidence.decode(bytes(p))
        t = bytearray(token)
        t[rnd.randrange(len(t))] = rnd.randrange(256)
        with contextlib.suppress(AttestError):
            describe(bytes(t), {key.kid: key.public})
