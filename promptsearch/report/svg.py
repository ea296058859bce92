"""Small inline SVG charts: no plotting library, no network, text that stays selectable.

Every chart is a string holding one <svg class="chart">. All text goes through `esc`; every mark
carries a <title> so the browser shows its exact value on hover.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

BLUE, ORANGE, GREY, RED, GREEN = "#2f6db5", "#e07b00", "#9aa3ad", "#c0392b", "#2e8b57"
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (f'<svg class="chart" role="img" aria-label="{esc(label)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" {FONT}>'
            + "".join(body) + "</svg>")


def _short(text: str, width: int) -> str:
    one = " ".join(text.split()) or "(empty)"
    return one if len(one) <= width else one[: width - 1] + "…"


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    kind: str  # "complete" or "pruned"
    label: str  # hover text


def trial_chart(points: list[Point], best_line: Sequence[tuple[float, float]], metric: str,
                width: int = 760, height: int = 300) -> str:
    """Score by trial: dots per trial (hollow when pruned) and the best-so-far step line."""
    sx, sy, x1, body = _frame(points, width, height, "trial", metric)
    right = FRAME[1]
    if best_line:
        path = [f"M{sx(best_line[0][0]):.1f},{sy(best_line[0][1]):.1f}"]
        for (_, y_prev), (x, y) in itertools.pairwise(best_line):
            path.append(f"H{sx(x):.1f}V{sy(y):.1f}" if y != y_prev else f"H{sx(x):.1f}")
        path.append(f"H{sx(x1):.1f}")
        body.append(f'<path d="{"".join(path)}" fill="none" stroke="{ORANGE}" stroke-width="2">'
                    f"<title>best so far</title></path>")
    for p in points:
        fill = BLUE if p.kind == "complete" else "white"
        stroke = BLUE if p.kind == "complete" else GREY
        body.append(f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="4" fill="{fill}" stroke="{stroke}" '
                    f'stroke-width="1.5"><title>{esc(p.label)}</title></circle>')
    body += _legend(width - right - 330, height - 12, [("trial", BLUE, "dot"),
                                                      ("pruned (partial score)", GREY, "ring"),
                                                      ("best so far", ORANGE, "line")])
    return _svg(width, height, body, f"{metric} by trial")


FRAME = (48, 16, 16, 40)  # plot margins: left, right, top, bottom


def _frame(points: list[Point], width: int, height: int, xlabel: str, ylabel: str):
    """The scales of a score chart over `points` (x spans their range, y is [0, 1]), its last x,
    and the drawn axes: (sx, sy, x1, body)."""
    left, right, top, bottom = FRAME
    xs = [p.x for p in points] or [0.0]
    x0, x1 = min(xs), max(max(xs), min(xs) + 1)
    sx = lambda x: left + (x - x0) / (x1 - x0) * (width - left - right)  # noqa: E731
    sy = lambda y: top + (1 - y) * (height - top - bottom)  # noqa: E731 - scores are in [0, 1]
    return sx, sy, x1, _axes(width, height, left, right, top, bottom, sx, sy, x0, x1, xlabel, ylabel)


def _axes(width, height, left, right, top, bottom, sx, sy, x0, x1, xlabel, ylabel) -> list[str]:
    out = [f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" '
           f'fill="#fafbfc" stroke="#d0d7de"/>']
    for i in range(6):
        y = i / 5
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#e6e9ed"/>')
        out.append(f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end" fill="#555">{y:.1f}</text>')
    step = max(1, round((x1 - x0) / 10))
    tick = int(x0)
    while tick <= x1:
        out.append(f'<text x="{sx(tick):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                   f'fill="#555">{tick}</text>')
        tick += step
    out.append(f'<text x="{left}" y="{height - 6}" fill="#333">{esc(xlabel)}</text>')
    out.append(f'<text x="12" y="{top + 4}" fill="#333" transform="rotate(-90 12 {top + 4})" '
               f'text-anchor="end">{esc(ylabel)}</text>')
    return out


def _legend(x: float, y: float, items: list[tuple[str, str, str]]) -> list[str]:
    out = []
    for label, color, mark in items:
        if mark == "dot":
            out.append(f'<circle cx="{x + 5}" cy="{y - 4}" r="4" fill="{color}"/>')
        elif mark == "ring":
            out.append(f'<circle cx="{x + 5}" cy="{y - 4}" r="4" fill="white" stroke="{color}" '
                       f'stroke-width="1.5"/>')
        else:
            out.append(f'<line x1="{x}" x2="{x + 14}" y1="{y - 4}" y2="{y - 4}" stroke="{color}" '
                       f'stroke-width="2"/>')
        out.append(f'<text x="{x + 18}" y="{y}" fill="#333">{esc(label)}</text>')
        x += 26 + 7 * len(label)
    return out


@dataclass(frozen=True)
class Bar:
    label: str  # shown, shortened
    full: str  # hover text
    value: float  # bar length, in [0, 1]
    marker: float | None = None  # a tick (e.g. the best score in the group)
    note: str = ""  # text right of the bar


def bar_chart(bars: list[Bar], title: str, width: int = 760, label_width: int = 230,
              value_name: str = "mean", marker_name: str = "best") -> str:
    """Horizontal bars in [0, 1], a label on the left, an optional tick per bar, a note on the right."""
    row, top = 26, 8
    height = top + row * len(bars) + 24
    x0, x1 = label_width + 8, width - 190
    sx = lambda v: x0 + max(0.0, min(1.0, v)) * (x1 - x0)  # noqa: E731
    body = [f'<line x1="{x0}" x2="{x0}" y1="{top}" y2="{height - 20}" stroke="#888"/>']
    for i in range(0, 6):
        v = i / 5
        body.append(f'<line x1="{sx(v):.1f}" x2="{sx(v):.1f}" y1="{top}" y2="{height - 20}" stroke="#eceff2"/>')
        body.append(f'<text x="{sx(v):.1f}" y="{height - 6}" text-anchor="middle" fill="#777">{v:.1f}</text>')
    for i, b in enumerate(bars):
        y = top + i * row
        hover = f"{b.full}: {value_name} {b.value:.4f}"
        if b.marker is not None:
            hover += f", {marker_name} {b.marker:.4f}"
        body.append(f'<text x="{label_width}" y="{y + 16}" text-anchor="end" fill="#222">'
                    f'{esc(_short(b.label, label_width // 7))}<title>{esc(b.full)}</title></text>')
        body.append(f'<rect x="{x0}" y="{y + 4}" width="{sx(b.value) - x0:.1f}" height="16" fill="{BLUE}" '
                    f'opacity="0.85"><title>{esc(hover)}</title></rect>')
        if b.marker is not None:
            body.append(f'<line x1="{sx(b.marker):.1f}" x2="{sx(b.marker):.1f}" y1="{y + 1}" y2="{y + 23}" '
                        f'stroke="{ORANGE}" stroke-width="3"><title>{esc(hover)}</title></line>')
        body.append(f'<text x="{x1 + 10}" y="{y + 16}" fill="#444">{esc(b.note)}</text>')
    return _svg(width, height, body, title)


def interval_chart(rows: list[tuple[str, float, float, float, str]], title: str, width: int = 760,
                   lo: float = -1.0, hi: float = 1.0) -> str:
    """Point estimates with 95% intervals on a shared axis from `lo` to `hi` (a line marks 0)."""
    label_width, row, top = 150, 30, 10
    height = top + row * len(rows) + 26
    x0, x1 = label_width + 10, width - 20
    sx = lambda v: x0 + (max(lo, min(hi, v)) - lo) / (hi - lo) * (x1 - x0)  # noqa: E731
    body = []
    for i in range(11):
        v = lo + (hi - lo) * i / 10
        body.append(f'<line x1="{sx(v):.1f}" x2="{sx(v):.1f}" y1="{top}" y2="{height - 22}" '
                    f'stroke="{"#888" if abs(v) < 1e-9 else "#eceff2"}"/>')
        body.append(f'<text x="{sx(v):.1f}" y="{height - 8}" text-anchor="middle" fill="#777">{v:.1f}</text>')
    for i, (label, est, low, high, color) in enumerate(rows):
        y = top + i * row + 14
        hover = f"{label}: {est:.4f} (95% CI {low:.4f} to {high:.4f})"
        body.append(f'<text x="{label_width}" y="{y + 4}" text-anchor="end" fill="#222">{esc(label)}</text>')
        body.append(f'<line x1="{sx(low):.1f}" x2="{sx(high):.1f}" y1="{y}" y2="{y}" stroke="{color}" '
                    f'stroke-width="3"><title>{esc(hover)}</title></line>')
        body.append(f'<circle cx="{sx(est):.1f}" cy="{y}" r="5" fill="{color}">'
                    f'<title>{esc(hover)}</title></circle>')
    return _svg(width, height, body, title)


def pareto_chart(points: list[Point], front: list[tuple[float, float]], metric: str,
                 width: int = 760, height: int = 300) -> str:
    """Score against prompt tokens: a dot per trial (x = tokens), the Pareto front as an orange
    staircase through its points (shortest first), front points filled orange."""
    sx, sy, _, body = _frame(points, width, height, "prompt tokens", metric)
    right = FRAME[1]
    if front:
        path = [f"M{sx(front[0][0]):.1f},{sy(front[0][1]):.1f}"]
        path += [f"H{sx(x):.1f}V{sy(y):.1f}" for x, y in front[1:]]
        body.append(f'<path d="{"".join(path)}" fill="none" stroke="{ORANGE}" stroke-width="2">'
                    f"<title>Pareto front</title></path>")
    on_front = set(front)
    for p in points:
        color = ORANGE if (p.x, p.y) in on_front else BLUE
        body.append(f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="4" fill="{color}" stroke="{color}" '
                    f'stroke-width="1.5"><title>{esc(p.label)}</title></circle>')
    body += _legend(width - right - 260, height - 12, [("trial", BLUE, "dot"), ("Pareto front", ORANGE, "line")])
    return _svg(width, height, body, f"{metric} against prompt tokens")
