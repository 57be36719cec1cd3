"""Small SVG charts written as text: line curves, and points on a plane over a probability field.

No plotting library: they show the same in a local Jupyter and in the course's browser site
(Pyodide, where matplotlib is not available offline), and cost a few milliseconds each.
A :class:`Chart` shows itself in a notebook and saves as .svg.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

from scalargrad.files import require_folder, write_atomically

#: Colours of the classes (blue, red) and of a probability field from 0 (blue) over ½ (white) to 1 (red).
CLASS_COLOURS = ("#2166ac", "#b2182b")
FIELD_STOPS = ((0.0, (33, 102, 172)), (0.5, (247, 247, 247)), (1.0, (178, 24, 43)))
CURVE_COLOURS = ("#b2182b", "#2166ac", "#1b7837", "#762a83", "#e08214", "#000000")  # six apart before one repeats
MARGIN = {"left": 52, "right": 12, "top": 26, "bottom": 36}
FONT = 'font-family="Helvetica,Arial,sans-serif"'


class Chart:
    """An SVG chart: ``.svg`` is its text; Jupyter shows it; ``save("x.svg")`` writes it."""

    def __init__(self, svg: str):
        self.svg = svg

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        # No memory address: a notebook's saved text output stays the same from run to run.
        width, height = _size(self.svg)
        return f"<Chart {width:g}×{height:g} SVG; .save('chart.svg')>"

    def save(self, path) -> Path:
        """Write the chart to ``path`` (an .svg file), whole or not at all."""
        path = Path(path)
        if path.suffix.lower() != ".svg":
            raise ValueError(f"a chart is saved as .svg, got {str(path)!r}")
        require_folder(path)
        write_atomically(path, self.svg.encode("utf-8"))
        return path


def side_by_side(*charts: Chart) -> Chart:
    """One chart holding ``charts`` next to each other, tops aligned."""
    sizes = [_size(c.svg) for c in charts]
    width, height = sum(w for w, _ in sizes), max(h for _, h in sizes)
    parts, x = [], 0.0
    for chart, (w, _) in zip(charts, sizes):
        parts.append(chart.svg.replace("<svg ", f'<svg x="{x:g}" y="0" ', 1))
        x += w
    return Chart(_svg(width, height, "".join(parts)))


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round numbers (steps of 1, 2 or 5 × 10ⁿ) from ``low`` to ``high``."""
    if not high > low:
        return [low]
    raw = (high - low) / max(1, count - 1)
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    first = math.ceil(low / step - 1e-9)
    return [round(k * step, 12) for k in range(first, math.floor(high / step + 1e-9) + 1)]


def line_chart(curves: dict[str, list[float]], *, title: str = "", xlabel: str = "", ylabel: str = "",
               reference: tuple[float, str] | None = None, xmax: float | None = None, ymax: float | None = None,
               width: float = 450, height: float = 290) -> Chart:
    """Each curve ``name -> [y₁, y₂, …]`` drawn over x = 1, 2, …, with an optional dotted horizontal
    ``reference = (y, label)``; y runs from 0 (or the lowest value, if below 0) to ``ymax`` (default: the highest)."""
    values = [v for ys in curves.values() for v in ys if math.isfinite(v)]
    x1 = max([xmax or 0, *(len(ys) for ys in curves.values()), 2])
    y0 = min([0.0, *values])
    y1 = ymax if ymax is not None else max([*values, reference[0] if reference else 0.0, y0 + 1e-9])
    frame = _Frame(width, height, (1, x1), (y0, y1))
    body = [frame.axes(title, xlabel, ylabel)]
    if reference is not None:
        y = frame.y(reference[0])
        body.append(f'<line x1="{frame.left:.1f}" y1="{y:.1f}" x2="{frame.right:.1f}" y2="{y:.1f}" '
                    'stroke="grey" stroke-dasharray="2,3"/>')
    legend = []
    for (name, ys), colour in zip(curves.items(), CURVE_COLOURS * len(curves)):
        points = " ".join(f"{frame.x(i + 1):.1f},{frame.y(min(max(v, y0), y1)):.1f}"
                          for i, v in enumerate(ys) if math.isfinite(v))
        body.append(f'<polyline class="curve" fill="none" stroke="{colour}" stroke-width="1.6" points="{points}"/>')
        legend.append((name, colour, ""))
    body.append(frame.legend(legend + ([(reference[1], "grey", "2,3")] if reference else [])))
    return Chart(_svg(width, height, "".join(body)))


def plane_chart(points: list[list[float]], labels: list, *, field: tuple | None = None, title: str = "",
                bounds: tuple[float, float, float, float] | None = None,
                width: float = 450, height: float = 380) -> Chart:
    """``points`` (x₁, x₂) coloured by their label (the smaller label blue, the other red) over an optional
    ``field = (xs, ys, p)`` of probabilities ``p[j][i]`` at (xs[i], ys[j]) shaded blue→white→red, with its
    ½ contour as a black line. ``bounds = (x0, x1, y0, y1)`` defaults to the field's extent or the points'."""
    if bounds is None:
        if field is not None:
            xs, ys = field[0], field[1]
            bounds = (xs[0], xs[-1], ys[0], ys[-1])
        else:
            bounds = (min(p[0] for p in points), max(p[0] for p in points),
                      min(p[1] for p in points), max(p[1] for p in points))
    frame = _Frame(width, height, bounds[:2], bounds[2:])
    body = []
    if field is not None:
        body.append(_field(frame, *field))
    body.append(frame.axes(title, "", ""))
    classes = sorted(set(labels))
    radius = 5 if len(points) <= 10 else 3
    for point, label in zip(points, labels):
        colour = CLASS_COLOURS[min(classes.index(label), 1)]
        body.append(f'<circle class="point" cx="{frame.x(point[0]):.1f}" cy="{frame.y(point[1]):.1f}" r="{radius}" '
                    f'fill="{colour}" stroke="black" stroke-width="0.6"/>')
    return Chart(_svg(width, height, "".join(body)))


def field_colour(p: float) -> str:
    """The colour of probability ``p`` (clamped to [0, 1]): blue at 0, white at ½, red at 1."""
    p = min(1.0, max(0.0, p)) if math.isfinite(p) else 0.5
    for (p0, c0), (p1, c1) in zip(FIELD_STOPS, FIELD_STOPS[1:]):
        if p <= p1:
            t = (p - p0) / (p1 - p0)
            return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(c0, c1))
    return "#%02x%02x%02x" % FIELD_STOPS[-1][1]


def _field(frame: "_Frame", xs, ys, grid) -> str:
    """Cells shaded by probability, and the ½ contour by marching squares (linear along each cell edge)."""
    cells = []
    for j, y in enumerate(ys):
        for i, x in enumerate(xs):
            xa, xb = frame.x((x + xs[max(i - 1, 0)]) / 2), frame.x((x + xs[min(i + 1, len(xs) - 1)]) / 2)
            ya, yb = frame.y((y + ys[min(j + 1, len(ys) - 1)]) / 2), frame.y((y + ys[max(j - 1, 0)]) / 2)
            cells.append(f'<rect x="{xa:.1f}" y="{ya:.1f}" width="{xb - xa + 0.5:.1f}" height="{yb - ya + 0.5:.1f}" '
                         f'fill="{field_colour(grid[j][i])}"/>')
    segments = []
    for j in range(len(ys) - 1):
        for i in range(len(xs) - 1):
            corners = [(xs[i], ys[j], grid[j][i]), (xs[i + 1], ys[j], grid[j][i + 1]),
                       (xs[i + 1], ys[j + 1], grid[j + 1][i + 1]), (xs[i], ys[j + 1], grid[j + 1][i])]
            crossings = []
            for (xa, ya, pa), (xb, yb, pb) in zip(corners, corners[1:] + corners[:1]):
                if (pa < 0.5) != (pb < 0.5):
                    t = (0.5 - pa) / (pb - pa)
                    crossings.append((frame.x(xa + (xb - xa) * t), frame.y(ya + (yb - ya) * t)))
            for (xa, ya), (xb, yb) in zip(crossings[::2], crossings[1::2]):
                segments.append(f"M{xa:.1f},{ya:.1f}L{xb:.1f},{yb:.1f}")
    contour = f'<path class="contour" d="{"".join(segments)}" stroke="black" stroke-width="1.2" fill="none"/>'
    return f'<g class="field" opacity="0.6">{"".join(cells)}</g>' + (contour if segments else "")


class _Frame:
    """Data coordinates to SVG pixels inside the margins."""

    def __init__(self, width, height, xrange, yrange):
        self.width, self.height = width, height
        self.left, self.right = MARGIN["left"], width - MARGIN["right"]
        self.top, self.bottom = MARGIN["top"], height - MARGIN["bottom"]
        (self.x0, self.x1), (self.y0, self.y1) = xrange, yrange
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1

    def x(self, value: float) -> float:
        return self.left + (value - self.x0) / (self.x1 - self.x0) * (self.right - self.left)

    def y(self, value: float) -> float:
        return self.bottom - (value - self.y0) / (self.y1 - self.y0) * (self.bottom - self.top)

    def axes(self, title: str, xlabel: str, ylabel: str) -> str:
        parts = [f'<rect x="{self.left}" y="{self.top}" width="{self.right - self.left}" height="{self.bottom - self.top}" '
                 'fill="none" stroke="#444"/>']
        for tick in nice_ticks(self.x0, self.x1):
            x = self.x(tick)
            parts.append(f'<line x1="{x:.1f}" y1="{self.bottom}" x2="{x:.1f}" y2="{self.bottom + 4}" stroke="#444"/>'
                         f'<text x="{x:.1f}" y="{self.bottom + 15}" text-anchor="middle" font-size="10" {FONT}>{tick:g}</text>')
        for tick in nice_ticks(self.y0, self.y1):
            y = self.y(tick)
            parts.append(f'<line x1="{self.left - 4}" y1="{y:.1f}" x2="{self.left}" y2="{y:.1f}" stroke="#444"/>'
                         f'<text x="{self.left - 6}" y="{y + 3:.1f}" text-anchor="end" font-size="10" {FONT}>{tick:g}</text>')
        if title:
            parts.append(f'<text class="title" x="{(self.left + self.right) / 2:.1f}" y="{self.top - 9}" '
                         f'text-anchor="middle" font-size="12" {FONT}>{escape(title)}</text>')
        if xlabel:
            parts.append(f'<text x="{(self.left + self.right) / 2:.1f}" y="{self.height - 6}" text-anchor="middle" '
                         f'font-size="11" {FONT}>{escape(xlabel)}</text>')
        if ylabel:
            middle = (self.top + self.bottom) / 2
            parts.append(f'<text x="13" y="{middle:.1f}" text-anchor="middle" font-size="11" {FONT} '
                         f'transform="rotate(-90 13 {middle:.1f})">{escape(ylabel)}</text>')
        return "".join(parts)

    def legend(self, entries: list[tuple[str, str, str]]) -> str:
        parts = []
        # the top right corner, as wide as the longest name (about 5.6 px per letter at 10 px Helvetica)
        x = self.right - 8 - 26 - 5.6 * max((len(name) for name, _, _ in entries), default=0)
        for k, (name, colour, dash) in enumerate(entries):
            y = self.top + 12 + 14 * k
            style = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(f'<line x1="{x:.1f}" y1="{y - 3}" x2="{x + 20:.1f}" y2="{y - 3}" stroke="{colour}" stroke-width="1.6"{style}/>'
                         f'<text x="{x + 26:.1f}" y="{y}" font-size="10" {FONT}>{escape(name)}</text>')
        return "".join(parts)


def _svg(width: float, height: float, body: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" '
            f'viewBox="0 0 {width:g} {height:g}"><rect width="100%" height="100%" fill="white"/>{body}</svg>')


def _size(svg: str) -> tuple[float, float]:
    head = svg[: svg.index(">")]
    return float(head.split('width="')[1].split('"')[0]), float(head.split('height="')[1].split('"')[0])
