"""The auditor's memory: a folder with the first trusted key set and every checkpoint seen.

Layout (plain JSON files, so another tool can read them):
  trusted-keys.json           the key set trusted on the first audit
  keys/<time>.json            each later key set that differed from the one before it
  checkpoints/<time>-<size>-<root>.json   every checkpoint seen, consistent or not
  latest.json                 the newest checkpoint that was consistent with its predecessor
  leaves.bin, leaves.ids      the leaf hashes (32 bytes each, in index order) and appraisal
                              ids (one a line) of the last full audit whose tree verified:
                              what names the first entry that changed since (issue 19)

Only `latest.json` is compared against next time: a forked checkpoint is kept as evidence
but never becomes the reference.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from attest.errors import AttestError
from attest.keyset import KeySet
from audit.checks import SignedCheckpoint, verify_checkpoint
from audit.errors import StateError


def _write(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


class StateDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"{root}: {exc.strerror}") from None

    def _read(self, name: str) -> Any:
        path = self.root / name
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            raise StateError(f"{path} is not readable JSON") from None

    def known_keysets(self) -> list[KeySet]:
        """The first trusted key set, then each recorded change, oldest first."""
        docs = [self._read("trusted-keys.json")]
        docs += [self._read(f"keys/{p.name}") for p in self._keyset_files()]
        try:
            return [KeySet.from_json(d) for d in docs if d is not None]
        except AttestError as exc:
            raise StateError(f"a stored key set is unreadable: {exc}") from None

    def _keyset_files(self) -> list[Path]:
        return sorted((self.root / "keys").glob("*.json"), key=lambda p: int(p.stem))

    def trust_keyset(self, doc: dict[str, Any]) -> None:
        _write(self.root / "trusted-keys.json", doc)

    def record_keyset(self, doc: dict[str, Any], now: int) -> Path:
        path = self.root / "keys" / f"{now}.json"
        _write(path, doc)
        return path

    def latest(self, keys: Any) -> SignedCheckpoint | None:
        """The stored reference checkpoint, its signature checked again (files can rot)."""
        doc = self._read("latest.json")
        if doc is None:
            return None
        try:
            return verify_checkpoint(doc, keys)
        except (AttestError, ValueError) as exc:
            raise StateError(f"latest.json no longer verifies: {exc}") from None

    def record(self, cp: SignedCheckpoint, *, consistent: bool) -> Path:
        path = self.root / "checkpoints" / f"{cp.time}-{cp.size}-{cp.root.hex()[:16]}.json"
        _write(path, cp.to_json())
        if consistent:
            _write(self.root / "latest.json", cp.to_json())
        return path

    def checkpoints(self) -> list[Path]:
        return sorted((self.root / "checkpoints").glob("*.json"))

    def keep_leaves(self, leaves: list[bytes], ids: list[str]) -> None:
        """The leaves of a tree that rebuilt its signed root, for the next audit to compare."""
        for name, data in (
            ("leaves.bin", b"".join(leaves)),
            ("leaves.ids", "\n".join(ids).encode()),
        ):
            tmp = self.root / (name + ".part")
            tmp.write_bytes(data)
            tmp.replace(self.root / name)

    def kept_leaves(self) -> tuple[list[bytes], list[str]]:
        """The leaves kept by `keep_leaves` ([] when none): 32-byte hashes and their ids."""
        try:
            raw = (self.root / "leaves.bin").read_bytes()
            ids = (self.root / "leaves.ids").read_text().split("\n")
        except FileNotFoundError:
            return [], []
        except (OSError, UnicodeDecodeError):
            raise StateError(f"{self.root}/leaves.*: unreadable") from None
        if len(raw) % 32:
            raise StateError(f"{self.root}/leaves.bin: not a list of 32-byte hashes")
        leaves = [raw[i : i + 32] for i in range(0, len(raw), 32)]
        return leaves, (ids + [""] * len(leaves))[: len(leaves)]
