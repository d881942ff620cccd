"""The HTML report: one self-contained page, inline CSS and SVG, nothing fetched.

For each column, the training and the current distribution are drawn side by
side on the same bins and the same scale, under the test's result.
"""

from __future__ import annotations

from html import escape

from runner.monitor.report import headline
from runner.monitor.result import ColumnResult, MonitorResult, Plot

WIDTH, HEIGHT, PAD = 300, 140, 18

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:20px;margin:0 0 4px} .meta{color:#57606a;margin-bottom:16px}
.verdict{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600}
.ok{background:#1a7f37} .drift,.degraded{background:#cf222e} .undecided{background:#9a6700}
.reasons li{color:#cf222e;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:16px}
.card{border:1px solid #d0d7de;border-radius:6px;padding:12px;width:620px}
.card.bad{border-color:#cf222e;box-shadow:0 0 0 1px #cf222e}
.card h2{font-size:15px;margin:0 0 4px;font-family:ui-monospace,monospace}
.status{font-size:12px;padding:1px 8px;border-radius:10px;color:#fff;margin-left:6px}
.panels{display:flex;gap:12px} .panels figure{margin:0}
figcaption{font-size:12px;color:#57606a;text-align:center}
.finding{font-size:12px;color:#57606a;margin:2px 0}
table{border-collapse:collapse;margin:8px 0} td,th{border:1px solid #d0d7de;padding:3px 8px}
"""


def render(result: MonitorResult) -> str:
    """The whole page."""
    # Columns that need attention first, then the rest in the model's order.
    ordered = sorted(result.columns, key=lambda c: c.status == "ok")
    cards = "\n".join(_card(c) for c in ordered)
    reasons = "".join(f"<li>{escape(r)}</li>" for r in result.reasons)
    notes = "".join(f"<li>{escape(n)}</li>" for n in result.notes)
    perf = _performance(result)
    title = f"{result.model} {result.version} on {result.env}: {result.verdict}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body>
<h1>{escape(result.model)} {escape(result.version)} on {escape(result.env)}
<span class="verdict {result.verdict}">{result.verdict}</span></h1>
<div class="meta">{escape(headline(result))}<br>checked {escape(result.time)}</div>
<ul class="reasons">{reasons}</ul>
{perf}
<ul class="notes">{notes}</ul>
<div class="grid">
{cards}
</div>
</body></html>
"""


def _performance(result: MonitorResult) -> str:
    perf = result.performance
    if perf is None:
        return ""
    rows = "".join(
        f"<tr><td>{escape(c.metric)}</td><td>{escape(c.rule)}</td>"
        f"<td>{'' if c.current is None else f'{c.current:g}'}</td>"
        f"<td>{'' if c.registered is None else f'{c.registered:g}'}</td>"
        f"<td>{escape(c.result)}</td><td>{escape(c.reason)}</td></tr>"
        for c in perf.checks
    )
    return (
        f"<h2>Performance on {perf.rows} labelled rows</h2><table><tr><th>metric</th>"
        f"<th>rule</th><th>current</th><th>registered</th><th>result</th><th>reason</th></tr>"
        f"{rows}</table>"
    )


def _card(c: ColumnResult) -> str:
    colour = {"ok": "#1a7f37", "drift": "#cf222e"}.get(c.status, "#9a6700")
    name = "prediction" if c.role == "prediction" else c.name
    findings = "".join(f'<p class="finding">{escape(f)}</p>' for f in [*c.reasons, *c.notes])
    panels = ""
    if c.plot is not None:
        top = max([*c.plot.reference, *c.plot.current, 1e-9])
        panels = (
            '<div class="panels">'
            f"<figure>{_svg(c.plot, c.plot.reference, top, '#0969da')}"
            "<figcaption>training</figcaption></figure>"
            f"<figure>{_svg(c.plot, c.plot.current, top, '#bf3989')}"
            "<figcaption>current</figcaption></figure></div>"
        )
    bad = " bad" if c.status != "ok" else ""
    return (
        f'<section class="card{bad}"><h2>{escape(name)}'
        f'<span class="status" style="background:{colour}">{escape(c.status)}</span></h2>'
        f'<p class="finding">{escape(c.kind or "not in training")} · '
        f"{escape(c.summary or 'no test')}</p>{findings}{panels}</section>"
    )


def _svg(plot: Plot, values: list[float], top: float, colour: str) -> str:
    """A bar chart of `values` (shares), scaled so that `top` fills the height."""
    n = max(len(values), 1)
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    bar = inner_w / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#f6f8fa"/>',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#57606a"/>',
    ]
    for i, value in enumerate(values):
        h = inner_h * value / top
        x = PAD + i * bar
        label = plot.labels[i] if plot.kind == "categorical" else _range(plot, i)
        parts.append(
            f'<rect x="{x + 0.5:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{max(bar - 1, 1):.1f}" '
            f'height="{h:.1f}" fill="{colour}"><title>{escape(label)}: {value:.1%}</title></rect>'
        )
    if plot.kind == "numeric" and plot.edges:
        lo, hi = plot.edges[0], plot.edges[-1]
        parts.append(_text(PAD, HEIGHT - 4, f"{lo:.3g}", "start"))
        parts.append(_text(WIDTH - PAD, HEIGHT - 4, f"{hi:.3g}", "end"))
    else:
        for i, label in enumerate(plot.labels[:8]):
            parts.append(_text(PAD + (i + 0.5) * bar, HEIGHT - 4, label[:8], "middle"))
    parts.append(_text(PAD, PAD - 5, f"max {top:.0%}", "start"))
    parts.append("</svg>")
    return "".join(parts)


def _range(plot: Plot, i: int) -> str:
    return f"{plot.edges[i]:.3g} to {plot.edges[i + 1]:.3g}"


def _text(x: float, y: float, text: str, anchor: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="10" fill="#57606a" '
        f'text-anchor="{anchor}">{escape(text)}</text>'
    )
