"""Write a run as ``report.md`` and ``report.html`` (figures are the PNGs already in the directory)."""
from __future__ import annotations

import html
import os
import platform
from datetime import datetime, timezone

from .runner import RunSummary

__all__ = ["write_report", "format_number"]


def format_number(x: float) -> str:
    """Three significant digits; ``nan`` stays visible."""
    return f"{x:.3g}"


def _header(summary: RunSummary) -> list[str]:
    import numpy

    import freeprob

    status = "all passed" if summary.passed else f"{summary.n_failed} FAILED"
    return [
        f"{len(summary.outcomes)} cases, {status}; mode `{summary.mode}`, seed {summary.seed}, "
        f"{summary.seconds:.1f} s in total.",
        f"freeprob {freeprob.__version__}, numpy {numpy.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.",
        "Every number and figure below was computed by this run. A case passes when "
        "distance ≤ tolerance.",
    ]


def _row(o) -> list[str]:
    return [o.name, o.prediction, o.measurement, f"{format_number(o.distance)} ({o.metric})",
            format_number(o.tolerance), "pass" if o.passed else "FAIL", f"{o.seconds:.2f}"]


_COLUMNS = ["case", "prediction", "measurement", "distance", "tolerance", "result", "seconds"]


def _markdown(summary: RunSummary) -> str:
    lines = ["# freeprob verify report", ""]
    lines += [h + "  " for h in _header(summary)] + [""]
    lines.append("| " + " | ".join(_COLUMNS) + " |")
    lines.append("|" + "---|" * len(_COLUMNS))
    for o in summary.outcomes:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in _row(o)) + " |")
    for o in summary.outcomes:
        lines += ["", f"## {o.name}: {o.title}", "",
                  f"- **How (independent route):** {o.how}",
                  f"- **Size:** {o.size}",
                  f"- **Prediction:** {o.prediction}",
                  f"- **Measurement:** {o.measurement}",
                  f"- **Distance:** {format_number(o.distance)} ({o.metric}); **tolerance** "
                  f"{format_number(o.tolerance)} → **{'pass' if o.passed else 'FAIL'}** in {o.seconds:.2f} s"]
        if o.error:
            lines += ["", "```", o.error.rstrip(), "```"]
        if o.figure:
            lines += ["", f"![{o.name}]({o.figure})"]
    return "\n".join(lines) + "\n"


_CSS = ("body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.3em .5em;vertical-align:top}"
        ".pass{color:#196619;font-weight:bold}.fail{color:#b00;font-weight:bold}img{max-width:100%}"
        "pre{background:#f4f4f4;padding:.5em;overflow-x:auto}")


def _html(summary: RunSummary) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>freeprob verify report</title>",
             f"<style>{_CSS}</style></head><body><h1>freeprob verify report</h1>"]
    parts += [f"<p>{e(h).replace('`', '')}</p>" for h in _header(summary)]
    parts.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in _COLUMNS) + "</tr>")
    for o in summary.outcomes:
        cells = _row(o)
        cells[0] = f"<a href='#{o.name}'>{e(o.name)}</a>"
        cls = "pass" if o.passed else "fail"
        tds = [cells[0]] + [e(c) for c in cells[1:5]] + [f"<span class='{cls}'>{e(cells[5])}</span>", e(cells[6])]
        parts.append("<tr>" + "".join(f"<td>{c}</td>" for c in tds) + "</tr>")
    parts.append("</table>")
    for o in summary.outcomes:
        cls = "pass" if o.passed else "fail"
        parts.append(f"<h2 id='{o.name}'>{e(o.name)}: {e(o.title)}</h2><ul>"
                     f"<li><b>How (independent route):</b> {e(o.how)}</li><li><b>Size:</b> {o.size}</li>"
                     f"<li><b>Prediction:</b> {e(o.prediction)}</li><li><b>Measurement:</b> {e(o.measurement)}</li>"
                     f"<li><b>Distance:</b> {format_number(o.distance)} ({e(o.metric)}); <b>tolerance</b> "
                     f"{format_number(o.tolerance)} → <span class='{cls}'>{'pass' if o.passed else 'FAIL'}</span>"
                     f" in {o.seconds:.2f} s</li></ul>")
        if o.error:
            parts.append(f"<pre>{e(o.error)}</pre>")
        if o.figure:
            parts.append(f"<img src='{e(o.figure)}' alt='{e(o.name)}'>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(summary: RunSummary, out: str | os.PathLike) -> tuple[str, str]:
    """Write ``report.md`` and ``report.html`` into ``out``; return their paths."""
    md = os.path.join(out, "report.md")
    ht = os.path.join(out, "report.html")
    with open(md, "w", encoding="utf-8") as f:
        f.write(_markdown(summary))
    with open(ht, "w", encoding="utf-8") as f:
        f.write(_html(summary))
    return md, ht
