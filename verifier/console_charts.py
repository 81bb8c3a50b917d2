"""The console's charts: decisions and failure reasons per day, as inline SVG laid out
here, so the page needs no JavaScript and no external asset.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, func, literal_column, select

from attest.ear import Status
from verifier.console_base import (
    DECISION_COLOURS,
    PALETTE,
    STATUS_COLOURS,
    bp,
    page,
    utc,
)
from verifier.http import int_arg, verifier
from verifier.storage import Appraisal

MAX_REASON_ROWS = 50_000  # appraisals read for the failure-reason chart
DAY = 86_400


# -- charts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str


@dataclass(frozen=True)
class Chart:
    """A stacked bar chart, laid out here; the template only draws it."""

    title: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    x_labels: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    legend: tuple[tuple[str, str, int], ...]  # (name, colour, total)
    baseline: float
    left: float


def stacked_chart(title: str, days: list[int], series: list[tuple[str, str, list[int]]]) -> Chart:
    """Bars per day, one segment per series; axes scaled to a round maximum."""
    width, height, left, top, bottom = 760, 260, 44.0, 16.0, 40.0
    plot_h = height - top - bottom
    totals = [sum(s[2][i] for s in series) for i in range(len(days))]
    peak = max([1, *totals])
    step = _nice_step(peak)
    top_value = step * -(-peak // step)
    slot = (width - left - 8) / max(1, len(days))
    bars: list[Bar] = []
    for i, day in enumerate(days):
        y = top + plot_h
        for name, colour, values in series:
            n = values[i]
            if n == 0:
                continue
            h = plot_h * n / top_value
            y -= h
            bars.append(
                Bar(
                    left + i * slot + slot * 0.15,
                    y,
                    slot * 0.7,
                    h,
                    colour,
                    f"{utc(day)[:10]}: {n} {name}",
                )
            )
    every = max(1, len(days) // 10)
    x_labels = tuple(
        (left + i * slot + slot / 2, utc(d)[5:10]) for i, d in enumerate(days) if i % every == 0
    )
    y_ticks = tuple(
        (top + plot_h - plot_h * t / top_value, str(t)) for t in range(0, top_value + 1, step)
    )
    legend = tuple((name, colour, sum(values)) for name, colour, values in series)
    return Chart(title, width, height, tuple(bars), x_labels, y_ticks, legend, top + plot_h, left)


def _nice_step(peak: int) -> int:
    """1, 2, 5, 10, 20, 50, ...: the smallest that needs at most five grid lines."""
    step = 1
    while peak / step > 5:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    return step


@bp.get("/charts")
def charts() -> Any:
    v = verifier()
    n_days = int_arg("days", 14, hi=90, lo=1)
    first = (v.now() // DAY - n_days + 1) * DAY
    days = [first + i * DAY for i in range(n_days)]
    slot = {d: i for i, d in enumerate(days)}
    # A literal divisor, not a bound one: PostgreSQL needs the GROUP BY expression to be
    # the selected one, and two bound parameters would make them differ.
    day = Appraisal.created_at // literal_column(str(DAY), Integer)
    with v.reader() as s:
        by_day = s.execute(
            select(day, Appraisal.status, func.count())
            .where(Appraisal.created_at >= first)
            .group_by(day, Appraisal.status)
        ).all()
        recent = s.execute(
            select(Appraisal.created_at, Appraisal.checks)
            .where(Appraisal.created_at >= first)
            .order_by(Appraisal.log_index.desc())
            .limit(MAX_REASON_ROWS + 1)
        ).all()
    status_series = {label: [0] * n_days for label in STATUS_COLOURS}
    for day, status, n in by_day:
        i = slot.get(int(day) * DAY)
        label = Status(status).label
        if i is not None and label in status_series:
            status_series[label][i] += int(n)
    decision_series = {name: [0] * n_days for name in DECISION_COLOURS}
    reasons: Counter[str] = Counter()
    per_day: dict[str, dict[str, list[int]]] = {"failed": {}, "warning": {}}
    outcome_of: dict[str, str] = {}
    for created_at, checks in recent[:MAX_REASON_ROWS]:
        i = slot.get(created_at // DAY * DAY)
        if i is None:
            continue
        for c in json.loads(checks):
            outcome = c.get("outcome")
            if c.get("check") == "decision":
                name = str(c.get("detail", "")).replace("_", "-")
                if name in decision_series:
                    decision_series[name][i] += 1
            elif outcome in per_day and c.get("code"):
                code = str(c["code"])
                reasons[code] += 1
                outcome_of.setdefault(code, outcome)
                per_day[outcome].setdefault(code, [0] * n_days)[i] += 1
    # One colour per reason code on both charts, by rank; the rest share "other".
    ranked = [code for code, _ in reasons.most_common(len(PALETTE) - 1)]
    colour = {code: PALETTE[k] for k, code in enumerate(ranked)}

    def reason_series(outcome: str) -> list[tuple[str, str, list[int]]]:
        codes = per_day[outcome]
        out = [(c, colour[c], codes[c]) for c in ranked if c in codes]
        other = [0] * n_days
        for code, values in codes.items():
            if code not in colour:
                other = [a + b for a, b in zip(other, values, strict=True)]
        if any(other):
            out.append(("other", PALETTE[-1], other))
        return out

    return page(
        "charts.html",
        days=n_days,
        statuses=stacked_chart(
            "Appraisals per day by status",
            days,
            [(name, STATUS_COLOURS[name], vals) for name, vals in status_series.items()],
        ),
        decisions=stacked_chart(
            "Face-match decisions per day",
            days,
            [(name, DECISION_COLOURS[name], vals) for name, vals in decision_series.items()],
        ),
        reasons=stacked_chart("Failure reasons per day", days, reason_series("failed")),
        warnings=stacked_chart("Warning reasons per day", days, reason_series("warning")),
        reason_totals=[(code, n, outcome_of[code]) for code, n in reasons.most_common()],
        truncated=len(recent) > MAX_REASON_ROWS,
    )
