"""The AfD lesson's plot: expected true reward of the route Best-of-N keeps against N
(log scale), one curve per reward model, each named at its end; the ceiling (the
best of N picked by the true reward itself) dashed; the slider's N marked.

Before a run the frame (N = 1..64) carries a caption; once the demonstrations exist
the ceiling and SFT's own reward (N = 1) are drawn, and each reward model's curve is
added when it is fitted.
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QFontMetricsF
from PyQt6.QtWidgets import QWidget

from ..plots import PlotPanel, nice_ticks, spread

RM_COLOURS = {"init-sft": "#1a9850", "init-demo": "#e08214", "sft-demo": "#d7191c", "closed-form": "#2c7bb6"}
ORACLE_COLOUR = "#8c8c8c"
ORACLE_NAME = "ceiling"
PLACEHOLDER = ("Press <b>Run</b>: for each reward model, the true reward of the route "
               "Best-of-N keeps, for N = 1 to 64 (a curve per model, added as each is fitted).")


class BonPlot(PlotPanel):
    """``set_preview(bon_ns, oracle, sft_true)``, ``set_runs(runs, selected, n)``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs: dict = {}
        self.selected: str | None = None
        self.n: int | None = None
        self.ns: tuple = (1, 2, 4, 8, 16, 32, 64)
        self.oracle: dict | None = None
        self.sft_true: float | None = None
        self.item = self.add_plot(0, bottom="N: routes Best-of-N picks from")
        self.set_corner_title(self.item, "true reward of the kept route")
        self.item.getViewBox().sigResized.connect(self._frame)
        self._end_labels: list = []
        self.setMinimumSize(280, 220)
        self.setToolTip("Each curve: expected true reward of the route the reward model makes "
                        "Best-of-N keep. Dashed: the ceiling, the best of N picked by the true reward.")
        self.redraw()

    def sizeHint(self) -> QSize:
        return QSize(520, 420)

    # ------------------------------------------------------------ data
    def set_preview(self, bon_ns, oracle: dict | None, sft_true: float | None) -> None:
        self.ns, self.oracle, self.sft_true = tuple(bon_ns), oracle, sft_true
        self.redraw()

    def set_runs(self, runs: dict, selected: str | None, n: int | None) -> None:
        self.runs, self.selected, self.n = dict(runs), selected, n
        self.redraw()

    def clear_runs(self) -> None:
        self.runs, self.oracle, self.sft_true, self.n = {}, None, None, None
        self.redraw()

    # ------------------------------------------------------------ drawing
    def _curves(self) -> dict[str, list[tuple[int, float]]]:
        out = {}
        if self.oracle:
            out[ORACLE_NAME] = sorted((int(n), float(v)) for n, v in self.oracle.items())
        for rm, run in self.runs.items():
            out[rm] = [(int(r["n"]), float(r["true_reward"])) for r in run["best_of_n"]]
        return out

    def redraw(self) -> None:
        item, sz = self.item, self.sizes
        self.clear_plot(item)
        self._end_labels = []
        curves = self._curves()
        vals = [v for pts in curves.values() for _n, v in pts]
        if self.sft_true is not None:
            vals.append(self.sft_true)
        lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
        pad = 0.08 * (hi - lo or 0.1)
        self._y = (lo - pad, hi + 3 * pad)                   # headroom for the corner title
        item.setYRange(*self._y, padding=0)
        lines = max(2, int(item.getViewBox().height() / (2.2 * sz.font_pt * 4 / 3)))
        self.set_y_ticks(item, nice_ticks(lo, hi + 2 * pad, lines))
        item.getAxis("bottom").setTicks([[(math.log2(n), str(n)) for n in self.ns]])
        self.set_caption(item, None if curves else PLACEHOLDER)
        for name, pts in curves.items():
            oracle = name == ORACLE_NAME
            colour = ORACLE_COLOUR if oracle else RM_COLOURS.get(name, "#404040")
            width = sz.thin + 1 if oracle else (sz.line * 1.6 if name == self.selected else sz.line)
            pen = self.pen(colour, width, Qt.PenStyle.DashLine if oracle else Qt.PenStyle.SolidLine)
            xs = [math.log2(n) for n, _v in pts]
            ys = [v for _n, v in pts]
            item.addItem(pg.PlotDataItem(xs, ys, pen=pen, symbol=None if oracle else "o",
                                         symbolSize=sz.point, symbolPen=None, symbolBrush=colour))
        if self.n is not None and curves:
            line = pg.InfiniteLine(math.log2(self.n), angle=90,
                                   pen=pg.mkPen("#404040", width=sz.thin, style=Qt.PenStyle.DotLine))
            item.addItem(line, ignoreBounds=True)
        self._frame()

    def _frame(self, *_a) -> None:
        """x range with room on the right for the curves' names, which are written there."""
        item = self.item
        curves = self._curves()
        for label in self._end_labels:
            item.removeItem(label)
        self._end_labels = []
        vb = item.getViewBox()
        top = math.log2(max(self.ns))
        fm = QFontMetricsF(self.plot_font(bold=True))
        room = max([fm.horizontalAdvance(n) for n in curves] + [0.0]) + 12
        width = max(60.0, vb.width())
        span = top * width / max(30.0, width - room) if curves else top + 0.35
        item.setXRange(-0.15, span + 0.05, padding=0)
        if not curves:
            return
        y0, y1 = self._y
        gap = 1.1 * fm.height() * (y1 - y0) / max(1.0, vb.height())
        names = list(curves)
        ys = spread([curves[n][-1][1] for n in names], gap, y0, y1)
        for name, y in zip(names, ys):
            colour = ORACLE_COLOUR if name == ORACLE_NAME else RM_COLOURS.get(name, "#404040")
            label = pg.TextItem(name, color=colour, anchor=(0, 0.5))
            label.setFont(self.plot_font(bold=name == self.selected))
            label.setPos(top + 0.12, y)
            item.addItem(label, ignoreBounds=True)
            self._end_labels.append(label)

    def end_label_texts(self) -> list[str]:
        return [label.textItem.toPlainText() for label in self._end_labels]

    def values_at(self, n: int) -> dict[str, float]:
        """Each drawn curve's value at N = ``n`` (the status line and tests read it)."""
        return {name: v for name, pts in self._curves().items() for m, v in pts if m == n}

