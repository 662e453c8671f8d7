"""What every lesson window shares: the 'what to watch' text, a status line and a
progress bar, Esc and Ctrl+W to close, the presenter flag (18 pt text), and the
live drawing of a streamed run.

A lesson's science is a generator in ``explorer.lessons`` that yields the result so
far; the worker (``JobRunner``) iterates it, and the window draws the latest result
it was handed, at most every ``DRAW_INTERVAL_MS`` and never
more than ``DRAW_SHARE`` of the time (the first one at once), so a fast
generator never queues more frames than the GUI thread can draw. Subclasses build
their controls and views, and implement ``draw(result)`` and ``close_views()``.
"""
from __future__ import annotations

import time

from PyQt6.QtCore import QSize, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QKeySequence, QPalette, QShortcut
from PyQt6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.session.jobs import Job

from ..jobs import JobRunner
from ..plots import PlotPanel, base_point_size, plot_sizes

DRAW_INTERVAL_MS = 200
DRAW_SHARE = 0.12               # at most this share of the time goes to drawing a live run
EXPLANATION_LINES = 4          # the 'what to watch' box shows this many lines, then scrolls


def explanation_box(html: str) -> QLabel:
    """The 'what to watch' text at the top of every lesson window. Coloured through its
    palette, not a style sheet: a style sheet would stop the window's (presenter) font
    from reaching it."""
    label = QLabel(html)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setAutoFillBackground(True)
    pal = label.palette()
    pal.setColor(QPalette.ColorRole.Window, QColor("#f6f6f0"))
    label.setPalette(pal)
    label.setMargin(6)
    return label


class ElidedLabel(QLabel):
    """One line that never widens its layout: when the text does not fit it ends in
    '...' and the tooltip holds all of it."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = str(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def is_elided(self) -> bool:
        return self.text() != self._full

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(0, self.width()))
        super().setText(shown)
        self.setToolTip(self._full if shown != self._full else "")

    def minimumSizeHint(self) -> QSize:
        fm = self.fontMetrics()
        return QSize(fm.horizontalAdvance("...") + 4, fm.height())

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 4, self.fontMetrics().height())

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._elide()

    def changeEvent(self, ev) -> None:
        super().changeEvent(ev)
        if ev.type() == ev.Type.FontChange:
            self._elide()


class LessonWindow(QMainWindow):
    """A lesson's own non-modal window (see the module docstring)."""

    runDone = pyqtSignal(bool)          # True: a complete result is shown; False: failed or stopped
    resultDrawn = pyqtSignal(bool)      # a result was drawn; True when it is the complete one

    def __init__(self, title: str, explanation: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.is_closed = False
        self.presenter = False
        self.result = None              # the result drawn last (partial while a run is live)
        self.error: Exception | None = None
        self._pending = None
        self._last_draw = 0.0
        self.draw_seconds: list[float] = []     # how long each draw took (the throttle reads it)
        self._run_first_draw = 0
        self._draw_timer = QTimer(self)
        self._draw_timer.setSingleShot(True)
        self._draw_timer.timeout.connect(self._draw_pending)
        self.jobs = JobRunner(None, self)
        self.jobs.snapshot.connect(self._on_snapshot)
        self.jobs.succeeded.connect(self._on_done)
        self.jobs.failed.connect(self._on_failed)
        self.jobs.finished.connect(lambda _k: self._sync())

        central = QWidget(self)
        self.setCentralWidget(central)
        self.body = QVBoxLayout(central)
        self.body.setContentsMargins(8, 6, 8, 4)
        self.body.setSpacing(6)
        self.explain = explanation_box(explanation)
        self.explain_area = QScrollArea()
        self.explain_area.setWidget(self.explain)
        self.explain_area.setWidgetResizable(True)
        self.explain_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.explain_area.setFrameShape(QFrame.Shape.StyledPanel)
        self.body.addWidget(self.explain_area)
        self.controls = QHBoxLayout()
        self.controls.setSpacing(8)
        self.body.addLayout(self.controls)

        self.status = ElidedLabel("")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(160)
        self.progress.hide()
        self.explain_toggle = QToolButton()
        self.explain_toggle.setCheckable(True)
        self.explain_toggle.setChecked(True)
        self.explain_toggle.setText("Hide text")
        self.explain_toggle.setToolTip("Show or hide the 'what to watch' text (more room for the plots)")
        self.explain_toggle.toggled.connect(self.show_explanation)
        self.statusBar().addWidget(self.status, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.explain_toggle)
        self.statusBar().setSizeGripEnabled(False)

        # One shortcut for both keys (two for one key would be ambiguous and fire neither).
        self.close_shortcut = QShortcut(self)
        self.close_shortcut.setKeys([QKeySequence("Esc"), QKeySequence("Ctrl+W")])
        self.close_shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.close_shortcut.activated.connect(self.close)
        self._fit_explanation()

    # ------------------------------------------------------------ presenter
    def set_presenter(self, on: bool) -> None:
        """Presenter sizes: 18 pt text everywhere, thicker lines, bigger points."""
        self.presenter = bool(on)
        f = QFont(self.font())
        f.setPointSizeF(plot_sizes(True).font_pt if on else base_point_size())
        self.setFont(f)
        self.progress.setFixedWidth(int(f.pointSizeF() * 12))
        self._fit_explanation()
        self.presenter_changed(self.presenter)

    def presenter_changed(self, on: bool) -> None:
        """Subclasses pass the flag to their plots and views."""

    def show_explanation(self, on: bool) -> None:
        """The 'what to watch' text shown (default) or hidden."""
        self.explain_area.setVisible(on)
        self.explain_toggle.blockSignals(True)
        self.explain_toggle.setChecked(on)
        self.explain_toggle.blockSignals(False)
        self.explain_toggle.setText("Hide text" if on else "What to watch")

    def _fit_explanation(self) -> None:
        fm = self.explain.fontMetrics()
        lines = EXPLANATION_LINES - (1 if self.presenter else 0)
        self.explain_area.setMaximumHeight(fm.lineSpacing() * lines + 8)     # whole lines: margin + frame
        self.explain_area.setMinimumHeight(fm.lineSpacing() * 2 + 16)

    # ------------------------------------------------------------ running
    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def run_job(self, kind: str, make) -> None:
        """Start ``make(stop)`` (a generator of results) in the worker."""
        self.error = None
        self._pending = None
        self._last_draw = 0.0
        self._run_first_draw = len(self.draw_seconds)
        self.progress.setRange(0, 0)
        self.progress.show()
        # A lesson's result is drawn as it streams; finishing it changes no session.
        self.jobs.start(Job(kind, kind, make, lambda result: result))
        self._sync()

    def fill_controls(self, labelled: tuple[tuple[str, QWidget], ...], run: QWidget, stop: QWidget) -> None:
        """The control row: each input after its label (its buddy), then Run and Stop."""
        for text, w in labelled:
            label = QLabel(text)
            label.setBuddy(w)
            self.controls.addWidget(label)
            self.controls.addWidget(w)
        self.controls.addWidget(run)
        self.controls.addWidget(stop)
        self.controls.addStretch(1)

    def slider_row(self, caption: str | QLabel, slider: QSlider, readout: QLabel, panel: QWidget,
                   plot: QWidget) -> QWidget:
        """The lesson's plot panel: a labelled slider with its right-aligned readout
        above the plot, which takes the height that is left."""
        lay = QVBoxLayout(panel)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        readout.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(caption if isinstance(caption, QLabel) else QLabel(caption))
        row.addWidget(slider, 1)
        row.addWidget(readout)
        lay.addLayout(row)
        lay.addWidget(plot, 1)
        return panel

    def split_body(self, orientation: Qt.Orientation, first: QWidget, second: QWidget,
                   stretch: tuple[int, int]) -> QSplitter:
        """Two panes that can be resized but never collapsed to nothing (a blank pane
        on a projector reads as a crash)."""
        split = QSplitter(orientation)
        split.setChildrenCollapsible(False)
        split.addWidget(first)
        split.addWidget(second)
        split.setStretchFactor(0, stretch[0])
        split.setStretchFactor(1, stretch[1])
        self.body.addWidget(split, 1)
        return split

    def show_world(self) -> None:
        """The picked world, before any run (each lesson draws it in ``_show_world``)."""
        if self.busy or self.is_closed:
            return
        self._show_world(self.world_combo.currentData())

    def _on_snapshot(self, result) -> None:
        if self.is_closed:
            return
        self._pending = result
        # At most every DRAW_INTERVAL_MS, and drawing takes at most DRAW_SHARE of the time:
        # the worker needs the interpreter (VTK holds the GIL while it renders).
        # the cost of a draw: the cheapest of this run's last three, not counting its first
        # (that one builds the scene)
        later = self.draw_seconds[self._run_first_draw + 1:]
        cost = min(later[-3:]) if later else 0.0
        interval = max(DRAW_INTERVAL_MS, 1000.0 * cost / DRAW_SHARE)
        wait = interval - (time.perf_counter() - self._last_draw) * 1000.0
        if wait <= 0:
            self._draw_pending()
        elif not self._draw_timer.isActive():
            self._draw_timer.start(int(wait))

    def _draw_pending(self) -> None:
        result, self._pending = self._pending, None
        if result is None or self.is_closed:
            return
        self._show(result)

    def _show(self, result) -> None:
        self.result = result
        t0 = time.perf_counter()
        self.draw(result)
        # paint now, so the throttle measures what a frame really costs (the 3D views
        # render in their paint)
        self.centralWidget().repaint()
        self._last_draw = time.perf_counter()
        self.draw_seconds.append(self._last_draw - t0)
        steps = max(1, int(getattr(result, "steps", 1)))
        self.progress.setRange(0, steps)
        self.progress.setValue(int(getattr(result, "step", 0)))
        self.resultDrawn.emit(bool(getattr(result, "complete", False)))

    def _on_done(self, _kind: str, result) -> None:
        self._draw_timer.stop()
        self._pending = None
        self.progress.hide()
        if self.is_closed:
            return
        if result is None:
            self.status.setText("stopped (what was computed stays drawn)")
            self.runDone.emit(False)
            return
        self._show(result)
        self.runDone.emit(True)

    def _on_failed(self, _kind: str, exc: Exception) -> None:
        self._draw_timer.stop()
        self.progress.hide()
        self.error = exc
        self.status.setText(f"failed: {exc}")
        self.runDone.emit(False)

    def _sync(self) -> None:
        """Enable the controls that make sense now (subclasses extend)."""

    def draw(self, result) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------ closing
    def closeEvent(self, ev) -> None:
        self.shutdown()
        ev.accept()

    def shutdown(self) -> None:
        """Stop the worker (between steps), close the 3D views (idempotent)."""
        if self.is_closed:
            return
        self.is_closed = True
        self._draw_timer.stop()
        self.jobs.wait(60.0)
        self.close_views()
        for plot in self.findChildren(PlotPanel):
            plot.release()

    def close_views(self) -> None:
        """Subclasses close their interactors."""
