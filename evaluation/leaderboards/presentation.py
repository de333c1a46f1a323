"""What a leaderboard page draws, from a snapshot's stored data: the table's rows, the interval
plot's geometry (an inline SVG) and the heat maps' cells with their colour classes. Pure: no
Django, so it can be tested on hand-written data.

Colours are classes from a fixed scale (static/css/site.css, `.heat-*`), so each cell's colour
is one of a few legend entries and no inline style is needed.
"""

import math
from dataclasses import dataclass, field
from typing import Any

DIVERGING_STEPS = 10  # win rates: 0-10 %, ..., 90-100 %; blue above one half, red below
SEQUENTIAL_STEPS = 6  # battle counts: from none to the most battles any pair had


@dataclass
class Row:
    position: int  # 1-based place in the table (best rating first)
    model: str
    rating: float
    lower: float
    upper: float
    rank: int | None
    battles: int
    provisional: bool

    @property
    def minus(self) -> float:
        return round(self.rating - self.lower, 1)

    @property
    def plus(self) -> float:
        return round(self.upper - self.rating, 1)


def table_rows(data: dict[str, Any]) -> list[Row]:
    return [
        Row(
            position=index,
            model=entry["model"],
            rating=entry["rating"],
            lower=entry["lower"],
            upper=entry["upper"],
            rank=entry["rank"],
            battles=entry["battles"],
            provisional=entry["provisional"],
        )
        for index, entry in enumerate(data.get("ratings", []), start=1)
    ]


@dataclass
class PlotRow:
    model: str
    label: str
    y: float
    x_lower: float
    x_rating: float
    x_upper: float
    rating: float
    lower: float
    upper: float
    provisional: bool


@dataclass
class Tick:
    x: float
    label: str


@dataclass
class IntervalPlot:
    width: int
    height: int
    left: int  # where the axis starts (model names to its left)
    right: int
    top: int
    bottom: int  # y of the axis line
    rows: list[PlotRow] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)


def _nice_step(span: float, target_ticks: int = 6) -> float:
    raw = span / max(target_ticks, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude


def interval_plot(rows: list[Row], *, width: int = 760, row_height: int = 24, label_width: int = 210) -> IntervalPlot:
    """Each model's rating as a dot and its 95 % interval as a line, on one shared axis."""
    top, axis_gap = 10, 8
    height = top + row_height * len(rows) + axis_gap + 28
    plot = IntervalPlot(width=width, height=height, left=label_width, right=width - 16, top=top, bottom=height - 28)
    if not rows:
        return plot
    low = min(row.lower for row in rows)
    high = max(row.upper for row in rows)
    if high - low < 1:
        low, high = low - 5, high + 5
    step = _nice_step(high - low)
    low = math.floor(low / step) * step
    high = math.ceil(high / step) * step

    def x(value: float) -> float:
        return round(plot.left + (value - low) / (high - low) * (plot.right - plot.left), 1)

    for index, row in enumerate(rows):
        label = row.model if len(row.model) <= 28 else row.model[:27] + "…"
        plot.rows.append(
            PlotRow(
                model=row.model,
                label=label,
                y=top + row_height * index + row_height / 2,
                x_lower=x(row.lower),
                x_rating=x(row.rating),
                x_upper=x(row.upper),
                rating=row.rating,
                lower=row.lower,
                upper=row.upper,
                provisional=row.provisional,
            )
        )
    value = low
    while value <= high + step / 1000:
        plot.ticks.append(Tick(x=x(value), label=f"{value:g}"))
        value += step
    return plot


@dataclass
class Cell:
    text: str
    css: str
    title: str


@dataclass
class HeatRow:
    model: str
    position: int
    cells: list[Cell]


@dataclass
class LegendEntry:
    css: str
    label: str


@dataclass
class HeatMap:
    key: str
    title: str
    explanation: str
    models: list[str]
    rows: list[HeatRow]
    legend: list[LegendEntry]


def _diverging_class(value: float) -> str:
    return f"heat-d{min(int(value * DIVERGING_STEPS), DIVERGING_STEPS - 1)}"


def _diverging_legend() -> list[LegendEntry]:
    width = 100 // DIVERGING_STEPS
    return [LegendEntry(f"heat-d{step}", f"{step * width}–{(step + 1) * width} %") for step in range(DIVERGING_STEPS)]


def _sequential_bounds(top: int) -> list[int]:
    """Upper bounds of each colour step for counts 1..top (step 0 is reserved for no battles)."""
    steps = SEQUENTIAL_STEPS - 1
    return [max(1, math.ceil(top * (step + 1) / steps)) for step in range(steps)]


def _sequential_class(count: int, bounds: list[int]) -> str:
    if count <= 0:
        return "heat-s0"
    for step, bound in enumerate(bounds, start=1):
        if count <= bound:
            return f"heat-s{step}"
    return f"heat-s{len(bounds)}"


def _sequential_legend(bounds: list[int]) -> list[LegendEntry]:
    entries = [LegendEntry("heat-s0", "0")]
    previous = 0
    for step, bound in enumerate(bounds, start=1):
        if bound <= previous:
            continue
        label = f"{previous + 1}" if bound == previous + 1 else f"{previous + 1}–{bound}"
        entries.append(LegendEntry(f"heat-s{step}", label))
        previous = bound
    return entries


def heat_maps(data: dict[str, Any]) -> list[HeatMap]:
    """The win-rate, predicted win-rate and battle-count matrices (rows and columns best first)."""
    models: list[str] = data.get("models", [])
    maps = []
    for key, title, explanation in (
        (
            "win_rate",
            "Observed win rate",
            "Share of the row model's battles against the column model that it won (a tie counts half).",
        ),
        (
            "predicted",
            "Predicted win rate",
            "The chance the row model beats the column model according to the fitted ratings.",
        ),
    ):
        matrix = data.get(key) or []
        rows = []
        for i, model in enumerate(models):
            cells = []
            for j, opponent in enumerate(models):
                value = matrix[i][j] if i < len(matrix) and j < len(matrix[i]) else None
                if i == j or value is None:
                    cells.append(Cell("–", "heat-none", f"{model} against {opponent}: no battles"))
                else:
                    percent = f"{100 * value:.0f}"
                    cells.append(Cell(percent, _diverging_class(value), f"{model} against {opponent}: {percent} %"))
            rows.append(HeatRow(model, i + 1, cells))
        maps.append(HeatMap(key, title, explanation, models, rows, _diverging_legend()))

    counts = data.get("battles") or []
    top = max((value or 0 for row in counts for value in row), default=0)
    bounds = _sequential_bounds(top) if top else []
    rows = []
    for i, model in enumerate(models):
        cells = []
        for j, opponent in enumerate(models):
            count = counts[i][j] if i < len(counts) and j < len(counts[i]) else 0
            count = count or 0
            css = _sequential_class(count, bounds) if bounds else "heat-s0"
            title = f"{model} and {opponent}: {count} battles"
            cells.append(Cell("–", "heat-none", title) if i == j else Cell(str(count), css, title))
        rows.append(HeatRow(model, i + 1, cells))
    maps.append(
        HeatMap(
            "battles",
            "Battles",
            "How many counted battles the row model and the column model fought against each other.",
            models,
            rows,
            _sequential_legend(bounds) if bounds else [LegendEntry("heat-s0", "0")],
        )
    )
    return maps
