"""How the window is laid out: the side panel (its tabs in a scroll area, so a
1280x720 screen never squeezes a layout below its minimum, where Qt draws
widgets over each other), the message log and the status bar (the status text
elided with its full text in the tooltip and the log, the session and the mode
at the right)."""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QDockWidget, QFrame, QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget

from .widgets import ElidedLabel, MessageLog


def build_side(w) -> None:
    """The right-hand side panel and the (hidden) message log of window ``w``."""
    refine_tab = QWidget()
    lay = QVBoxLayout(refine_tab)
    lay.setContentsMargins(2, 2, 2, 2)
    lay.addWidget(w.refine_panel)
    lay.addWidget(w.flag_panel, 1)
    flywheel_tab = QSplitter(Qt.Orientation.Vertical)
    flywheel_tab.setChildrenCollapsible(False)
    flywheel_tab.addWidget(w.findings_panel)
    flywheel_tab.addWidget(w.history_panel)
    # The metrics plot is a pane of its own: its height changes with presenter mode, and a
    # splitter keeps every pane at least its minimum (inside the History box it was drawn
    # over the session label when it grew).
    flywheel_tab.addWidget(w.plot)
    flywheel_tab.setStretchFactor(0, 3)
    flywheel_tab.setStretchFactor(1, 2)
    flywheel_tab.setStretchFactor(2, 0)
    w.tabs = QTabWidget()
    w.tabs.addTab(refine_tab, "Refine && flags")
    w.tabs.addTab(flywheel_tab, "Flywheel")
    w.tabs.setTabToolTip(0, "Refine with your own flags, reshape g_psi")
    w.tabs.setTabToolTip(1, "Audit, triage the findings, apply them; versions and their metrics")
    side = QWidget()
    lay = QVBoxLayout(side)
    lay.setContentsMargins(2, 2, 2, 2)
    lay.addWidget(w.tabs, 1)
    lay.addWidget(w.readouts)
    # The side panel scrolls rather than pushing the window past a 1280x720 screen
    # (squeezed below their minimum, Qt's layouts draw widgets over each other).
    w.side_scroll = QScrollArea()
    w.side_scroll.setWidgetResizable(True)
    w.side_scroll.setFrameShape(QFrame.Shape.NoFrame)
    w.side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    w.side_scroll.setWidget(side)
    w.dock = QDockWidget("Explorer", w)
    w.dock.setObjectName("side")
    w.dock.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
    w.dock.setWidget(w.side_scroll)
    w.dock.setMinimumWidth(420)
    w.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, w.dock)
    w.log = MessageLog()
    w.log_dock = QDockWidget("Messages", w)
    w.log_dock.setObjectName("messages")
    w.log_dock.setWidget(w.log)
    w.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, w.log_dock)
    w.log_dock.hide()


def build_status_bar(w) -> None:
    w.status_label = ElidedLabel()
    w.mode_label = ElidedLabel(stretch=False, min_width=120)
    w.session_label = ElidedLabel(mode=Qt.TextElideMode.ElideMiddle, stretch=False, min_width=120)
    w.session_label.setMaximumWidth(260)
    w.mode_label.setMaximumWidth(300)
    w.statusBar().addPermanentWidget(w.status_label, 1)
    w.statusBar().addPermanentWidget(w.session_label)
    w.statusBar().addPermanentWidget(w.mode_label)
