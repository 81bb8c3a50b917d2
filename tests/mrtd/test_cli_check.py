"""`edgeproof passport check` and `passport trust build|show`, run as the operator runs them:
the real `edgeproof` entry point in a subprocess, on real dumps (shared data) and generated ones.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rig.mrtd.testdoc import DocOptions
from tests.mrtd.conftest import document
from tests.rig import REPO
from tests.shared import MRTD_REAL

real = pytest.mark.shared("vectors/mrtd-real")


def edgeproof(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "edgeproof_cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _json(run: subprocess.CompletedProcess[str]) -> dict[str, object]:
    value = json.loads(run.stdout)
    assert isinstance(value, dict)
    return value


def _checks(out: dict[str, object]) -> dict[str, tuple[str, str | None]]:
    rows = out["checks"]
    assert isinstance(rows, list)
    return {r["name"]: (r["status"], r["code"]) for r in rows}


@real
def test_real_bsi_2008_dump(tmp_path: Path) -> None:
    src = MRTD_REAL / "docs" / "jmrtd-bsi2008"
    dump = tmp_path / "dump"
    dump.mkdir()
    shutil.copy(src / "EF_SOD.bin", dump / "EF.SOD.bin")
    shutil.copy(src / "EF_COM.bin", dump / "EF.COM")
    for n in (1, 2, 3, 14):
        shutil.copy(src / f"Datagroup{n}.bin", dump / f"DG{n}.bin")
    run = edgeproof(
        "passport", "check", dump, "--trust", MRTD_REAL / "masterlists", "--at", "2008-06-01",
        "--json",
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    out = _json(run)
    assert out["authenticated"] is False
    assert out["code"] == "pa.csca-untrusted"  # a BSI test CSCA is in no master list
    checks = _checks(out)
    assert checks["sod-signature"] == ("passed", None)
    assert {checks[f"dg{n}-hash"] for n in (1, 2, 3, 14)} == {("passed", None)}
    assert checks["country"] == ("passed", None)  # D<< = DE = DE


@real
def test_real_nz_sod_alone_checks_signature_and_chain(tmp_path: Path) -> None:
    dump = tmp_path / "nz"
    dump.mkdir()
    shutil.copy(MRTD_REAL / "sod" / "jmrtd_NZ2013_EF_SOD.bin", dump / "EF.SOD")
    args = ("passport", "check", dump, "--trust", MRTD_REAL / "masterlists")
    run = edgeproof(*args, "--at", "2013-01-01", "--json")
    assert run.returncode == 0, run.stderr
    out = _json(run)
    assert out == {**out, "authenticated": True, "code": None}
    checks = _checks(out)
    assert checks["dg1-hash"] == ("not_checked", None)
    later = edgeproof(*args)  # default: now, when the CSCA has long expired
    assert later.returncode == 1
    assert "[pa.csca-expired]" in later.stdout
    assert later.stdout.rstrip().endswith("document authenticated: NO")


def test_generated_dumps(tmp_path: Path) -> None:
    good = document().write(tmp_path / "good")
    run = edgeproof("passport", "check", good / "chip", "--trust", good / "trust", "--json")
    assert run.returncode == 0, run.stderr
    assert _json(run)["authenticated"] is True
    forged = document(DocOptions(wrong_dg_hash=True)).write(tmp_path / "forged")
    run = edgeproof("passport", "check", forged / "chip", "--trust", forged / "trust", "--json")
    assert run.returncode == 1
    assert _json(run)["code"] == "pa.dg-hash-mismatch"


@real
def test_trust_build_show_and_a_revoked_dsc(tmp_path: Path) -> None:
    doc = document(DocOptions(revoked_dsc=True)).write(tmp_path / "doc")
    store = tmp_path / "store"
    run = edgeproof(
        "passport", "trust", "build",
        "--master-list", MRTD_REAL / "masterlists" / "NL_ML_2025-07-29.ml",
        "--master-list-signer", MRTD_REAL / "certs" / "NL_ROOT_CA.cer",
        "--csca", doc / "trust" / "csca.der",
        "--crl", doc / "trust" / "csca.crl",
        "--out", store,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (store / "manifest.json").is_file() and len(list((store / "csca").iterdir())) > 300
    show = edgeproof("passport", "trust", "show", store, "--json")
    assert show.returncode == 0
    summary = _json(show)
    assert summary["crls"] == 1 and summary["revoked_serials"] == 1
    check = edgeproof("passport", "check", doc / "chip", "--trust", store, "--json")
    assert check.returncode == 1
    assert _json(check)["code"] == "pa.dsc-revoked"
    # Rebuilding over a trust store replaces it; over another folder it refuses.
    again = edgeproof("passport", "trust", "build", "--csca", doc / "trust", "--out", store)
    assert again.returncode == 0, again.stderr
    other = tmp_path / "photos"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    refused = edgeproof("passport", "trust", "build", "--csca", doc / "trust", "--out", other)
    assert refused.returncode == 2 and "trust.out-exists" in refused.stderr
    assert (other / "keep.txt").read_text() == "mine"


@real
def test_master_list_needs_a_named_signer(tmp_path: Path) -> None:
    de = MRTD_REAL / "masterlists" / "DE_ML_2024-08-07-07-38-24.ml"
    base = ("passport", "trust", "build", "--master-list", de, "--out", tmp_path / "s")
    for extra in ((), ("--master-list-signer", MRTD_REAL / "certs" / "NL_ROOT_CA.cer")):
        run = edgeproof(*base, *extra)
        assert run.returncode == 2
        assert "trust.master-list-untrusted" in run.stderr
        assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("passport", "check", "/nonexistent", "--trust", "{trust}"), 2, "not a folder"),
        (("passport", "check", "{empty}", "--trust", "{trust}"), 2, "no EF.SOD"),
        (("passport", "check", "{chip}", "--trust", "/nonexistent"), 2, "trust.not-found"),
        (("passport", "check", "{chip}", "--trust", "{trust}", "--at", "June"), 2, "--at"),
        (("passport", "trust", "show", "/nonexistent"), 2, "trust.not-found"),
        (("passport", "trust", "build", "--out", "{empty}"), 2, "--csca"),
        (("passport", "read", "--mrz", "C01X00T47,740812,341031", "--trust", "/nonexistent"), 1,
         "trust.not-found"),
    ],
)  # fmt: skip
def test_ordinary_mistakes_answer_one_line(
    tmp_path: Path, args: tuple[str, ...], code: int, says: str
) -> None:
    doc = document().write(tmp_path / "doc")
    (tmp_path / "empty").mkdir()
    values = {"trust": doc / "trust", "chip": doc / "chip", "empty": tmp_path / "empty"}
    run = edgeproof(*(a.format(**{k: str(v) for k, v in values.items()}) for a in args))
    assert run.returncode == code, run.stderr
    assert "Traceback" not in run.stderr
    assert says in run.stderr and len(run.stderr.strip().splitlines()) == 1
