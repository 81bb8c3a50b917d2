"""Every document parser, fuzzed: bad bytes get an MrtdError with a dotted code, nothing else.

Bounded for CI (1,500 mutated inputs per parser and seed set, fixed seeds); the long run
with timings and peak memory is benchmarks/mrtd_fuzz.py. Targets and mutators live in
rig/mrtd/fuzz.py. EF.CardAccess / EF.CardSecurity are fuzzed with the chip protocol's
own tests.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from edge.mrtd.errors import MrtdError
from rig.mrtd.fuzz import Target, run_target, targets
from tests.shared import MRTD_REAL

COUNT = 1_500
DOCUMENT_PARSERS = (
    "EF.SOD",
    "passive",
    "DG1",
    "EF.COM",
    "DG2",
    "DG14",
    "DG15",
    "master list",
    "CRL",
)
_CACHE: dict[str, dict[str, Target]] = {}


def _targets(kind: str) -> dict[str, Target]:
    if kind not in _CACHE:
        generated = {t.name: t for t in targets(None)}
        if kind == "generated":
            _CACHE[kind] = generated
        else:  # the real files only: drop the generated seeds
            with_real = {t.name: t for t in targets(MRTD_REAL)}
            _CACHE[kind] = {
                name: dataclasses.replace(t, seeds=t.seeds[len(generated[name].seeds) :])
                for name, t in with_real.items()
            }
    return _CACHE[kind]


def _check(target: Target, seed: int) -> None:
    report = run_target(target, COUNT, seed)
    assert report.inputs == COUNT
    assert report.foreign == [], f"{target.name}: {report.foreign[:3]}"
    # Not vacuous: most mutations must be refused (a parser accepting everything is a bug).
    assert report.coded > COUNT // 4, f"{target.name}: only {report.coded} inputs refused"


@pytest.mark.parametrize("name", DOCUMENT_PARSERS)
def test_fuzz_generated_documents(name: str) -> None:
    target = _targets("generated")[name]
    for data in target.seeds:  # the seeds themselves are well-formed
        target.run(data)
    _check(target, seed=13)


@pytest.mark.shared("vectors/mrtd-real")
@pytest.mark.parametrize("name", ["EF.SOD", "DG1", "EF.COM", "DG2", "DG14", "DG15"])
def test_fuzz_real_files(name: str) -> None:
    target = _targets("real")[name]
    assert target.seeds, f"no real seed file for {name}"
    _check(target, seed=2026)


def test_every_refusal_carries_a_dotted_code() -> None:
    """The codes the fuzzer provokes are the project's style (`domain.reason`)."""
    codes: set[str] = set()
    for name in ("EF.SOD", "DG2", "DG15"):
        target = _targets("generated")[name]
        for data in target.seeds:
            for cut in range(0, len(data), max(1, len(data) // 40)):
                try:
                    target.run(data[:cut])
                except MrtdError as exc:
                    codes.add(exc.code)
    assert codes
    assert all(re.fullmatch(r"[a-z0-9]+(\.[a-z0-9-]+)+", c) for c in codes), codes
