"""Shared pieces of the self-contained HTML reports: CSS, escaping, a version chart.

No JavaScript, no external URLs: the page renders offline and in mail attachments.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#ffffff; --soft:#f6f8fa;
  --red:#cf222e; --green:#1a7f37; --blue:#0969da; --amber:#9a6700; --violet:#8250df; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  color: var(--fg); background: var(--bg); margin: 0; padding: 24px 32px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px;
  border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.muted { color: var(--muted); } code, .mono { font-family: ui-monospace, SFMono-Regular,
  Menlo, Consolas, monospace; font-size: 12.5px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 150px;
  background: var(--soft); }
.card .n { font-size: 24px; font-weight: 600; } .card .l { color: var(--muted); font-size: 12px; }
.card.bad { border-color: var(--red); } .card.bad .n { color: var(--red); }
.card.ok .n { color: var(--green); } .card.na .n { color: var(--amber); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 14px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; overflow-wrap: anywhere; }
th { background: var(--soft); font-weight: 600; font-size: 12.5px; }
tr:hover td { background: #f0f6ff; }
.kind { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 12px;
  border: 1px solid currentColor; white-space: nowrap; }
.k-added, .k-outside-lock { color: var(--green); }
.k-removed, .k-missing-from-image { color: var(--red); }
.k-upgraded { color: var(--blue); } .k-downgraded { color: var(--amber); }
.k-rebuilt, .k-metadata-changed, .k-lock-rewritten { color: var(--muted); }
.k-channel-changed, .k-moved { color: var(--violet); }
.k-hash-changed, .k-corrupt-lock, .k-image-moved, .k-tag-missing { color: var(--red);
  font-weight: 600; }
.status { font-weight: 600; } .status-ok { color: var(--green); }
.status-unavailable { color: var(--amber); } .status-skipped { color: var(--muted); }
.status-drift { color: var(--red); }
.cause { font-size: 12px; color: var(--muted); white-space: nowrap; }
.chart { border: 1px solid var(--line); border-radius: 8px; background: #fff; padding: 8px;
  overflow-x: auto; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
"""

#: Line colours of the version chart (one per package row, cycled).
PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#9a6700", "#bc4c00", "#1b7c83", "#6e7781")


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def page(title: str, body: str) -> str:
    """A complete HTML document with the CSS inline and a strict CSP (no network)."""
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{body}\n</body>\n</html>\n"
    )


def kind_badge(kind: str) -> str:
    return f'<span class="kind k-{esc(kind)}">{esc(kind)}</span>'


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """A table whose cells are already-escaped HTML."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>\n" for row in rows)
    attr = f' class="{esc(cls)}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"


@dataclass(frozen=True)
class _Chart:
    """Geometry of the version chart: where revision i and each row sit."""

    n: int
    width: int
    rows: int
    left: int = 190
    right: int = 70
    top: int = 28
    row_h: int = 46
    gap: int = 10

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right

    @property
    def height(self) -> int:
        return self.top + self.rows * (self.row_h + self.gap) + 34

    def x(self, i: int) -> float:
        step = self.plot_w / max(self.n - 1, 1)
        return self.left + (i * step if self.n > 1 else self.plot_w / 2)


def version_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[str], Sequence[str]]],
    *,
    width: int = 1100,
) -> str:
    """An inline SVG step chart: one row per package, its version over revisions.

    `series` is (package name, version per revision, the versions ordered oldest→newest);
    each row's y is the version's rank in its own order, so every package uses its
    row's full height; the version is written where it changes.
    """
    if not labels or not series:
        return ""
    chart = _Chart(n=len(labels), width=width, rows=len(series))
    height = chart.height
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="package versions over revisions" '
        'font-family="Helvetica, Arial, sans-serif" font-size="11">'
    ]
    parts.extend(_axis(chart, labels))
    for row, (name, versions, order) in enumerate(series):
        parts.extend(_row(chart, row, name, versions, order, labels))
    parts.append("</svg>")
    return "".join(parts)


def _axis(chart: _Chart, labels: Sequence[str]) -> list[str]:
    """Vertical grid lines with revision labels (at most ~12, always the last)."""
    out = []
    every = max(1, -(-chart.n // 12))
    for i, label in enumerate(labels):
        if i % every and i != chart.n - 1:
            continue
        out.append(
            f'<line x1="{chart.x(i):.1f}" y1="{chart.top - 6}" x2="{chart.x(i):.1f}" '
            f'y2="{chart.height - 30}" stroke="#eaeef2" stroke-width="1"/>'
            f'<text x="{chart.x(i):.1f}" y="{chart.height - 14}" text-anchor="middle" '
            f'fill="#59636e" font-family="monospace" font-size="10">{esc(label)}</text>'
        )
    return out


def _row(
    chart: _Chart,
    row: int,
    name: str,
    versions: Sequence[str],
    order: Sequence[str],
    labels: Sequence[str],
) -> list[str]:
    """One package's band: its name, the step line, a dot and label where it changes."""
    color = PALETTE[row % len(PALETTE)]
    y0 = chart.top + row * (chart.row_h + chart.gap)
    rank = {v: k for k, v in enumerate(order)}
    span = max(len(order) - 1, 1)

    def y(version: str) -> float:
        return y0 + chart.row_h - 6 - (rank[version] / span) * (chart.row_h - 16)

    out = [
        f'<rect x="{chart.left - 4}" y="{y0}" width="{chart.plot_w + 8}" height="{chart.row_h}" '
        f'fill="{"#f6f8fa" if row % 2 == 0 else "#ffffff"}"/>'
        f'<text x="{chart.left - 10}" y="{y0 + chart.row_h / 2 + 4:.1f}" text-anchor="end" '
        f'fill="#1f2328" font-size="12">{esc(name)}</text>'
    ]
    path: list[str] = []
    marks: list[str] = []
    previous = None
    label_end = -1.0  # x where the row's last version label ends: skip overlapping ones
    for i, version in enumerate(versions):
        if not version:
            previous = None
            continue
        x = chart.x(i)
        path.append(
            f"M{x:.1f},{y(version):.1f}" if previous is None else f"H{x:.1f}V{y(version):.1f}"
        )
        if version != previous:
            marks.append(
                f'<circle cx="{x:.1f}" cy="{y(version):.1f}" r="3.5" fill="{color}">'
                f"<title>{esc(name)} {esc(version)} at {esc(labels[i])}</title></circle>"
            )
            text_w = 6.2 * len(version)
            start, anchor = x + 4, "start"
            if start + text_w > chart.width - 4:
                anchor, start = "end", x - 4 - text_w
            if start > label_end + 6:
                tx = x + (4 if anchor == "start" else -4)
                marks.append(
                    f'<text x="{tx:.1f}" y="{y(version) - 6:.1f}" text-anchor="{anchor}" '
                    f'fill="{color}" font-size="11">{esc(version)}</text>'
                )
                label_end = start + text_w
        previous = version
    if path:
        out.append(f'<path d="{"".join(path)}" fill="none" stroke="{color}" stroke-width="2"/>')
    out.extend(marks)
    return out
