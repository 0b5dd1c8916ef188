"""Geometry of the dashboard's server-side SVG charts: no JavaScript, no inline styles (the CSP allows
neither); the templates draw the shapes and format the numbers in the user's language, and the
colours are CSS classes of static/css/dashboard.css."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

WIDTH = 560
LABEL_WIDTH = 170  # the labels left of horizontal bars
VALUE_WIDTH = 70  # the value right of a bar
ROW = 26
BAR = 18
PLOT_HEIGHT = 180
AXIS_LEFT = 60
AXIS_BOTTOM = 26
SERIES = 6  # colour classes dash-series-0 … dash-series-5


def _scale(value, top, length: float) -> float:
    return float(value) / float(top) * length if top else 0.0


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | Decimal
    y: float
    width: float
    css: str

    @property
    def text_y(self) -> float:
        return self.y + BAR - 5

    @property
    def value_x(self) -> float:
        return LABEL_WIDTH + 6 + self.width + 6


@dataclass(frozen=True)
class HBars:
    bars: list[Bar]
    width: int = WIDTH
    label_width: int = LABEL_WIDTH

    @property
    def height(self) -> int:
        return max(len(self.bars), 1) * ROW + 4

    @property
    def bar_x(self) -> int:
        return self.label_width + 6

    @property
    def bar_height(self) -> int:
        return BAR


def hbars(rows: list[tuple[str, int | Decimal]], *, css: list[str] | None = None) -> HBars:
    """Horizontal bars, one per (label, value), the longest bar the largest value."""
    top = max((value for _label, value in rows), default=0)
    length = WIDTH - LABEL_WIDTH - 6 - VALUE_WIDTH
    return HBars(
        [
            Bar(label, value, 4 + i * ROW, _scale(value, top, length), (css or [])[i] if css else "dash-bar")
            for i, (label, value) in enumerate(rows)
        ]
    )


@dataclass(frozen=True)
class Segment:
    y: float
    height: float
    css: str


@dataclass(frozen=True)
class Column:
    day: date
    x: float
    segments: list[Segment]
    label: bool  # the day is written under the axis


@dataclass(frozen=True)
class Columns:
    columns: list[Column]
    top: Decimal
    column_width: float
    width: int = WIDTH
    height: int = PLOT_HEIGHT + AXIS_BOTTOM + 8
    plot_top: int = 8
    plot_bottom: int = PLOT_HEIGHT + 8
    axis_left: int = AXIS_LEFT


def stacked_columns(rows: list[tuple[date, list[Decimal], Decimal]]) -> Columns:
    """One column per day, its values stacked bottom-up (series i has the class dash-series-i)."""
    top = max((total for _day, _values, total in rows), default=Decimal(0))
    step = (WIDTH - AXIS_LEFT - 4) / max(len(rows), 1)
    columns = []
    for i, (day, values, _total) in enumerate(rows):
        base = PLOT_HEIGHT + 8
        segments = []
        for s, value in enumerate(values):
            height = _scale(value, top, PLOT_HEIGHT)
            base -= height
            segments.append(Segment(base, height, f"dash-series-{s % SERIES}"))
        columns.append(
            Column(day, AXIS_LEFT + i * step + 1, segments, label=i % 7 == 0 or i == len(rows) - 1)
        )
    return Columns(columns, top, max(step - 2, 1))


@dataclass(frozen=True)
class Line:
    points: str  # the polyline's "x,y x,y …"
    last: tuple[float, float] | None
    top: int
    since: datetime
    until: datetime
    width: int = WIDTH
    height: int = PLOT_HEIGHT + AXIS_BOTTOM + 8
    plot_top: int = 8
    plot_bottom: int = PLOT_HEIGHT + 8
    axis_left: int = AXIS_LEFT


def line(points: list[tuple[datetime, int]], *, since: datetime, until: datetime) -> Line:
    """A line over time from `since` to `until`; y from 0 to the largest value."""
    top = max((value for _at, value in points), default=0)
    span = (until - since).total_seconds() or 1
    length = WIDTH - AXIS_LEFT - 8
    xy = [
        (
            round(AXIS_LEFT + (at - since).total_seconds() / span * length, 1),
            round(PLOT_HEIGHT + 8 - _scale(value, top, PLOT_HEIGHT), 1),
        )
        for at, value in points
    ]
    return Line(" ".join(f"{x},{y}" for x, y in xy), xy[-1] if xy else None, top, since, until)
