"""An audit's outcome: each check with its verdict and the command that reproduces it.

Rendered three ways from the same frozen data: text for a terminal, JSON for scripts and
a self-contained HTML page (inline CSS, no scripts, no external assets) to file or mail.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from attest.errors import AttestError
from attest.keys import b64url_decode
from audit.checks import Finding

Verdict = Literal["pass", "fail", "warn", "skip"]
MAX_LISTED = 200  # findings listed in text and HTML; JSON carries them all


def hex_of(b64: Any) -> str:
    """A hash as the reports write every hash: lowercase hex (docs/auditing.md,
    "Encodings"); the JSON report keeps the verifier's signed checkpoint as served."""
    try:
        return b64url_decode(str(b64)).hex()
    except (AttestError, ValueError):
        return f"{b64} (not base64url)"


def utc_epoch(t: Any) -> str:
    """A time as the reports and the console write it: UTC, the epoch beside it."""
    try:
        when = dt.datetime.fromtimestamp(int(t), dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError, TypeError):
        return f"{t} (out of range)"
    return f"{when} ({int(t)})"


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    verdict: Verdict
    detail: str
    commands: tuple[str, ...] = ()
    code: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "verdict": self.verdict,
            "detail": self.detail,
            "code": self.code,
            "reproduce": list(self.commands),
        }


@dataclass(frozen=True)
class Report:
    source: str
    checkpoint: dict[str, Any] | None
    checks: tuple[Check, ...]
    findings: tuple[Finding, ...]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every check passed (warnings allowed) and no error or privacy finding."""
        return all(c.verdict != "fail" for c in self.checks) and not any(
            f.severity in ("error", "privacy") for f in self.findings
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source,
            "checkpoint": self.checkpoint,
            "counts": self.counts,
            "checks": [c.to_json() for c in self.checks],
            "findings": [f.to_json() for f in self.findings],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)

    def text(self) -> str:
        lines = [f"audit of {self.source}: {'OK' if self.ok else 'FAILED'}"]
        if self.checkpoint:
            cp = self.checkpoint
            lines.append(
                f"checkpoint: size {cp['tree_size']}, root {hex_of(cp['root_hash'])}, "
                f"time {utc_epoch(cp['timestamp'])}, origin {cp['origin']}"
            )
        lines.append("counts: " + ", ".join(f"{k}={v}" for k, v in self.counts.items()))
        for c in self.checks:
            code = f" [{c.code}]" if c.code else ""
            lines.append(f"  {c.verdict.upper():4}  {c.title}{code}: {c.detail}")
            lines.extend(f"        $ {cmd}" for cmd in c.commands)
        if self.findings:
            lines.append(f"findings ({len(self.findings)}):")
            for f in self.findings[:MAX_LISTED]:
                at = f"entry {f.index}: " if f.index is not None else ""
                lines.append(f"  {f.severity}: {at}{f.code}: {f.message}")
            if len(self.findings) > MAX_LISTED:
                lines.append(f"  ... {len(self.findings) - MAX_LISTED} more (see --json)")
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        e = html.escape
        rows = []
        for c in self.checks:
            cmds = "".join(f"<pre>$ {e(cmd)}</pre>" for cmd in c.commands)
            code = f"<code>{e(c.code)}</code>" if c.code else ""
            rows.append(
                f'<tr class="{c.verdict}"><td class="v">{c.verdict.upper()}</td>'
                f"<td><b>{e(c.title)}</b> {code}<br>{e(c.detail)}{cmds}</td></tr>"
            )
        found = "".join(
            f'<tr class="{f.severity}"><td>{e(f.severity)}</td>'
            f"<td>{'' if f.index is None else f.index}</td>"
            f"<td><code>{e(f.code)}</code></td><td>{e(f.message)}</td></tr>"
            for f in self.findings[:MAX_LISTED]
        )
        more = (
            f"<p>{len(self.findings) - MAX_LISTED} more findings: see the JSON report.</p>"
            if len(self.findings) > MAX_LISTED
            else ""
        )
        counts = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in self.counts.items())
        cp = self.checkpoint or {}
        shown = {
            **cp,
            **({"root_hash": hex_of(cp["root_hash"])} if "root_hash" in cp else {}),
            **({"timestamp": utc_epoch(cp["timestamp"])} if "timestamp" in cp else {}),
        }
        cp_rows = "".join(
            f"<tr><td>{e(k)}</td><td><code>{e(str(v))}</code></td></tr>"
            for k, v in shown.items()
            if k != "signed"
        )
        verdict = "OK" if self.ok else "FAILED"
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>edgeproof audit: {verdict}</title>
<style>
body{{font:15px/1.4 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222}}
table{{border-collapse:collapse;width:100%;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}}
pre{{background:#f4f4f4;padding:.3em;margin:.3em 0;white-space:pre-wrap;word-break:break-all}}
.pass .v{{background:#d7f5d7}} .fail .v{{background:#f8d0d0}}
.warn .v{{background:#fbeec0}} .skip .v{{background:#eee}}
tr.error td,tr.privacy td{{background:#fdf0f0}} tr.warning td{{background:#fdf8e6}}
h1 span{{padding:0 .3em;border-radius:.2em;background:{"#d7f5d7" if self.ok else "#f8d0d0"}}}
</style></head><body>
<h1>edgeproof audit: <span>{verdict}</span></h1>
<p>Source: <code>{e(self.source)}</code></p>
<h2>Checkpoint</h2><table>{cp_rows}</table>
<h2>Counts</h2><table>{counts}</table>
<h2>Checks</h2><table>{"".join(rows)}</table>
<h2>Findings ({len(self.findings)})</h2>
<table><tr><th>severity</th><th>entry</th><th>code</th><th>message</th></tr>{found}</table>{more}
</body></html>
"""
