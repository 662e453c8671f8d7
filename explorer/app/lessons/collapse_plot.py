"""The collapse lesson's plot: true utility (solid) and the proxy reward the policy
chased (dashed) per round for both arms, the distractors they grew below, the
slider's round marked with each arm's value written where its curve crosses it.

The frame (rounds and the 0-10 utility scale) is fixed when a run starts, so the
curves grow into it as they arrive instead of the axes jumping; before any run the
same frame carries a caption saying what will appear.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QFontMetricsF
from PyQt6.QtWidgets import QWidget

from explorer.lessons.collapse_live import ARM_NAMES, ArmRun

from ..plots import PlotPanel, spread

ARM_COLOURS = {"myopic": "#d7191c", "relaxed": "#2c7bb6", "practical": "#1a9850"}
UTILITY_MAX = 10.0           # U = 10 exp(-0.3 d^2): the colour scale and the plot's y axis
PLACEHOLDER = ("Press <b>Run</b>: each arm's <b>true utility</b> (solid) and the <b>proxy reward</b> "
               "it chases (dashed) are drawn here round by round as they are computed.")


def nice_ceiling(v: float, step: float = 0.25) -> float:
    return max(step, math.ceil(v / step) * step)


def x_ticks(n: int, most: int = 7) -> list[int]:
    """Round numbers from 0 to ``n`` (at most ``most`` of them), ``n`` itself last."""
    step = 1
    for base in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        step = base
        if n / base <= most - 1:
            break
    ticks = list(range(0, n + 1, step))
    if ticks[-1] != n:
        if n - ticks[-1] < 0.6 * step:
            ticks.pop()
        ticks.append(n)
    return ticks


class CollapsePlot(PlotPanel):
    """``set_series(arms, published, total_rounds)``; ``set_marker(round)``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.series: dict[str, ArmRun] = {}
        self.published: dict | None = None
        self.marker: int | None = None
        self.total_rounds = 300
        self.x_name = "round"
        self.legend_arms = ["myopic", "relaxed"]
        self.legend = self.addLabel("", row=0, col=0)
        self.main = self.add_plot(1)
        self.low = self.add_plot(2, bottom="round")
        self.set_corner_title(self.low, "distractors")     # the legend row names the upper panel's lines
        self.low.setXLink(self.main)
        self.main.getAxis("bottom").setStyle(showValues=False)
        self.ci.layout.setRowStretchFactor(1, 2)
        self.ci.layout.setRowStretchFactor(2, 1)
        self.main.getViewBox().sigResized.connect(self._ticks_for_height)
        self.low.getViewBox().sigResized.connect(self._draw_marker)     # label gaps are in pixels
        self.setMinimumHeight(220)
        self.setToolTip("Solid: true utility U at the policy. Dashed: the proxy reward the policy "
                        "chased (the RM's score there). Lower panel: the distractors it grew. "
                        "The dotted line is the slider's round.")
        self.redraw()

    def sizeHint(self) -> QSize:
        return QSize(900, 300)

    # ------------------------------------------------------------ data
    def set_frame(self, total_rounds: int, x_name: str = "round") -> None:
        """The axes a run will fill (before its first numbers arrive)."""
        self.total_rounds, self.x_name = int(total_rounds), x_name
        self.set_label(self.low, "bottom", x_name)
        self.redraw()

    def set_series(self, arms: dict[str, ArmRun], published: dict | None = None,
                   total_rounds: int | None = None) -> None:
        self.series, self.published = dict(arms), published
        if total_rounds is not None:
            self.total_rounds = int(total_rounds)
        self.redraw()

    def set_marker(self, t: int | None) -> None:
        self.marker = None if t is None else int(t)
        self._draw_marker()

    def clear_series(self) -> None:
        self.series, self.published, self.marker = {}, None, None
        self.redraw()

    # ------------------------------------------------------------ drawing
    def redraw(self) -> None:
        sz = self.sizes
        self._legend()
        # the lower panel: two lines of its own text plus its axis, whatever the height
        self.low.setMinimumHeight(int(sz.font_pt * 4 / 3 * 4.4))
        n = max(1, self.total_rounds)
        # room right of the last round for the values written at the marker there
        self.main.setXRange(0, n * 1.1, padding=0.01)
        ticks = [[(t, str(t)) for t in x_ticks(n)]]
        self.low.getAxis("bottom").setTicks(ticks)
        self.main.getAxis("bottom").setTicks(ticks)
        runs = self.series
        y_max = max([UTILITY_MAX] + [float(np.nanmax(r.proxy_reward)) for r in runs.values()
                                     if len(r.proxy_reward)])
        self.main.setYRange(-0.07 * y_max, y_max * 1.08, padding=0)
        lines = self.main.getViewBox().height() / (self.sizes.font_pt * 4 / 3)
        step = 2 if lines >= 7 else 5                # never more ticks than the panel has lines
        self.set_y_ticks(self.main, list(range(0, int(y_max) + 1, step)))
        z_max = max([0.0] + [float(np.nanmax(r.noise_norm)) for r in runs.values() if len(r.noise_norm)])
        z_top = nice_ceiling(z_max * 1.1)
        self.low.setYRange(-0.15 * z_top, z_top * 1.5, padding=0)
        self.set_y_ticks(self.low, [0, z_top])
        self.set_caption(self.main, None if runs else PLACEHOLDER)
        self.begin_curves()
        for arm, run in runs.items():
            c = ARM_COLOURS[arm]
            if len(run.seed_utility) > 1:
                faint = pg.mkColor(c)
                faint.setAlpha(90)
                for i, u in enumerate(run.seed_utility):
                    self.curve(self.main, (arm, "seed", i), np.arange(len(u)), u, pen=self.pen(faint, sz.thin))
            x = np.asarray(run.rounds, float)
            self.curve(self.main, (arm, "proxy"), x, run.proxy_reward, pen=self.pen(c, style=Qt.PenStyle.DashLine))
            self.curve(self.main, (arm, "utility"), x, run.true_utility, pen=self.pen(c))
            self.curve(self.low, (arm, "distractors"), x, run.noise_norm, pen=self.pen(c))
        self.end_curves()
        for item, scatter in getattr(self, "_published_items", []):
            item.removeItem(scatter)
        self._published_items = []
        if self.published:
            for arm, figs in self.published.items():
                if arm not in runs:
                    continue
                pts = [(n, figs.get("final_utility"))]
                if "peak_utility" in figs:
                    pts.append((figs.get("peak_iteration", 0), figs["peak_utility"]))
                pts = [(t, v) for t, v in pts if v is not None and t <= n]
                self._hollow(self.main, pts, ARM_COLOURS[arm])
                if "final_noise" in figs:
                    self._hollow(self.low, [(n, figs["final_noise"])], ARM_COLOURS[arm])
        self._draw_marker()

    def _ticks_for_height(self, *_a) -> None:
        step = 2 if self.main.getViewBox().height() / (self.sizes.font_pt * 4 / 3) >= 7 else 5
        if step != getattr(self, "_y_step", None):
            self._y_step = step
            self.redraw()
        else:
            self._draw_marker()

    def _hollow(self, item: pg.PlotItem, pts, colour: str) -> None:
        if pts:
            scatter = pg.ScatterPlotItem([p[0] for p in pts], [p[1] for p in pts], symbol="o",
                                         size=self.sizes.marker_point, brush=None,
                                         pen=pg.mkPen(colour, width=self.sizes.thin + 1))
            item.addItem(scatter)
            self._published_items.append((item, scatter))

    def _legend(self) -> None:
        sz = self.sizes
        arms = list(self.series) or self.legend_arms
        parts = [f"<span style='color:{ARM_COLOURS[a]}'>&#9632; <b>{ARM_NAMES[a]}</b></span>" for a in arms]
        parts += ["&#9472;&#9472; true utility", "&#8211; &#8211; proxy reward"]
        if self.published:
            parts.append("&#9675; published")
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(parts), size=f"{sz.font_pt:g}pt", color="#303030")

    def _draw_marker(self, *_a) -> None:
        for item, obj in getattr(self, "_marker_items", []):
            item.removeItem(obj)
        self._marker_items = []
        if self.marker is None or not self.series:
            return
        pen = pg.mkPen("#404040", width=self.sizes.thin, style=Qt.PenStyle.DotLine)
        for item in (self.main, self.low):
            line = pg.InfiniteLine(self.marker, angle=90, pen=pen)
            item.addItem(line, ignoreBounds=True)
            self._marker_items.append((item, line))
        self._value_labels(self.main, "true_utility", "{:.1f}")
        self._value_labels(self.low, "noise_norm", "{:.2f}")

    def _value_labels(self, item: pg.PlotItem, key: str, fmt: str) -> None:
        """Each arm's value at the marker, written by its curve (nudged apart if close)."""
        vals = []
        for arm, run in self.series.items():
            arr = getattr(run, key)
            if len(arr) and self.marker <= len(arr) - 1:
                vals.append([float(arr[self.marker]), arm])
        if not vals:
            return
        vb = item.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        px = max(1.0, vb.height()) / max(1e-9, y1 - y0)          # pixels per unit, up
        px_x = max(1.0, vb.width()) / max(1e-9, x1 - x0)         # pixels per round
        fm = QFontMetricsF(self.plot_font(bold=True))
        gap = 1.3 * fm.height() / px                             # one label's height, in units
        fill = pg.mkBrush(255, 255, 255, 215)
        texts = [fmt.format(v) for v, _arm in vals]
        if len(vals) * gap > 0.9 * (y1 - y0):
            # a panel too short for a label per arm: one label, the values side by side
            html = " ".join(f"<span style='color:{ARM_COLOURS[arm]}'>{t}</span>" for t, (_v, arm) in zip(texts, vals))
            spots = [((y0 + y1) / 2, f"<b>{html}</b>", None, " ".join(texts))]
        else:
            ys = spread([v for v, _arm in vals], gap, y0, y1)
            spots = [(y, None, ARM_COLOURS[arm], t) for y, t, (_v, arm) in zip(ys, texts, vals)]
        for y, html, colour, plain in spots:
            # right of the marker, clear of a published point there; left of it if the
            # text would run past the plot's right edge
            width = fm.horizontalAdvance(plain) + 16
            right = (x1 - self.marker) * px_x >= width
            dx = (self.sizes.marker_point / 2 + 4) / px_x
            label = (pg.TextItem(html=html, anchor=(0 if right else 1, 0.5), fill=fill) if html else
                     pg.TextItem(plain, color=colour, anchor=(0 if right else 1, 0.5), fill=fill))
            label.setFont(self.plot_font(bold=True))
            label.setPos(self.marker + (dx if right else -dx), y)
            item.addItem(label, ignoreBounds=True)
            self._marker_items.append((item, label))

    def marker_texts(self) -> list[str]:
        """The values written at the marker (for tests and screen readers)."""
        return [t for _item, obj in self._marker_items if isinstance(obj, pg.TextItem)
                for t in obj.textItem.toPlainText().split()]
