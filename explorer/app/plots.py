"""One look for every plot in the explorer (pyqtgraph): white background, dark axes,
no accidental pan or zoom, a caption where there is nothing to plot yet, and the
presenter sizes (a lecture hall's back row needs 18 pt text and thick lines).

A plot is a ``PlotPanel`` (a ``pg.GraphicsLayoutWidget``) with one or more
``PlotItem``s made by ``add_plot``. Subclasses draw their data in ``redraw``, reading
pens and sizes from ``sizes``/``pen``, so ``set_presenter`` only has to restyle the
axes and call ``redraw`` again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor, QFont, QPen
from PyQt6.QtWidgets import QApplication, QSizePolicy, QWidget

PRESENTER_PT = 18.0
TEXT = "#303030"
AXIS = "#606060"
GRID_ALPHA = 0.18


@dataclass(frozen=True)
class PlotSizes:
    """Text and marks of one mode (normal or presenter)."""
    font_pt: float          # tick labels, axis labels, captions
    line: float             # data lines (px)
    thin: float             # secondary lines: single seeds, markers, oracles (px)
    point: float            # data points (px)
    marker_point: float     # hollow reference points (published figures)


def base_point_size() -> float:
    app = QApplication.instance()
    pt = app.font().pointSizeF() if app is not None else 10.0
    return max(9.0, pt if pt > 0 else 10.0)


def plot_sizes(presenter: bool) -> PlotSizes:
    if presenter:
        return PlotSizes(max(PRESENTER_PT, base_point_size()), 4.0, 2.0, 12.0, 20.0)
    return PlotSizes(base_point_size(), 2.0, 1.0, 6.0, 12.0)


def vtk_text_size(presenter: bool) -> int:
    """``font_size`` for a VTK text actor (pyvista ``add_text``) that reads like the Qt
    text next to it: VTK draws that size about 1.8 times as tall in pixels."""
    return max(8, round(plot_sizes(presenter).font_pt * 4 / 3 / 1.8 * 1.1))


def presenter_font(font: QFont, presenter: bool) -> QFont:
    """``font`` at the mode's size (presenter: at least 18 pt)."""
    f = QFont(font)
    f.setPointSizeF(plot_sizes(presenter).font_pt)
    return f


class PlotPanel(pg.GraphicsLayoutWidget):
    """A white stack of PlotItems sharing one style and the presenter flag."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setBackground("w")
        self.presenter = False
        self.plots: list[pg.PlotItem] = []
        self._labels: dict[tuple[int, str], str] = {}
        self._captions: dict[int, pg.TextItem] = {}
        self._titles: dict[int, pg.LabelItem] = {}
        self._pens: dict = {}
        self._grids: dict[int, list] = {}
        self._retained: dict[int, dict] = {}
        self._used: set = set()
        self.ci.setContentsMargins(4, 4, 8, 4)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # ------------------------------------------------------------ building
    def add_plot(self, row: int, col: int = 0, left: str = "", bottom: str = "") -> pg.PlotItem:
        """A PlotItem at (row, col): axes styled, mouse and menu off (a figure, not a tool)."""
        item = self.addPlot(row=row, col=col)
        item.setMouseEnabled(x=False, y=False)
        item.setMenuEnabled(False)
        item.hideButtons()
        # No axis grid: pyqtgraph then hides a tick label that reaches past the plot's
        # edge (the 0 and the 10 of a short panel); ``set_y_ticks`` draws the grid lines.
        item.showGrid(x=False, y=False)
        item.getViewBox().setDefaultPadding(0.02)
        self.plots.append(item)
        vb = item.getViewBox()
        vb.sigRangeChanged.connect(lambda *_a, it=item: self._place_caption(it))
        vb.sigResized.connect(lambda *_a, it=item: self._place_caption(it))
        self.set_label(item, "left", left)
        self.set_label(item, "bottom", bottom)
        self._style(item)
        return item

    def set_label(self, item: pg.PlotItem, side: str, text: str) -> None:
        self._labels[(id(item), side)] = text
        self._apply_label(item, side)

    def _apply_label(self, item: pg.PlotItem, side: str) -> None:
        text = self._labels.get((id(item), side), "")
        axis = item.getAxis(side)
        if text:
            axis.setLabel(text, color=TEXT, **{"font-size": f"{self.sizes.font_pt:g}pt"})
        else:
            axis.showLabel(False)

    # ------------------------------------------------------------ styling
    @property
    def sizes(self) -> PlotSizes:
        return plot_sizes(self.presenter)

    def plot_font(self, bold: bool = False) -> QFont:
        f = presenter_font(self.font(), self.presenter)
        f.setBold(bold)
        return f

    def pen(self, colour, width: float | None = None, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
        """A cosmetic pen (pixels, whatever the zoom); made once per look (mkPen is slow)."""
        w = self.sizes.line if width is None else width
        key = (QColor(colour).rgba(), float(w), style)
        p = self._pens.get(key)
        if p is None:
            p = pg.mkPen(QColor(colour), width=w)
            p.setStyle(style)
            p.setCapStyle(Qt.PenCapStyle.RoundCap)
            self._pens[key] = p
        return p

    # ------------------------------------------------------------ retained curves
    def begin_curves(self) -> None:
        """Start a redraw that reuses the curves it names again (``curve``); ``end_curves``
        removes the rest. Updating data in place is several times cheaper than new items,
        and a lesson redraws while a run streams in."""
        self._used = set()

    def curve(self, item: pg.PlotItem, key, x, y, **style) -> pg.PlotDataItem:
        store = self._retained.setdefault(id(item), {})
        c = store.get(key)
        if c is None:
            c = pg.PlotDataItem()
            item.addItem(c)
            store[key] = c
        c.setData(np.asarray(x, float), np.asarray(y, float), **style)
        self._used.add((id(item), key))
        return c

    def end_curves(self) -> None:
        for item in self.plots:
            store = self._retained.get(id(item), {})
            for key in [k for k in store if (id(item), k) not in self._used]:
                item.removeItem(store.pop(key))

    def _style(self, item: pg.PlotItem) -> None:
        font = self.plot_font()
        for side in ("left", "bottom", "right", "top"):
            axis = item.getAxis(side)
            axis.enableAutoSIPrefix(False)          # "(x0.001)" in an axis label baffles a class
            axis.setPen(pg.mkPen(AXIS, width=1))
            axis.setTextPen(pg.mkPen(TEXT))
            axis.setStyle(tickFont=font, tickTextOffset=max(3, int(self.sizes.font_pt / 3)),
                          tickLength=-max(5, int(self.sizes.font_pt / 2)))
            # a tick at either end keeps its label (half a label may reach past the axis)
            axis.setStyle(hideOverlappingLabels=int(self.sizes.font_pt * 1.5))
            self._apply_label(item, side)
        caption = self._captions.get(id(item))
        if caption is not None:
            caption.setFont(self.plot_font())
        title = self._titles.get(id(item))
        if title is not None:
            title.setText(title.text, size=f"{self.sizes.font_pt:g}pt")

    def set_presenter(self, on: bool) -> None:
        """Presenter sizes (18 pt text, thick lines, big points) on or off."""
        self.presenter = bool(on)
        for item in self.plots:
            self._style(item)
        self.updateGeometry()
        self.redraw()

    def redraw(self) -> None:
        """Draw the data again with the current sizes (subclasses)."""

    def release(self) -> None:
        """Drop every item and the layout now (a closed window's plot): Qt must not be left
        to delete a graphics scene's items during interpreter exit, where it may crash."""
        for item in list(self.plots):
            self.clear_plot(item)
        self.plots.clear()
        self._titles.clear()
        self.clear()                      # out of the layout and the scene

    def clear_plot(self, item: pg.PlotItem) -> None:
        """Remove everything drawn in ``item`` (its grid lines, caption and retained curves too)."""
        item.clear()
        self._grids.pop(id(item), None)
        self._captions.pop(id(item), None)
        self._retained.pop(id(item), None)

    def set_y_ticks(self, item: pg.PlotItem, values, fmt: str = "{:g}") -> None:
        """Labelled ticks on the left axis at ``values``, with faint grid lines there."""
        item.getAxis("left").setTicks([[(v, fmt.format(v)) for v in values]])
        lines = self._grids.setdefault(id(item), [])
        while len(lines) < len(values):
            line = pg.InfiniteLine(angle=0, pen=pg.mkPen(QColor(0, 0, 0, int(255 * GRID_ALPHA / 2)), width=1))
            line.setZValue(-10)
            item.addItem(line, ignoreBounds=True)
            lines.append(line)
        for line, v in zip(lines, values):
            line.setPos(v)
            line.show()
        for line in lines[len(values):]:
            line.hide()

    # ------------------------------------------------------------ captions
    def set_caption(self, item: pg.PlotItem, html: str | None) -> None:
        """A centred caption over ``item``'s view (None removes it): what the plot will
        show, written where the curves will be, so the pane is never an empty box."""
        old = self._captions.pop(id(item), None)
        if old is not None:
            item.removeItem(old)
        if not html:
            return
        caption = pg.TextItem(html=f"<div style='color:{AXIS}; text-align:center'>{html}</div>",
                              anchor=(0.5, 0.5))
        caption.setFont(self.plot_font())
        item.addItem(caption, ignoreBounds=True)
        self._captions[id(item)] = caption
        self._place_caption(item)

    def _place_caption(self, item: pg.PlotItem) -> None:
        caption = self._captions.get(id(item))
        if caption is None:
            return
        vb = item.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        caption.setPos((x0 + x1) / 2, (y0 + y1) / 2)
        caption.setTextWidth(max(80.0, 0.9 * vb.width()))

    def set_corner_title(self, item: pg.PlotItem, html: str) -> pg.LabelItem:
        """A title in the top-left corner inside ``item`` (what its y axis measures):
        it costs no width, where a rotated axis label would not fit a short panel."""
        title = self._titles.get(id(item))
        if title is None:
            title = pg.LabelItem(justify="left")
            title.setParentItem(item.getViewBox())
            title.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(6, 0))
            title.setZValue(20)
            self._titles[id(item)] = title
        title.setText(html, size=f"{self.sizes.font_pt:g}pt", color=TEXT)
        return title

    def caption_text(self, item: pg.PlotItem) -> str:
        caption = self._captions.get(id(item))
        return caption.textItem.toPlainText() if caption is not None else ""


def spread(values: list[float], gap: float, lo: float, hi: float) -> list[float]:
    """Positions for labels wanted at ``values`` (any order): each at least ``gap`` from
    the next, inside [lo + gap/2, hi - gap/2], moved as little as a two-pass push allows.
    Returned in the order given."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    pos = [float(values[i]) for i in order]
    for i in range(1, len(pos)):                       # push up
        pos[i] = max(pos[i], pos[i - 1] + gap)
    top = hi - gap / 2
    if pos and pos[-1] > top:                          # then down from the top
        pos[-1] = top
        for i in range(len(pos) - 2, -1, -1):
            pos[i] = min(pos[i], pos[i + 1] - gap)
    pos = [max(p, lo + gap / 2) if i == 0 else p for i, p in enumerate(pos)]
    out = [0.0] * len(values)
    for k, i in enumerate(order):
        out[i] = pos[k]
    return out


def nice_ticks(lo: float, hi: float, most: int) -> list[float]:
    """Round values in [lo, hi], at most ``most`` of them (at least the ends' neighbours):
    steps of 1, 2 or 5 times a power of ten."""
    span = hi - lo
    if not span > 0 or most < 1:
        return [lo]
    for power in range(-6, 7):
        for base in (1, 2, 5):
            step = base * 10.0 ** power
            first = math.ceil(lo / step - 1e-9)
            count = math.floor(hi / step + 1e-9) - first + 1
            if count <= max(2, most):
                return [round((first + i) * step, 10) for i in range(count)]
    return [lo, hi]
