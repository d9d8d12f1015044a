"""Geometry of the dashboard's server-side SVG charts: step charts over time.

Pure functions: they return numbers and plain labels; the templates turn them into inline SVG with
Jinja2's autoescaping, so that no text from a scraped page is ever written into markup here. Path
data (``path``) holds only numbers and SVG path letters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from watcher.describe import STRENGTH_WORDS

MARGIN_TOP, MARGIN_BOTTOM = 14, 34


@dataclass(frozen=True)
class Layout:
    """Horizontal geometry of a chart. SVG scales to its box, so a chart drawn 960 units wide on a
    390 px phone would shrink its 14-unit labels to 5 px: phones get a chart drawn for their width."""

    width: int
    margin_left: int
    margin_right: int
    max_x_ticks: int


WIDE = Layout(960, 118, 24, 7)
NARROW = Layout(360, 96, 14, 3)


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    value: int
    at: datetime
    title: str  # plain text: escaped by the template
    href: str | None = None


@dataclass(frozen=True)
class Series:
    name: str
    css_class: str
    path: str
    points: list[Point]


@dataclass(frozen=True)
class StepChart:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    series: list[Series] = field(default_factory=list)
    title: str = ""
    narrow: StepChart | None = None  # the same chart drawn for a phone's width

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"


@dataclass(frozen=True)
class Step:
    """The value from ``at`` on (until the next step)."""

    at: datetime
    value: int
    title: str
    href: str | None = None


class TimeScale:
    def __init__(self, start: datetime, end: datetime, left: float, right: float, *, max_ticks: int = 7) -> None:
        if end <= start:
            end = start + timedelta(days=1)
        self.start, self.end, self.left, self.right = start, end, left, right
        self.max_ticks = max_ticks

    def __call__(self, moment: datetime) -> float:
        span = (self.end - self.start).total_seconds()
        fraction = (moment - self.start).total_seconds() / span
        return round(self.left + max(0.0, min(1.0, fraction)) * (self.right - self.left), 1)

    def ticks(self) -> list[Tick]:
        span = self.end - self.start
        if span <= timedelta(days=2):
            step = timedelta(hours=max(1, math.ceil(span.total_seconds() / 3600 / (self.max_ticks - 1))))
            first = self.start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            fmt = "%m-%d %H:%M"
        else:
            days = max(1, math.ceil(span.days / (self.max_ticks - 1)))
            step = timedelta(days=days)
            first = self.start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
            fmt = "%Y-%m-%d" if span <= timedelta(days=1000) else "%Y-%m"
        ticks: list[Tick] = []
        moment = first
        while moment <= self.end and len(ticks) < 2 * self.max_ticks:
            ticks.append(Tick(self(moment), moment.astimezone(UTC).strftime(fmt)))
            moment += step
        return ticks


def _frame(height: int, layout: Layout) -> tuple[float, float, float, float]:
    return layout.margin_left, layout.width - layout.margin_right, MARGIN_TOP, height - MARGIN_BOTTOM


def _step_path(steps: list[Step], x: TimeScale, y_of: Callable[[int], float], end: datetime) -> tuple[str, list[Point]]:
    parts: list[str] = []
    points: list[Point] = []
    for index, step in enumerate(steps):
        px, py = x(step.at), y_of(step.value)
        if index == 0:
            parts.append(f"M{px} {py}")
        else:
            parts.append(f"H{px} V{py}")
        points.append(Point(px, py, step.value, step.at, step.title, step.href))
    if steps:
        parts.append(f"H{x(max(end, steps[-1].at))}")
    return " ".join(parts), points


def strength_chart(
    steps: list[Step], *, start: datetime, end: datetime, title: str, height: int = 190, layout: Layout = WIDE
) -> StepChart:
    """Strength 0–4 over time, one step per change; the last value holds until ``end``. The wide
    chart carries its phone-sized twin in ``narrow``."""
    left, right, top, bottom = _frame(height, layout)
    x = TimeScale(start, end, left, right, max_ticks=layout.max_x_ticks)

    def y_of(value: int) -> float:
        return round(bottom - (bottom - top) * value / 4, 1)

    y_ticks = [Tick(y_of(level), f"{level} {STRENGTH_WORDS[level]}") for level in range(5)]
    path, points = _step_path(steps, x, y_of, end)
    narrow = (
        strength_chart(steps, start=start, end=end, title=title, height=height, layout=NARROW)
        if layout == WIDE
        else None
    )
    return StepChart(
        layout.width,
        height,
        left,
        right,
        top,
        bottom,
        x.ticks(),
        y_ticks,
        [Series(title, "strength", path, points)],
        title,
        narrow,
    )


def counts_chart(
    series: dict[str, list[Step]],
    *,
    start: datetime,
    end: datetime,
    title: str,
    height: int = 220,
    layout: Layout = WIDE,
) -> StepChart:
    """Several counts over time on one scale (e.g. indications claimed and references cited)."""
    left, right, top, bottom = _frame(height, layout)
    x = TimeScale(start, end, left, right, max_ticks=layout.max_x_ticks)
    top_value = max([step.value for steps in series.values() for step in steps] + [1])
    nice = _nice_ceiling(top_value)

    def y_of(value: int) -> float:
        return round(bottom - (bottom - top) * value / nice, 1)

    every = max(1, math.ceil(nice / 5))
    y_ticks = [Tick(y_of(v), str(v)) for v in range(0, nice + 1, every)]
    out = []
    for index, (name, steps) in enumerate(series.items()):
        path, points = _step_path(steps, x, y_of, end)
        out.append(Series(name, f"series-{index}", path, points))
    narrow = (
        counts_chart(series, start=start, end=end, title=title, height=height, layout=NARROW)
        if layout == WIDE
        else None
    )
    return StepChart(layout.width, height, left, right, top, bottom, x.ticks(), y_ticks, out, title, narrow)


def _nice_ceiling(value: int) -> int:
    if value <= 5:
        return max(value, 1)
    magnitude = int(10 ** int(math.log10(value)))
    for factor in (1, 2, 5, 10):
        if value <= factor * magnitude:
            return factor * magnitude
    return value
