"""A small plot of each version's metrics along the current lineage, so a class can
watch the flywheel harden the model: flaws fall to zero, the basin stays put,
agreement with the true reward rises.

One band per metric in one pyqtgraph plot (``plots.PlotPanel``), each scaled to its
own range (the metrics have nothing in common but the versions): the metric's name
is the band's label on the left, its latest value the label on the right, the
versions run along the bottom.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QSize
from PyQt6.QtWidgets import QSizePolicy, QWidget

from .plots import PlotPanel

# (metrics key, name, format, colour, good direction: -1 lower is better, +1 higher, 0 must hold)
SERIES = (
    ("flaws", "flaws remaining", "{:.0f}", "#d7191c", -1),
    ("findings", "findings", "{:.0f}", "#fdae61", -1),
    ("basin_cells", "basin cells", "{:.0f}", "#1a9850", 0),
    ("true_correlation", "r vs true reward", "{:.2f}", "#2c7bb6", +1),
    ("spurious_max_reward", "max reward, spurious", "{:.3f}", "#7b3294", -1),
    ("policy_true_return", "policy true return", "{:.2f}", "#404040", +1),
)
# Where a metric's curve sits in its row (row height 1): names on the left (normal), or
# names written inside the row above the curve (presenter: an 18 pt name column would
# leave a side panel no room for the curves).
BANDS = {False: (0.15, 0.85), True: (0.08, 0.50)}


def _value(m: dict, key: str) -> float | None:
    v = m.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        return None
    return float(v)


def band_values(vals: list[float | None], row: int, band: tuple[float, float] = BANDS[False]) -> np.ndarray:
    """A metric scaled into its row's band (row 0 on top); NaN where a version lacks it."""
    lo_f, hi_f = band
    base = len(SERIES) - 1 - row
    known = [v for v in vals if v is not None]
    if not known:
        return np.full(len(vals), np.nan)
    lo, hi = min(known), max(known)
    span = hi - lo
    frac = [None if v is None else (0.5 if span <= 1e-12 else (v - lo) / span) for v in vals]
    return np.array([np.nan if f is None else base + lo_f + (hi_f - lo_f) * f for f in frac])


class FlywheelPlot(PlotPanel):
    """``set_series([(version, metrics), ...])``; ``points`` is how many versions are plotted."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.series: list[tuple[int, dict]] = []
        self.item = self.add_plot(0)
        self.item.showAxis("right")
        self.item.showGrid(x=False, y=False)
        self.item.setYRange(0, len(SERIES), padding=0)
        self.item.getViewBox().sigResized.connect(self._version_ticks)     # as many versions as fit
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Metrics of each version along the current lineage (one cycle per step). "
                        "Each line is scaled to its own range; the number on the right is the latest value.")
        self.redraw()

    @property
    def points(self) -> int:
        """How many versions are plotted."""
        return len(self.series)

    def set_series(self, series: list[tuple[int, dict]]) -> None:
        self.series = list(series)
        self.redraw()

    def row_height(self) -> int:
        return int(self.sizes.font_pt * (4.0 if self.presenter else 2.2))

    def sizeHint(self) -> QSize:
        return QSize(360, self.minimumHeight())

    def latest(self) -> dict[str, str]:
        """Each metric's latest known value as the plot writes it ('' if none)."""
        out = {}
        for key, _name, fmt, _c, _g in SERIES:
            vals = [_value(m, key) for _, m in self.series]
            known = [v for v in vals if v is not None]
            out[key] = fmt.format(known[-1]) if known else ""
        return out

    def redraw(self) -> None:
        self.setMinimumHeight(self.row_height() * len(SERIES) + int(self.sizes.font_pt * 3))
        item, inside = self.item, self.presenter
        self.clear_plot(item)
        self.set_caption(item, None)
        band = BANDS[inside]
        centre = {i: len(SERIES) - 1 - i + (band[0] + band[1]) / 2 for i in range(len(SERIES))}
        left = item.getAxis("left")
        left.setTicks([[] if inside else [(centre[i], s[1]) for i, s in enumerate(SERIES)]])
        left.setStyle(showValues=not inside)
        left.setWidth(None if not inside else 4)
        latest = self.latest()
        item.getAxis("right").setTicks([[(centre[i], latest[s[0]]) for i, s in enumerate(SERIES)]])
        n = len(self.series)
        x0, x1 = (-0.5, 0.5) if n <= 1 else (-0.35, n - 1 + 0.35)
        item.setXRange(x0, x1, padding=0)
        if inside:
            for i, (_key, name, _fmt, colour, _good) in enumerate(SERIES):
                label = pg.TextItem(name, color="#303030", anchor=(0, 0))
                label.setFont(self.plot_font())
                label.setPos(x0, len(SERIES) - i)
                item.addItem(label, ignoreBounds=True)
        if n == 0:
            item.getAxis("bottom").setTicks([[]])
            self.set_caption(item, "no versions yet: each released cycle adds one")
            return
        xs = np.arange(n, dtype=float)
        for row, (key, _name, _fmt, colour, _good) in enumerate(SERIES):
            ys = band_values([_value(m, key) for _, m in self.series], row, band)
            if not np.isfinite(ys).any():
                continue                             # no version has this metric: nothing to draw
            item.addItem(pg.PlotDataItem(xs, ys, pen=self.pen(colour), connect="finite", symbol="o",
                                         symbolSize=self.sizes.point, symbolPen=None, symbolBrush=colour))
        self._version_ticks()

    def _version_ticks(self, *_a) -> None:
        n = len(self.series)
        if not n:
            return
        room = max(1, int(self.item.getViewBox().width() // (self.sizes.font_pt * 3.2)))
        step = max(1, math.ceil(n / room))
        ticks = [(i, f"v{v}") for i, (v, _m) in enumerate(self.series) if i % step == 0 or i == n - 1]
        if len(ticks) > 1 and ticks[-1][0] - ticks[-2][0] < step:
            del ticks[-2]                      # the last version always, never crowded
        self.item.getAxis("bottom").setTicks([ticks])
