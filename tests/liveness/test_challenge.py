"""The challenge derivation (attest/challenge.py) as liveness uses it, and its CLI."""

import itertools

import pytest

from attest.challenge import GESTURES, challenge_spec, derive_challenge, parse_challenge_spec
from edgeproof_cli import main


def test_same_nonce_same_sequence_different_nonces_differ() -> None:
    nonce = bytes(range(16))
    assert derive_challenge(nonce) == derive_challenge(bytes(range(16)))
    seen = {derive_challenge(i.to_bytes(16, "big")) for i in range(200)}
    assert len(seen) > 20  # 36 possible 3-step sequences
    for c in seen:
        assert len(c) == 3 and all(a != b for a, b in itertools.pairwise(c))
        assert set(c) <= set(GESTURES)
        assert parse_challenge_spec(challenge_spec(c)) == c


def test_cli_prints_the_challenge_and_its_prompts(capsys: pytest.CaptureFixture[str]) -> None:
    nonce = bytes(range(16))
    assert main(["liveness", "challenge", "--nonce", nonce.hex()]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == challenge_spec(derive_challenge(nonce))
    assert out[1].startswith("  Step 1 of 3: ")
    assert main(["liveness", "challenge", "--nonce", "zz"]) == 2
    assert "non-hexadecimal" in capsys.readouterr().err
