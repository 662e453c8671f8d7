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
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight, stretch: bool = True,
                 min_width: int = 40):
        super().__init__(parent)
        self._full = ""
        self._tip = ""
        self._mode = mode
        # stretch: take what is left (the status text); else ask for the text's width
        # and give way down to ``min_width`` (the session name, the mode hint).
        self.setSizePolicy(QSizePolicy.Policy.Ignored if stretch else QSizePolicy.Policy.Preferred,
                           QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(min_width)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text or ""
        super().setText(self._full)
        self._sync_tip()
        self.update()

    def set_tip(self, tip: str) -> None:
        """The tooltip when the text fits (when it does not, the tooltip is the text)."""
        self._tip = tip
        self._sync_tip()

    def _sync_tip(self) -> None:
        self.setToolTip(self._full if self.elided() else self._tip)

    def full_text(self) -> str:
        return self._full

    def elided(self) -> bool:
        """Whether the text does not fit and is shown with an ellipsis."""
        return QFontMetrics(self.font()).horizontalAdvance(self._full) > max(1, self.contentsRect().width())

    def shown_text(self) -> str:
        fm = QFontMetrics(self.font())
        return fm.elidedText(self._full, self._mode, max(1, self.contentsRect().width()))

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._sync_tip()

    def minimumSizeHint(self):
        hint = super().minimumSizeHint()
        hint.setWidth(self.minimumWidth())
        return hint

    def sizeHint(self):
        hint = super().sizeHint()
        hint.setWidth(min(hint.width(), 600))
        return hint

    def paintEvent(self, _ev) -> None:
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

    def add(self, text: str) -> None:
        self.appendPlainText(f"{time.strftime('%H:%M:%S')}  {text}")
