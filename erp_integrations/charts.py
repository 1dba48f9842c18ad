"""The sync history's chart, drawn on the server as SVG: no script, nothing inline to allow.

One small chart per measure (duration, links checked, missing, drift and orphans found),
each on its own scale, over the same runs, oldest on the left: a million links and three
orphans cannot share an axis. Failed runs are marked on every chart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from erp_integrations.models import SyncRun

#: The drawing's size in SVG units (it scales to its box).
WIDTH = 300
HEIGHT = 48
PAD = 4


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    value: float
    failed: bool


@dataclass(frozen=True)
class Series:
    label: str
    unit: str
    points: list[Point]
    maximum: float
    last: float

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def failed_points(self) -> list[Point]:
        return [p for p in self.points if p.failed]

    @property
    def summary(self) -> str:
        """What a screen reader hears in place of the drawing."""
        return (
            f"{self.label} over the last {len(self.points)} runs: latest {_fmt(self.last, self.unit)}, "
            f"highest {_fmt(self.maximum, self.unit)}."
        )


@dataclass(frozen=True)
class SyncChart:
    series: list[Series]
    runs: int
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def baseline(self) -> int:
        return self.height - PAD


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:,.1f} s"
    return f"{int(value):,}"


def _duration(run: SyncRun) -> float:
    return (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0


MEASURES: tuple[tuple[str, str, Callable[[SyncRun], float]], ...] = (
    ("Duration", "s", _duration),
    ("Links checked", "", lambda run: run.links_checked),
    ("Missing found", "", lambda run: run.missing_found),
    ("Drift found", "", lambda run: run.drift_found),
    ("Orphans found", "", lambda run: run.orphans_found),
)


def sync_chart(runs: Sequence[SyncRun]) -> SyncChart | None:
    """The chart of these finished runs (oldest first), or None when there is nothing to draw."""
    if not runs:
        return None
    step = (WIDTH - 2 * PAD) / max(len(runs) - 1, 1)
    series = []
    for label, unit, measure in MEASURES:
        values = [float(measure(run)) for run in runs]
        top = max(values) or 1.0
        points = [
            Point(
                x=PAD + i * step if len(runs) > 1 else WIDTH / 2,
                y=HEIGHT - PAD - (value / top) * (HEIGHT - 2 * PAD),
                value=value,
                failed=run.status == SyncRun.Status.FAILED,
            )
            for i, (run, value) in enumerate(zip(runs, values, strict=True))
        ]
        series.append(Series(label=label, unit=unit, points=points, maximum=max(values), last=values[-1]))
    return SyncChart(series=series, runs=len(runs))
