"""A small plot of each version's metrics along the current lineage, so a class can
watch the flywheel harden the model: flaws fall to zero, the basin stays put,
agreement with the true reward rises. One sparkline per metric (QPainter; no
plotting library needed), each scaled to its own range, with its latest value.
"""
from __future__ import annotations

import math

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

# (metrics key, name, format, colour, good direction: -1 lower is better, +1 higher, 0 must hold)
SERIES = (
    ("flaws", "flaws remaining", "{:.0f}", "#d7191c", -1),
    ("findings", "findings", "{:.0f}", "#fdae61", -1),
    ("basin_cells", "basin cells", "{:.0f}", "#1a9850", 0),
    ("true_correlation", "r vs true reward", "{:.2f}", "#2c7bb6", +1),
    ("spurious_max_reward", "max reward, spurious", "{:.3f}", "#7b3294", -1),
    ("policy_true_return", "policy true return", "{:.2f}", "#404040", +1),
)


def _value(m: dict, key: str) -> float | None:
    v = m.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        return None
    return float(v)


class FlywheelPlot(QWidget):
    ROW = 19
    NAME_W = 128
    VALUE_W = 58

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.series: list[tuple[int, dict]] = []
        self.setMinimumHeight(self.ROW * len(SERIES) + 26)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Metrics of each version along the current lineage (one cycle per step). "
                        "Each line is scaled to its own range; the number is the latest value.")

    @property
    def points(self) -> int:
        """How many versions are plotted."""
        return len(self.series)

    def set_series(self, series: list[tuple[int, dict]]) -> None:
        self.series = list(series)
        self.update()

    def sizeHint(self):  # noqa: N802
        from PyQt6.QtCore import QSize
        return QSize(360, self.minimumHeight())

    def paintEvent(self, _ev) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("white"))
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        p.setFont(font)
        w = self.width()
        x0, x1 = self.NAME_W, w - self.VALUE_W
        n = len(self.series)
        if n == 0:
            p.setPen(QColor("#808080"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no versions yet")
            return
        xs = [x0 + 8 + (x1 - x0 - 16) * (i / (n - 1) if n > 1 else 0.5) for i in range(n)]
        for row, (key, name, fmt, colour, _good) in enumerate(SERIES):
            top = 4 + row * self.ROW
            rect = QRectF(x0, top + 3, x1 - x0, self.ROW - 6)
            p.setPen(QColor("#303030"))
            p.drawText(QRectF(4, top, self.NAME_W - 8, self.ROW), Qt.AlignmentFlag.AlignVCenter, name)
            p.setPen(QPen(QColor("#e6e6e6"), 1))
            p.drawLine(QPointF(x0, rect.bottom()), QPointF(x1, rect.bottom()))
            vals = [_value(m, key) for _, m in self.series]
            known = [v for v in vals if v is not None]
            if not known:
                continue
            lo, hi = min(known), max(known)
            span = hi - lo

            def y(v: float) -> float:
                return rect.center().y() if span <= 1e-12 else rect.bottom() - (v - lo) / span * rect.height()
            pen = QPen(QColor(colour), 2)
            p.setPen(pen)
            path = QPainterPath()
            started = False
            for x, v in zip(xs, vals):
                if v is None:
                    started = False
                    continue
                if not started:
                    path.moveTo(x, y(v))
                    started = True
                else:
                    path.lineTo(x, y(v))
            p.drawPath(path)
            p.setBrush(QColor(colour))
            for x, v in zip(xs, vals):
                if v is not None:
                    p.drawEllipse(QPointF(x, y(v)), 2.5, 2.5)
            p.setBrush(Qt.BrushStyle.NoBrush)
            last = next(v for v in reversed(vals) if v is not None)
            p.setPen(QColor(colour))
            p.drawText(QRectF(x1 + 4, top, self.VALUE_W - 6, self.ROW),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, fmt.format(last))
        # version ticks along the bottom
        p.setPen(QColor("#606060"))
        base = 4 + len(SERIES) * self.ROW
        step = max(1, math.ceil(n / max(1, (x1 - x0) // 28)))
        for i, (version, _m) in enumerate(self.series):
            if i % step == 0 or i == n - 1:
                p.drawText(QRectF(xs[i] - 20, base, 40, 18), Qt.AlignmentFlag.AlignCenter, f"v{version}")
        p.end()
