"""Small SVG building blocks for the report's charts: scales, ticks, escaped elements.

Charts are inline SVG written as text (no chart library, no script), so a report opens
anywhere, offline, and its DOM can be checked by tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


@dataclass(frozen=True)
class Scale:
    """A linear map from a data domain ``[lo, hi]`` to pixels ``[a, b]`` (clamped)."""

    lo: float
    hi: float
    a: float
    b: float

    def __call__(self, v: float) -> float:
        span = self.hi - self.lo
        f = (v - self.lo) / span if span > 0 else 0.0
        return round(self.a + min(1.0, max(0.0, f)) * (self.b - self.a), 1)


def nice_ticks(hi: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``hi`` (1, 2, 2.5 or 5 times a power of ten)."""
    if hi <= 0:
        return [0.0, 1.0]
    raw = hi / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [round(i * step, 10) for i in range(math.ceil(hi / step - 1e-9) + 1)]


def fmt(v: float) -> str:
    """A tick label: no trailing zeros, thousands grouped."""
    return f"{v:,.0f}" if abs(v) >= 100 or v == int(v) else f"{v:g}"


def attrs(**kw: object) -> str:
    """Element attributes; ``class_`` becomes ``class``, ``stroke_width`` ``stroke-width``."""
    parts = []
    for k, v in kw.items():
        if v is None:
            continue
        name = k.rstrip("_").replace("_", "-")
        parts.append(f'{name}="{escape(str(v), quote=True)}"')
    return " ".join(parts)


def rect(x: float, y: float, w: float, h: float, title: str | None = None, **kw: object) -> str:
    """A rectangle (zero width is drawn 1 px wide, so short events stay visible)."""
    body = f"<title>{escape(title)}</title>" if title else ""
    a = attrs(x=round(x, 1), y=round(y, 1), width=round(max(w, 1.0), 1), height=round(h, 1), **kw)
    return f"<rect {a}>{body}</rect>" if body else f"<rect {a}/>"


def line(x1: float, y1: float, x2: float, y2: float, **kw: object) -> str:
    return f"<line {attrs(x1=x1, y1=y1, x2=x2, y2=y2, **kw)}/>"


def text(x: float, y: float, content: str, **kw: object) -> str:
    return f"<text {attrs(x=round(x, 1), y=round(y, 1), **kw)}>{escape(content)}</text>"


def polyline(points: Sequence[tuple[float, float]], **kw: object) -> str:
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f"<polyline {attrs(points=pts, fill='none', **kw)}/>"


def svg(width: float, height: float, body: Iterable[str], label: str, class_: str) -> str:
    """A responsive SVG root (scales to its container's width) with an accessible label."""
    head = attrs(
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {width:.0f} {height:.0f}",
        class_=f"chart {class_}",
        role="img",
        aria_label=label,
        font_family=FONT,
        font_size=12,
    )
    return f"<svg {head}><title>{escape(label)}</title>{''.join(body)}</svg>"


def y_axis(scale: Scale, ticks: Sequence[float], x0: float, x1: float, unit: str) -> list[str]:
    """Horizontal grid lines with labels left of ``x0``."""
    out = []
    for v in ticks:
        y = scale(v)
        out.append(line(x0, y, x1, y, stroke="#e5e7eb", stroke_width=1))
        out.append(text(x0 - 6, y + 4, f"{fmt(v)}{unit}", text_anchor="end", fill="#6b7280"))
    return out


def truncate(s: str, n: int) -> str:
    """``s`` cut to ``n`` characters with an ellipsis."""
    return s if len(s) <= n else s[: n - 1] + "\u2026"
