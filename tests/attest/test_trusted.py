"""The one trusted constructor's contract (attest/trusted.py), proved on valid and mutated tokens.

`attest.evidence.parse` builds the objects of a token in the profile's one layout through
`attest.trusted.trusted`, skipping their constructors. The contract: every object so built
equals what its checked constructor builds from the same fields, and a token the fast path
declines gets exactly the answer (or the coded error) of the checked path.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attest import cose
from attest import evidence as evm
from attest.errors import AttestError
from attest.evidence import Evidence, EvidenceToken, parse
from tests.attest.test_evidence import SIGNERS, evidences, mutated


def rebuilt(obj: Any) -> Any:
    """`obj` built again by its checked constructor from its own fields (nested first)."""
    if type(obj) is cose.Sign1:
        return cose.Sign1(**vars(obj))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return type(obj)(**{k: rebuilt(v) for k, v in vars(obj).items()})
    return obj


def assert_checked(t: EvidenceToken) -> None:
    """Every object of a parse is what its checked constructor makes of its fields."""
    assert rebuilt(t.sign1) == t.sign1
    assert vars(rebuilt(t.sign1)) == vars(t.sign1)
    if t.evidence is not None:
        again = rebuilt(t.evidence)
        assert again == t.evidence
        for name in ("threshold", "liveness", "document", "consent", "erasure"):
            assert vars(getattr(again, name)) == vars(getattr(t.evidence, name))
        assert {f.name for f in dataclasses.fields(Evidence)} == set(vars(t.evidence))


def general_sign1(token: bytes, *, max_size: int = cose.MAX_TOKEN_SIZE) -> cose.Sign1:
    """cose.strict_sign1 by the general decoder only (no fixed-layout slicing)."""
    msg = cose.decode_sign1(token, max_size=max_size)
    cose.check_profile(msg)
    return msg


def checked_parse(token: bytes) -> EvidenceToken:
    """parse with no trusted construction at all: general envelope and claims paths."""
    with mock.patch.object(cose, "strict_sign1", general_sign1):
        return evm._parse_general(token)


def answer(fn: Any, token: bytes) -> tuple[str, Any]:
    """A parse's whole answer: its fields (errors by code), or the coded error it raised."""
    try:
        t = fn(token)
    except AttestError as exc:
        return ("error", exc.code)
    err = None if t.claims_error is None else t.claims_error.code
    return ("ok", (t.sign1, t.evidence, err, t.nonce, t.cti, t.tbs, t.kid, t.alg))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evidences(), st.data())
def test_trusted_parse_equals_checked_parse(ev: Evidence, data: st.DataObject) -> None:
    key = SIGNERS[data.draw(st.integers(0, 1))]
    payload = ev.encode()
    token = cose.sign1(payload, key)
    assert evm._parse_in_layout(token) is not None  # every valid token takes the fast path
    t = parse(token)
    assert_checked(t)
    assert t.evidence == ev
    assert t.tbs == t.sign1.to_be_signed()
    assert answer(parse, token) == answer(checked_parse, token)
    signed_after = data.draw(st.booleans())
    raw = mutated(payload if signed_after else token, data)
    bad = cose.sign1(raw, key) if signed_after else raw
    fast, checked = answer(parse, bad), answer(checked_parse, bad)
    assert fast == checked
    if fast[0] == "ok":
        assert_checked(parse(bad))


def test_trusted_builds_without_running_the_checks() -> None:
    """What the contract guards against: trusted() itself checks nothing."""
    from attest.claims import Threshold
    from attest.trusted import trusted

    wrong, f = trusted(Threshold)
    f.update(id="", far_exp=0)
    assert vars(wrong) == {"id": "", "far_exp": 0}
    with pytest.raises(AttestError) as err:
        rebuilt(wrong)
    assert err.value.code == "claims.bad-value"
