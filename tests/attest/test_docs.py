"""docs/attestation.md against the code: generated blocks up to date, the example valid.

Run `python -m tests.attest.test_docs --write` to regenerate the marked blocks after a
change to the registry, the CDDL or the sample.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from attest import cbor, cose, schema
from attest.evidence import REGISTRY, Evidence, verify_evidence
from attest.report import describe

DOC = Path(__file__).resolve().parents[2] / "docs" / "attestation.md"
BLOCK = re.compile(
    r"(<!-- BEGIN GENERATED: (?P<name>[a-z-]+) -->\n)(?P<body>.*?)"
    r"(<!-- END GENERATED: (?P=name) -->)",
    re.DOTALL,
)


def generated() -> dict[str, str]:
    token, key = schema.example_token()
    return {
        "claims-table": schema.claims_table() + "\n",
        "cddl": "```cddl\n" + schema.cddl() + "```\n",
        "example": (
            "```cbor-diag\n"
            + schema.diag_token(token)
            + "\n```\n\n"
            + f"The same token in hex ({len(token)} bytes). It verifies with the example key,"
            + " whose COSE_Key is\n"
            + f"`{key.cose_key_bytes().hex()}`\n(kid `{key.kid.hex()}`).\n\n"
            + "```\n"
            + schema.hex_lines(token)
            + "\n```\n"
        ),
    }


def blocks(text: str) -> dict[str, str]:
    return {m["name"]: m["body"] for m in BLOCK.finditer(text)}


def test_generated_blocks_are_up_to_date() -> None:
    found = blocks(DOC.read_text())
    want = generated()
    assert set(found) == set(want), "generated blocks missing from docs/attestation.md"
    for name, body in want.items():
        assert found[name] == body, (
            f"docs/attestation.md block {name!r} is stale: "
            "run python -m tests.attest.test_docs --write"
        )


def test_example_in_the_doc_is_a_valid_token() -> None:
    body = blocks(DOC.read_text())["example"]
    hex_text = body.rsplit("```\n", 2)[-2]
    token = bytes.fromhex("".join(hex_text.split()))
    key_hex = re.search(r"COSE_Key is\n`([0-9a-f]+)`", body)
    assert key_hex is not None
    from attest.keys import PublicKey

    key = PublicKey.from_cose_key(bytes.fromhex(key_hex[1]))
    ev, msg = verify_evidence(token, {key.kid: key})
    assert msg.kid == key.kid
    assert describe(token, {key.kid: key}).ok
    assert len(ev.nonce) == 32 and ev.encode() == cose.decode_sign1(token).payload
    assert schema.diag_token(token) in body


def test_table_and_cddl_cover_the_whole_registry() -> None:
    text = DOC.read_text()
    cddl = blocks(text)["cddl"]
    for spec in REGISTRY:
        assert f"| {spec.label} | `{spec.name}` |" in text
        assert re.search(rf"^  (\? )?{spec.label} =>", cddl, re.MULTILINE), spec.name
    assert set(schema.CLAIM_CDDL) == {s.label for s in REGISTRY}


def test_every_label_the_encoder_writes_is_documented() -> None:
    token, _ = schema.example_token()
    claims = cbor.decode(cose.decode_sign1(token).payload)
    assert set(claims) <= set(schema.CLAIM_CDDL)
    assert Evidence.from_claims(claims).to_claims() == claims


def write() -> None:
    text = DOC.read_text()
    want = generated()

    def replace(m: re.Match[str]) -> str:
        return m[1] + want[m["name"]] + m[4]

    DOC.write_text(BLOCK.sub(replace, text))


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
        print(f"updated {DOC}")
    else:
        print(__doc__)
