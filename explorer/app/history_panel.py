"""The session's versions: a timeline of flywheel cycles (and other refinements).

Selecting a version shows its landscape in the 3D view; Restore makes it the
current version (later refinements branch from it), Export copies its artifact,
Diff colours the current landscape by its change since the selected version.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import (QAbstractItemView, QFileDialog, QGroupBox, QHBoxLayout, QHeaderView,
                             QLabel, QMessageBox, QPushButton, QTreeWidget, QTreeWidgetItem,
                             QVBoxLayout, QWidget)

from explorer.session.session import sessions_root
from worlds.errors import InputError

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

    def show_history(self, entries, current: int | None, root, draft: int | None = None) -> None:
        """``entries``: VersionEntry list; ``draft``: the shown model's version if it was not
        released (its regression check failed)."""
        keep = self.selected_version()
        self._current = current
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
        if keep in self._versions:
            self.select_version(keep, emit=False)
        if root is None:
            self.where.setText("Not stored yet: the first release creates the session directory.")
            self.where.setToolTip("File > New session... chooses the directory yourself")
        else:
            self.where.setText(f"Session: {Path(root).name}")
            self.where.setToolTip(f"Session directory: {root}")
        if draft is not None:
            self.where.setText(self.where.text() + f" Shown: v{draft}, a draft (regression check "
                               "failed: not released).")
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


class HistoryMixin:
    """The window's side of the versions (mixed into MainWindow): show the history
    and the metrics plot, preview / diff / restore / export a version, and choose
    or reopen the session directory."""

    def _connect_history(self) -> None:
        hp = self.history_panel
        hp.versionSelected.connect(self.view_version)
        hp.restoreRequested.connect(self.restore_version)
        hp.exportRequested.connect(self.export_version_dialog)
        hp.diffRequested.connect(self.diff_version)

    def _refresh_flywheel(self) -> None:
        self._refresh_triage()
        self._refresh_history()

    def _refresh_history(self) -> None:
        s = self.session
        h = s.history
        draft = s.model.version if s.model is not None and h is not None and not s.released else None
        self.history_panel.show_history(h.entries if h else [], s.released_version,
                                        h.root if h else None, draft)
        self.plot.set_series(s.flywheel_series())
        if h is None:
            self.session_label.setText("session: not stored yet")
            self.session_label.setToolTip("The first release creates a session directory under "
                                          f"{sessions_root()} (File > New session... chooses one)")
        else:
            self.session_label.setText(f"session: {h.root.name}")
            self.session_label.setToolTip(f"Session directory: {h.root}")

    def _release(self, label: str) -> bool:
        """Release the current model into the history if its regression check passed."""
        try:
            entry = self.session.release(label)
        except (InputError, OSError) as exc:
            self._warn("Cannot store the version", str(exc))
            return False
        return entry is not None

    # ---- looking at versions ---------------------------------------------------
    def view_version(self, version) -> None:
        """Show a stored version's landscape (the current version stays current)."""
        s = self.session
        if not self.is_ready:
            return
        if version is None or (version == s.released_version and s.released):
            self.viewing = None
        else:
            self.viewing = int(version)
        if self.compare != "after":
            self.set_compare("after")
        self._redraw()
        if self.viewing is not None:
            e = s.history.entry(self.viewing)
            self.status(f"Showing v{e.version} ({e.label}); the current version is v{s.model.version}. "
                        "Restore makes it current, Diff compares, A shows the current one.")

    def _leave_version_view(self) -> None:
        if self.viewing is not None:
            self.viewing = None
            self.history_panel.select_version(None)

    def diff_version(self, version: int) -> None:
        s = self.session
        try:
            s.set_reference(version)
        except (InputError, OSError) as exc:
            self.status(f"Cannot compare with v{version}: {exc}")
            return
        self.viewing = None
        self._update_actions()
        self.set_compare("difference")
        self._refresh_readouts()
        self.status(f"Difference: v{s.model.version} - v{version} (red: reward fell since v{version}, "
                    f"blue: rose). B shows v{version}, A the current version.")

    def restore_version(self, version: int) -> None:
        if self.jobs.busy:
            return
        self._commit_psi()
        try:
            self.session.restore(version)
        except (InputError, OSError) as exc:
            QMessageBox.critical(self, "Cannot restore", str(exc))
            return
        self._show_new_model(reset_camera=False)
        self.status(f"Restored v{version}: it is the current version; refining it again starts a new branch")

    def export_version_dialog(self, version: int) -> None:
        d = QFileDialog.getExistingDirectory(self, f"Export v{version}: choose a directory to put it in")
        if d:
            self.export_version(version, Path(d) / f"{self.session.world.name}-v{version}")

    def export_version(self, version: int, dest) -> Path | None:
        dest = Path(dest)
        base, i = dest, 2
        while dest.exists():
            dest, i = base.with_name(f"{base.name}-{i}"), i + 1
        try:
            out = self.session.export(version, dest)
        except (InputError, OSError) as exc:
            QMessageBox.critical(self, "Cannot export", str(exc))
            return None
        self.status(f"Exported v{version} to {out}")
        return out

    # ---- session directories ------------------------------------------------------
    def new_session_dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "New session: choose an empty directory (or one to "
                                                   "put a new session directory in)")
        if not d:
            return
        root = Path(d)
        if (root / "session.json").exists():
            QMessageBox.critical(self, "Cannot start a session", f"{root}: a session already lives "
                                 "here; use File > Open session... instead")
            return
        if any(root.iterdir()):
            root = root / f"{self.session.world.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        self.new_session(root)

    def new_session(self, root) -> bool:
        if self.jobs.busy or not self.is_ready:
            return False
        self._commit_psi()
        try:
            self.session.new_session(root)
        except (InputError, OSError) as exc:
            QMessageBox.critical(self, "Cannot start a session", str(exc))
            return False
        self._refresh_flywheel()
        self._refresh_readouts()
        self.status(f"New session in {root}: v{self.session.model.version} is its first version")
        return True

    def open_session_dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Open session (a directory with session.json)")
        if d:
            self.open_session(d)

    def open_session(self, root) -> bool:
        if self.jobs.busy or not self._maybe_save("Open session"):
            return False
        try:
            model = self.session.open_session(root)
        except (InputError, OSError) as exc:
            QMessageBox.critical(self, "Cannot open session", str(exc))
            return False
        self._show_new_model(reset_camera=True)
        h = self.session.history
        self.status(f"Opened session {root}: {len(h.entries)} versions, current v{model.version}"
                    + (f"; recovered after a crash: {h.recovered}" if getattr(h, "recovered", None) else ""))
        return True
