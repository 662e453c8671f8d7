"""The session's versions: a timeline of flywheel cycles (and other refinements).

Selecting a version shows its landscape in the 3D view; Restore makes it the
current version (later refinements branch from it), Export copies its artifact,
Diff colours the current landscape by its change since the selected version.
"""
from __future__ import annotations

import math
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import (QAbstractItemView, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                             QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)


TIP_KEYS = (("flaws", "flaws remaining", "{:d}"), ("flaws_found", "flaws found by the audit", "{:d}"),
            ("flaws_patched", "flaws patched", "{:d}"), ("flaws_refused", "flaws refused (basin cap)", "{:d}"),
            ("findings", "findings", "{:d}"), ("findings_accepted", "findings accepted", "{:d}"),
            ("basin_cells", "basin cells", "{:d}"), ("true_correlation", "r vs true reward", "{:.3f}"),
            ("spurious_max_reward", "max reward in confirmed spurious regions", "{:.3f}"),
            ("policy_true_return", "policy true return", "{:.2f}"), ("policy_outcome", "policy outcome", "{}"))


def metrics_tooltip(version: int, label: str, m: dict) -> str:
    lines = [f"v{version}: {label}"]
    for key, name, fmt in TIP_KEYS:
        v = m.get(key)
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            continue
        try:
            lines.append(f"{name}: {fmt.format(v)}")
        except (ValueError, TypeError):
            lines.append(f"{name}: {v}")
    return "\n".join(lines)


class HistoryPanel(QGroupBox):
    versionSelected = pyqtSignal(object)          # version or None
    restoreRequested = pyqtSignal(int)
    exportRequested = pyqtSignal(int)
    diffRequested = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("History (versions)", parent)
        self.setToolTip("Every released version of the reward model in this session: select one to "
                        "look at it, Diff to compare it with the current one, Restore to go back.")
        self.where = QLabel("")
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["version", "parent", "label", "flaws", "basin"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setMinimumHeight(80)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setToolTip("Versions (bold: the current one). Hover a row for its metrics.")
        header = self.tree.header()
        for col in (0, 1, 3, 4):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.tree.itemSelectionChanged.connect(self._on_select)
        self.restore_button = QPushButton("Restore")
        self.restore_button.setToolTip("Make the selected version the current one (refining it "
                                       "again starts a new branch)")
        self.export_button = QPushButton("Export...")
        self.export_button.setToolTip("Copy the selected version's artifact into a directory")
        self.diff_button = QPushButton("Diff vs current")
        self.diff_button.setToolTip("Colour the current landscape by its reward change since the "
                                    "selected version (red: fell, blue: rose)")
        self.restore_button.clicked.connect(lambda: self._emit(self.restoreRequested))
        self.export_button.clicked.connect(lambda: self._emit(self.exportRequested))
        self.diff_button.clicked.connect(lambda: self._emit(self.diffRequested))
        row = QHBoxLayout()
        row.addWidget(self.restore_button)
        row.addWidget(self.export_button)
        row.addWidget(self.diff_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.tree, 1)
        lay.addLayout(row)
        lay.addWidget(self.where)
        self._versions: list[int] = []
        self._current: int | None = None
        self._busy = False
        self.show_history([], None, None)

    def bind(self, session) -> None:
        def refresh(*_args) -> None:
            if session.ready:
                self.show_history(session.versions.ordered(), session.current, session.root)
        for ev in (session.events.reset, session.events.versions, session.events.model):
            ev.connect(refresh)

    def show_history(self, entries, current: int | None, root) -> None:
        """``entries``: VersionEntry list, oldest first; the newest is shown and selected
        when a version is added."""
        keep = self.selected_version()
        previous, self._current = self._current, current
        self.tree.blockSignals(True)
        self.tree.clear()
        self._versions = []
        bold = QFont()
        bold.setBold(True)
        for e in entries:
            m = e.metrics
            mark = " *" if e.version == current else ""
            item = QTreeWidgetItem([f"v{e.version}{mark}", "-" if e.parent is None else f"v{e.parent}",
                                    e.label, str(m.get("flaws", "?")), str(m.get("basin_cells", "?"))])
            item.setData(0, Qt.ItemDataRole.UserRole, e.version)
            tip = metrics_tooltip(e.version, e.label, m) + f"\ncreated {e.created}"
            for col in range(5):
                item.setToolTip(col, tip)
                if e.version == current:
                    item.setFont(col, bold)
            self.tree.addTopLevelItem(item)
            self._versions.append(e.version)
        self.tree.blockSignals(False)
        if keep in self._versions and current == previous:
            self.select_version(keep, emit=False)
        if current in self._versions:
            # A new or restored current version is always in sight (never below the fold).
            self.tree.scrollToItem(self.tree.topLevelItem(self._versions.index(current)))
        if root is None:
            self.where.setText("Not stored yet: the first edit creates the session directory.")
            self.where.setToolTip("File > New session... chooses the directory yourself")
        else:
            self.where.setText(f"Session: {Path(root).name}")
            self.where.setToolTip(f"Session directory: {root}")
        self._update_buttons()

    def selected_version(self) -> int | None:
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def select_version(self, version: int | None, emit: bool = True) -> None:
        if version not in self._versions:
            self.tree.clearSelection()
            return
        if not emit:
            self.tree.blockSignals(True)
        item = self.tree.topLevelItem(self._versions.index(version))
        self.tree.setCurrentItem(item)
        item.setSelected(True)
        if not emit:
            self.tree.blockSignals(False)
            self._update_buttons()

    def versions(self) -> list[int]:
        return list(self._versions)

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_buttons()

    def _update_buttons(self) -> None:
        v = self.selected_version()
        ok = v is not None and not self._busy
        self.restore_button.setEnabled(ok and v != self._current)
        self.export_button.setEnabled(v is not None)
        self.diff_button.setEnabled(ok and v != self._current)

    def _on_select(self) -> None:
        self._update_buttons()
        self.versionSelected.emit(self.selected_version())

    def _emit(self, signal) -> None:
        v = self.selected_version()
        if v is not None:
            signal.emit(v)
