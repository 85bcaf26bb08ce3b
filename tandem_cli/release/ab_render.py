"""Render the A/B report: rich tables (per variant, tests against the baseline) or JSON."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from tandem_cli.release.ab_collect import CollectedReport


def _fmt(x: float | None, pattern: str = "{:.1f}") -> str:
    return "-" if x is None else pattern.format(x)


def report_json(collected: CollectedReport) -> str:
    """The report as indented JSON, with the unreadable entries skipped per stream."""
    skipped = {"querylog": collected.skipped_querylog, "feedback": collected.skipped_feedback}
    payload = collected.report.to_dict() | {"skipped": skipped}
    return json.dumps(payload, indent=2, default=str)


def print_report(collected: CollectedReport) -> None:
    """Print the variants table, the tests table (when any) and the report's notes."""
    report = collected.report
    pct = int(report.confidence * 100)
    table = Table(title=f"A/B report (baseline {report.baseline}, {pct}% intervals)")
    for col in ["variant", "n", "p50 ms", "p95 ms", "p99 ms", "cache hit", "error", "positive fb"]:
        table.add_column(col, justify="left" if col == "variant" else "right")
    for v in report.variants:
        cells = [v.variant, str(v.queries)]
        for p in v.latency:
            ci = f" [{p.ci.low:.0f}, {p.ci.high:.0f}]" if p.ci else ""
            cells.append(_fmt(p.value) + ci)
        for r in (v.cache_hit, v.error, v.positive_feedback):
            ci = f" [{r.ci.low:.3f}, {r.ci.high:.3f}]" if r.ci else ""
            cells.append(f"{_fmt(r.value, '{:.3f}')}{ci} n={r.total}")
        table.add_row(*cells)
    out = Console()
    out.print(table)
    tests = Table(title=f"vs baseline {report.baseline}")
    for col in ["variant", "metric", "test", "difference", "p-value", "significant (5%)"]:
        tests.add_column(col)
    for v in report.variants:
        for c in v.vs_baseline:
            tests.add_row(
                v.variant,
                c.metric,
                c.test,
                _fmt(c.difference, "{:+.4g}"),
                _fmt(c.p_value, "{:.3g}"),
                "yes" if c.significant() else "no",
            )
    if any(v.vs_baseline for v in report.variants):
        out.print(tests)
    for note in report.notes:
        out.print(f"note: {note}")
    if collected.skipped_querylog or collected.skipped_feedback:
        out.print(
            "skipped unreadable entries: "
            f"query log {collected.skipped_querylog}, feedback {collected.skipped_feedback}"
        )
