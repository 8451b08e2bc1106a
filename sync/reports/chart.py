"""The progress picture of the action plan, drawn with matplotlib (Agg backend, no display).

Two panels: on the left the completion of each step (a bar per step, done / total written
beside it); on the right the actions over time, the cumulative number planned (by due date)
against the cumulative number done, with today marked. Labels are in the alliance's language.
matplotlib is imported only when a picture is drawn, so other commands start as fast as before.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from playbooks.labels import labels

if TYPE_CHECKING:  # matplotlib is imported late (see the module docstring)
    from matplotlib.axes import Axes

ChartFormat = Literal["png", "svg"]
_DONE_COLOUR = "#2e7d32"
_PLANNED_COLOUR = "#1565c0"
_REST_COLOUR = "#e0e0e0"


@dataclass(frozen=True)
class StepBar:
    """One bar of the left panel: a step's title, done and live totals."""

    title: str
    done: int
    total: int


def cumulative(dates: Sequence[dt.date]) -> tuple[list[dt.date], list[int]]:
    """Step-plot points of a running count: each distinct date and the count up to it."""
    xs: list[dt.date] = []
    ys: list[int] = []
    for count, date in enumerate(sorted(dates), start=1):
        if xs and xs[-1] == date:
            ys[-1] = count
        else:
            xs.append(date)
            ys.append(count)
    return xs, ys


def progress_chart(bars: Sequence[StepBar], planned: Sequence[dt.date],
                   done: Sequence[dt.date], today: dt.date, language: str,
                   fmt: ChartFormat = "png") -> bytes:
    """The picture as PNG or SVG bytes (deterministic metadata: no date, no software tag)."""
    import matplotlib

    matplotlib.use("Agg")  # no display, no GUI toolkit; safe in cron and CI
    from matplotlib import pyplot as plt
    from matplotlib.figure import Figure

    text = labels(language)["report"]
    figure = Figure(figsize=(11, 4.2), dpi=100, layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=(1, 1.25))
    _steps_panel(left, bars, text)
    _time_panel(right, planned, done, today, text)
    buffer = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    figure.savefig(buffer, format=fmt, metadata=metadata)
    plt.close("all")  # Figure() is not tracked by pyplot, but be sure nothing leaks in --watch
    return buffer.getvalue()


def _steps_panel(axes: Axes, bars: Sequence[StepBar], text: dict[str, str]) -> None:
    titles = [_short(bar.title) for bar in bars]
    percents = [100 * bar.done / bar.total if bar.total else 100.0 for bar in bars]
    positions = list(range(len(bars)))[::-1]  # the first step at the top
    axes.barh(positions, [100] * len(bars), color=_REST_COLOUR, height=0.6)
    axes.barh(positions, percents, color=_DONE_COLOUR, height=0.6)
    for position, bar, percent in zip(positions, bars, percents, strict=True):
        axes.text(min(percent, 100) + 2 if percent < 80 else 4, position,
                  f"{bar.done}/{bar.total}", va="center", fontsize=9,
                  color="black" if percent < 80 else "white")
    axes.set_yticks(positions, titles, fontsize=9)
    axes.set_xlim(0, 100)
    axes.set_xlabel(text["chart_percent"])
    axes.set_title(text["chart_steps"])


def _time_panel(axes: Axes, planned: Sequence[dt.date], done: Sequence[dt.date],
                today: dt.date, text: dict[str, str]) -> None:
    px, py = cumulative(planned)
    dx, dy = cumulative(done)
    # Both curves start from zero at the first date, and "done" runs on to today: a single
    # finished action is then a visible step, not a lone point.
    start = min([*px, *dx, today])
    if px:
        axes.step([start, *px], [0, *py], where="post", color=_PLANNED_COLOUR,  # type: ignore[arg-type]  # dates go through matplotlib's unit converters
                  label=text["chart_planned"])
    done_x = [start, *dx] + ([today] if not dx or dx[-1] < today else [])
    done_y = [0, *dy] + ([dy[-1] if dy else 0] if len(done_x) > len(dy) + 1 else [])
    axes.step(done_x, done_y, where="post", color=_DONE_COLOUR, linewidth=2.2,  # type: ignore[arg-type]  # dates go through matplotlib's unit converters
              label=text["chart_done"])
    axes.axvline(today, color="#c62828", linestyle="--", linewidth=1,  # type: ignore[arg-type]  # dates go through matplotlib's unit converters
                 label=text["chart_today"])
    axes.set_ylim(bottom=0)
    axes.set_ylabel(text["chart_count"])
    axes.set_title(text["chart_time"])
    axes.legend(loc="upper left", fontsize=9)
    axes.grid(alpha=0.3)
    for label in axes.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")


def _short(title: str, width: int = 28) -> str:
    """Step titles on one line of the axis: cut at a word with an ellipsis."""
    if len(title) <= width:
        return title
    return title[: width - 1].rsplit(" ", 1)[0] + "…"
