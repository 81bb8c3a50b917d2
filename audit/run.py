"""One audit, check by check: what `edgeproof audit` runs.

Order matters: the key set first (everything else is verified with it), then the
checkpoint's signature, its consistency with the last one this auditor stored, then the
entries (all of them, rebuilding the tree, or a seeded sample, each by an inclusion
proof), then any result the auditor was handed. Each check that fails is reported and the
audit goes on, so one run shows everything that is wrong.
"""

from __future__ import annotations

import random
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from attest import merkle, paths
from attest.ear import decode_ear_unverified
from attest.errors import AttestError
from audit.checks import (
    Finding,
    SignedCheckpoint,
    TrustedKeys,
    check_consistency,
    check_evidence,
    check_inclusion,
    keyset_change,
    recompute,
    scan_entry,
    verify_checkpoint,
)
from audit.errors import AuditError
from audit.report import Check, Report
from audit.source import KEYS_PATH, Source, iter_pages
from audit.state import StateDir
from audit.tlog import TlogSource, WitnessArg, run_tlog_checks


@dataclass(frozen=True)
class Options:
    sample: int | None = None  # None: every entry
    seed: int = 0
    indices: tuple[int, ...] = ()  # audit just these entries (by inclusion proof)
    checkpoint_only: bool = False
    result: bytes | None = None  # a result (EAR CWT) to prove included
    result_name: str = "RESULT"
    result_index: int | None = None
    # The C2SP checks (audit/tlog.py): run when `tlog` is given (a live verifier).
    tlog: TlogSource | None = None
    log_key: str | None = None
    witnesses: tuple[WitnessArg, ...] = ()


@dataclass
class _Run:
    source: Source
    state: StateDir
    opts: Options
    now: int
    checks: list[Check] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    scanned: list[Finding] = field(default_factory=list)  # from the per-entry scan only
    evidence: dict[str, int] = field(default_factory=lambda: {"checked": 0, "not_kept": 0})
    counts: dict[str, int] = field(default_factory=dict)
    forked: bool = False  # the checkpoint is not consistent with the stored one

    def cmd(self, *extra: str) -> str:
        base = ["edgeproof", "audit", *self.source.args(), "--state"]
        base.append(shlex.quote(str(self.state.root)))
        return " ".join([*base, *extra])

    def fetch(self, path: str) -> tuple[str, ...]:
        c = self.source.fetch_command(path)
        return (c,) if c else ()

    def add(self, check: Check) -> None:
        self.checks.append(check)

    def fail(self, check_id: str, title: str, exc: Exception, commands: Sequence[str]) -> None:
        code = getattr(exc, "code", None)
        msg = getattr(exc, "message", str(exc))
        self.add(Check(check_id, title, "fail", msg, tuple(commands), code))


def run_audit(source: Source, state: StateDir, opts: Options, now: int) -> Report:
    """Run every check; AuditError only when the audit cannot start (no key set, no checkpoint).

    `now` (seconds) names files in the state folder: time comes from the caller.
    """
    r = _Run(source, state, opts, now)
    keyset, keys_doc = source.keyset()
    known = state.known_keysets()
    keys_cmds = r.fetch(KEYS_PATH)
    if not known:
        state.trust_keyset(keys_doc)
        r.add(
            Check("keyset", "Key set", "pass", "first audit: key set stored as trusted", keys_cmds)
        )
    else:
        # Warn once per change (against the last set seen); the first trusted set is kept.
        added, removed = keyset_change(known[-1], keyset)
        if added or removed:
            path = state.record_keyset(keys_doc, now)
            r.add(
                Check(
                    "keyset",
                    "Key set",
                    "warn",
                    f"changed since the last audit: added {added}, removed {removed}; "
                    f"kept in {path}. Confirm the rotation with the operator out of band.",
                    keys_cmds,
                    "audit.keyset-changed",
                )
            )
        else:
            r.add(Check("keyset", "Key set", "pass", "same keys as last seen", keys_cmds))
    # Keys seen earlier still validate what they signed while they were published.
    keys = TrustedKeys(keyset, *reversed(known))

    cp_cmds = (*r.fetch(paths.LOG_CHECKPOINT), r.cmd("--checkpoint-only"))
    try:
        cp = verify_checkpoint(source.checkpoint(), keys)
    except (AttestError, AuditError) as exc:
        r.fail("checkpoint", "Checkpoint signature", exc, cp_cmds)
        return _report(r, None)
    r.add(
        Check(
            "checkpoint",
            "Checkpoint signature",
            "pass",
            f"size {cp.size} signed by the verifier's result key (RFC 9052 section 4.4)",
            cp_cmds,
        )
    )
    r.counts["tree_size"] = cp.size

    last = state.latest(keys)
    consistent = _consistency(r, last, cp)
    state.record(cp, consistent=consistent)
    r.counts["checkpoints_stored"] = len(state.checkpoints())
    if opts.tlog is not None:
        run_tlog_checks(
            r.add,
            opts.tlog,
            state.root,
            opts.log_key,
            list(opts.witnesses),
            cp.size,
            cp.root,
            source.consistency,
            r.cmd("--checkpoint-only"),
        )

    by_leaf: dict[bytes, int] = {}
    if opts.checkpoint_only:
        pass
    elif opts.indices or opts.sample is not None:
        by_leaf = _sampled(r, cp, keys)
    else:
        by_leaf = _full(r, cp, last if consistent else None, keys)
    if opts.result is not None:
        _result(r, cp, opts.result, by_leaf, keys)
    return _report(r, cp)


def _consistency(r: _Run, last: SignedCheckpoint | None, cp: SignedCheckpoint) -> bool:
    title = "Consistency with the stored checkpoint (RFC 9162 section 2.1.4)"
    if last is None:
        r.add(Check("consistency", title, "skip", "no stored checkpoint yet: this one is kept"))
        return True
    cmds = (
        *r.fetch(paths.log_consistency(last.size, cp.size)),
        r.cmd("--checkpoint-only"),
    )
    try:
        proof = r.source.consistency(last.size, cp.size) if cp.size >= last.size else []
        check_consistency(last, cp, proof)
    except AuditError as exc:
        r.fail("consistency", title, exc, cmds)
        r.forked = True
        return False
    r.add(
        Check(
            "consistency",
            title,
            "pass",
            f"size {cp.size} extends the stored size {last.size}",
            cmds,
        )
    )
    return True


def _scan(r: _Run, index: int, data: bytes, keys: TrustedKeys) -> None:
    found = scan_entry(index, data, keys)
    if not found:  # a genuine result: check the device's evidence behind it, where kept
        try:
            kept = r.source.device_evidence(data)
        except AuditError as exc:
            found = [Finding(exc.code, f"evidence not served: {exc.message}", "error", index)]
        else:
            if kept is None:
                r.evidence["not_kept"] += 1
            else:
                r.evidence["checked"] += 1
                found = check_evidence(index, data, *kept)
    r.findings += found
    r.scanned += found


def _entry_checks(r: _Run, checked: int, cmds: tuple[str, ...]) -> None:
    bad = sorted({f.index for f in r.scanned if f.index is not None})
    privacy = sum(1 for f in r.scanned if f.severity == "privacy")
    r.counts["entries_checked"] = checked
    r.counts["entries_with_findings"] = len(bad)
    r.counts["privacy_findings"] = privacy
    r.add(
        Check(
            "entries",
            "Verifier signature and EAR schema on each entry (RFC 9052 section 4.4)",
            "fail" if bad else "pass",
            f"{checked - len(bad)} of {checked} entries verify"
            + (f"; with findings: {bad[:20]}" if bad else ""),
            cmds,
            "audit.entry-findings" if bad else None,
        )
    )
    ev_bad = sorted(
        {
            f.index
            for f in r.scanned
            if f.index is not None and f.code.startswith(("audit.evidence", "audit.device"))
        }
    )
    r.counts["evidence_checked"] = r.evidence["checked"]
    r.counts["evidence_not_kept"] = r.evidence["not_kept"]
    r.add(
        Check(
            "evidence",
            "Device signature on the evidence behind each result (RFC 9052 section 4.4)",
            "skip" if not r.evidence["checked"] else ("fail" if ev_bad else "pass"),
            f"{r.evidence['checked']} evidence tokens checked (digest, device signature, "
            f"schema), {r.evidence['not_kept']} not available from this source",
            cmds,
            "audit.evidence-invalid" if ev_bad else None,
        )
    )
    r.add(
        Check(
            "privacy",
            "Privacy registry scan (no claim outside attest's closed registry)",
            "fail" if privacy else "pass",
            f"{privacy} privacy findings in {checked} entries",
            cmds,
            "audit.privacy-findings" if privacy else None,
        )
    )
    if bad:
        i = bad[0]
        first = (
            r.cmd("--entry", str(i)),
            *r.source.inspect_commands(i),
        )
        r.add(
            Check(
                "first-bad-entry",
                f"First entry with findings ({i})",
                "fail",
                "; ".join(f"{f.code}: {f.message}" for f in r.scanned if f.index == i),
                first,
            )
        )


def _full(
    r: _Run, cp: SignedCheckpoint, last: SignedCheckpoint | None, keys: TrustedKeys
) -> dict[bytes, int]:
    leaves: dict[int, bytes] = {}  # leaf hashes only: a page's bytes are dropped once checked
    ids: dict[int, str] = {}
    cmds = (*r.fetch(paths.log_entries(0, min(cp.size, 1000) or 1)), r.cmd())
    title = "Tree recomputed from the entries matches the checkpoint (RFC 9162 section 2.1.1)"
    try:
        for page in iter_pages(r.source, cp.size):
            for i, data in page:
                if not 0 <= i < cp.size or i in leaves:
                    r.findings.append(
                        Finding(
                            "audit.unexpected-entry",
                            f"entry {i} outside the range asked or repeated",
                            "error",
                            i,
                        )
                    )
                    continue
                leaves[i] = merkle.leaf_hash(data)
                ids[i] = _appraisal_id(data)
                _scan(r, i, data, keys)
    except AuditError as exc:  # a log that cannot be served cannot be audited: a failure
        r.fail("tree", title, exc, cmds)
        return {}
    rec = recompute(leaves, cp.size)
    r.counts["entries_fetched"] = len(leaves)
    r.counts["entries_missing"] = len(rec.missing)
    r.findings += [
        Finding(
            "audit.entry-missing", f"entry {i} is in the signed tree but was not served", "error", i
        )
        for i in rec.missing[:100]
    ]
    code: str | None = None
    if rec.missing:
        code = "audit.entry-missing"
        detail = (
            f"{len(rec.missing)} entries missing (first {list(rec.missing[:10])}): "
            "the log cannot be rebuilt"
        )
    elif rec.tree.root() != cp.root:
        code = "audit.root-mismatch"
        detail = (
            f"recomputed root {rec.tree.root().hex()} != signed root "
            f"{cp.root.hex()}: entries were changed after they were logged"
        )
    elif last is not None and rec.tree.root(last.size) != last.root:
        # The consistency proof already implies this; rebuilding it shows it directly.
        code = "audit.fork"
        detail = f"the first {last.size} entries do not rebuild the stored checkpoint's root"
    else:
        detail = f"{cp.size} entries rebuild the signed root"
        if last is not None:
            detail += f"; the first {last.size} rebuild the stored checkpoint's root"
    r.add(Check("tree", title, "fail" if code else "pass", detail, cmds, code))
    ordered = [leaves[i] for i in range(len(leaves)) if i in leaves]
    if code is not None or r.forked:
        _first_changed(r, leaves, ids, cp if code == "audit.root-mismatch" else None)
    elif len(ordered) == cp.size:  # a forked tree never becomes the reference
        r.state.keep_leaves(ordered, [ids[i] for i in range(cp.size)])
    _entry_checks(r, len(leaves), cmds)
    return rec.by_leaf


MAX_PROOFS = 10_000  # inclusion proofs fetched to find the changed entry without kept leaves


def _entry_changed(r: _Run, i: int, title: str, detail: str) -> None:
    """The failing `first-changed-entry` check: entry `i`, and the commands that show it."""
    r.counts["first_changed_entry"] = i
    r.add(
        Check(
            "first-changed-entry",
            f"{title} ({i})",
            "fail",
            detail,
            (r.cmd("--entry", str(i)), *r.source.inspect_commands(i)),
            "audit.entry-changed",
        )
    )


def _first_unprovable(
    r: _Run, leaves: dict[int, bytes], ids: dict[int, str], cp: SignedCheckpoint
) -> None:
    """Without kept leaves, a root mismatch is narrowed down with the log's own inclusion
    proofs: the first served entry whose leaf hash does not prove against the signed root
    (RFC 9162 section 2.1.3.2) is the one that differs from what was signed."""
    title = "First entry whose bytes are not the signed tree's leaf"
    for i in range(min(len(leaves), cp.size, MAX_PROOFS)):
        leaf = leaves.get(i)
        if leaf is None:
            break
        try:
            merkle.verify_inclusion(leaf, i, cp.size, r.source.inclusion(i, cp.size), cp.root)
        except AttestError:
            pass
        except AuditError as exc:
            r.fail("first-changed-entry", title, exc, ())
            return
        else:
            continue
        _entry_changed(
            r,
            i,
            title,
            f"entry {i}: appraisal {ids.get(i, '?')}, leaf hash found {leaf.hex()} does not "
            f"prove against the signed root {cp.root.hex()} with the log's audit path",
        )
        return
    r.add(
        Check(
            "first-changed-entry",
            title,
            "skip",
            f"none of the first {min(len(leaves), cp.size, MAX_PROOFS)} entries stands out by "
            "its inclusion proof, and no leaves are kept from an earlier verified audit",
        )
    )


def _appraisal_id(data: bytes) -> str:
    try:
        return decode_ear_unverified(data).appraisal_id
    except AttestError:
        return "unreadable"


def _first_changed(
    r: _Run, leaves: dict[int, bytes], ids: dict[int, str], cp: SignedCheckpoint | None
) -> None:
    """Name the first entry whose leaf hash differs from the one the last verified full
    audit kept: a rewritten entry shows as a fork or a root mismatch, and this says which
    one (its index, its appraisal id then and now, both leaf hashes, RFC 9162 section 2.1.1)."""
    kept, kept_ids = r.state.kept_leaves()
    title = "First entry that differs from the last verified audit"
    if not kept and cp is not None:
        _first_unprovable(r, leaves, ids, cp)
        return
    if not kept:
        r.add(
            Check(
                "first-changed-entry",
                title,
                "skip",
                "no leaves kept from an earlier full audit of a verified tree: cannot say "
                "which entry changed",
            )
        )
        return
    for i, old in enumerate(kept):
        new = leaves.get(i)
        if new == old:
            continue
        if new is None:
            detail = f"entry {i} (appraisal {kept_ids[i]}) is no longer served"
        else:
            detail = (
                f"entry {i}: appraisal {kept_ids[i]} was logged there, now appraisal {ids[i]}; "
                f"leaf hash expected {old.hex()}, found {new.hex()}"
            )
        _entry_changed(r, i, title, detail)
        return
    r.add(
        Check(
            "first-changed-entry",
            title,
            "pass",
            f"the {len(kept)} entries kept from the last verified audit are unchanged",
        )
    )


def _sampled(r: _Run, cp: SignedCheckpoint, keys: TrustedKeys) -> dict[bytes, int]:
    if r.opts.indices:
        chosen = sorted(set(r.opts.indices))
        extra = ["--entry", ",".join(map(str, chosen))]
    else:
        n = min(r.opts.sample or 0, cp.size)
        # Seeded so another auditor can re-run the same sample; the seed is the auditor's
        # to choose (and to keep from the operator until the audit is done).
        chosen = sorted(random.Random(r.opts.seed).sample(range(cp.size), n))  # noqa: S311
        extra = ["--sample", str(r.opts.sample), "--seed", str(r.opts.seed)]
    cmds = (r.cmd(*extra),)
    not_included: list[int] = []
    scanned = 0
    by_leaf: dict[bytes, int] = {}
    for i in chosen:
        if not 0 <= i < cp.size:
            r.findings.append(
                Finding("audit.bad-index", f"no entry {i} in a tree of {cp.size}", "error", i)
            )
            continue
        try:
            got = dict(r.source.entries(i, 1))
            if i not in got:
                raise AuditError(f"entry {i} was not served", code="audit.entry-missing")
            check_inclusion(got[i], i, cp, r.source.inclusion(i, cp.size))
        except AuditError as exc:
            not_included.append(i)
            r.findings.append(Finding(exc.code, exc.message, "error", i))
            continue
        by_leaf[merkle.leaf_hash(got[i])] = i
        _scan(r, i, got[i], keys)
        scanned += 1
    r.counts["entries_sampled"] = len(chosen)
    r.add(
        Check(
            "sample-inclusion",
            "Each sampled entry is in the signed tree (RFC 9162 section 2.1.3)",
            "fail" if not_included else "pass",
            f"{len(chosen) - len(not_included)} of {len(chosen)} sampled entries proved included"
            + (f"; not: {not_included[:20]}" if not_included else ""),
            cmds,
            "audit.not-included" if not_included else None,
        )
    )
    _entry_checks(r, scanned, cmds)
    return by_leaf


def _result(
    r: _Run, cp: SignedCheckpoint, data: bytes, by_leaf: dict[bytes, int], keys: TrustedKeys
) -> None:
    title = f"Result {r.opts.result_name} is in the signed log (RFC 9162 section 2.1.3)"
    cmds = (r.cmd("--checkpoint-only", "--result", shlex.quote(r.opts.result_name)),)
    sig = scan_entry(None, data, keys)
    if sig:
        r.add(
            Check(
                "result-signature",
                "Result signed by the verifier",
                "fail",
                "; ".join(f"{f.code}: {f.message}" for f in sig),
                cmds,
                sig[0].code,
            )
        )
    else:
        r.add(
            Check(
                "result-signature",
                "Result signed by the verifier",
                "pass",
                "valid EAR signature by a published key",
                cmds,
            )
        )
    leaf = merkle.leaf_hash(data)
    index = r.opts.result_index if r.opts.result_index is not None else by_leaf.get(leaf)
    try:
        index = _find(r, cp, leaf) if index is None else index
    except AuditError as exc:
        r.fail("result-inclusion", title, exc, cmds)
        return
    if index is None:
        r.add(
            Check(
                "result-inclusion",
                title,
                "fail",
                f"no entry among the {cp.size} has this result's leaf hash {leaf.hex()}",
                cmds,
                "audit.not-included",
            )
        )
        return
    try:
        check_inclusion(data, index, cp, r.source.inclusion(index, cp.size))
    except AuditError as exc:
        r.fail("result-inclusion", title, exc, cmds)
        return
    r.add(
        Check(
            "result-inclusion", title, "pass", f"leaf {index} of the tree of size {cp.size}", cmds
        )
    )


def _find(r: _Run, cp: SignedCheckpoint, leaf: bytes) -> int | None:
    """Page through the log for a leaf hash (when the entries were not all fetched)."""
    for page in iter_pages(r.source, cp.size):
        for i, data in page:
            if merkle.leaf_hash(data) == leaf:
                return i
    return None


def _report(r: _Run, cp: SignedCheckpoint | None) -> Report:
    r.counts["findings"] = len(r.findings)
    return Report(
        source=" ".join(r.source.args()),
        checkpoint=cp.to_json() if cp else None,
        checks=tuple(r.checks),
        findings=tuple(r.findings),
        counts=dict(r.counts),
    )
