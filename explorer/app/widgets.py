"""Small widgets the window composes: a label that elides instead of being cut
off (the full text in its tooltip), the message log, and the headline under the
3D view."""
from __future__ import annotations

import time

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QFontMetrics, QPainter
from PyQt6.QtWidgets import QLabel, QPlainTextEdit, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """One line that never pushes its parent wider and is never cut mid-word
    silently: too long, it ends in an ellipsis and the tooltip holds it all."""

    def __init__(self, text: str = "", parent: QWidget | None = None,
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight):
        super().__init__(parent)
        self._full = ""
        self._mode = mode
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802
        self._full = text or ""
        super().setText(self._full)
        self.setToolTip(self._full if self.elided() else "")
        self.update()

    def full_text(self) -> str:
        return self._full

    def elided(self) -> bool:
        """Whether the text does not fit and is shown with an ellipsis."""
        return QFontMetrics(self.font()).horizontalAdvance(self._full) > max(1, self.contentsRect().width())

    def shown_text(self) -> str:
        fm = QFontMetrics(self.font())
        return fm.elidedText(self._full, self._mode, max(1, self.contentsRect().width()))

    def resizeEvent(self, ev) -> None:  # noqa: N802
        super().resizeEvent(ev)
        self.setToolTip(self._full if self.elided() else "")

    def minimumSizeHint(self):  # noqa: N802
        hint = super().minimumSizeHint()
        hint.setWidth(40)
        return hint

    def sizeHint(self):  # noqa: N802
        hint = super().sizeHint()
        hint.setWidth(min(hint.width(), 600))
        return hint

    def paintEvent(self, _ev) -> None:  # noqa: N802
        p = QPainter(self)
        p.setPen(self.palette().color(self.foregroundRole()))
        p.setFont(self.font())
        p.drawText(self.contentsRect(), int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), self.shown_text())
        p.end()


class MessageLog(QPlainTextEdit):
    """Every status message, newest last, with the time (View > Message log):
    nothing the window said is lost when the status bar moves on."""
    MAX_LINES = 2000

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(self.MAX_LINES)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.lines = 0

    def add(self, text: str) -> None:
        self.appendPlainText(f"{time.strftime('%H:%M:%S')}  {text}")
        self.lines += 1
