"""Phase 2 in the window: the findings panel (one row per connected region, its
findings underneath) and the numbered markers in the 3D view.

The panel only shows a ``Triage`` (explorer.flywheel.triage) and emits what the
person asked for; the window forwards it to the session, which owns the rules.
"""
from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QFont
from PyQt6.QtWidgets import (QAbstractItemView, QComboBox, QDoubleSpinBox, QGroupBox, QHBoxLayout,
                             QHeaderView, QLabel, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                             QWidget)

from explorer.flywheel.triage import ACCEPTED, PENDING, RANKING_NAMES, RANKINGS, REJECTED

from .findings_layer import DECISION_COLOUR, FindingsLayer  # noqa: F401 -- the window imports both here
from .help import shortcut

DECISION_TEXT = {PENDING: "pending", ACCEPTED: "accepted", REJECTED: "fine (rejected)"}


def _n(count: int, noun: str) -> str:
    """'1 region', '2 regions', '5,169 flawed cells'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _centre(c) -> str:
    return "(" + ", ".join(f"{v:+.2f}" for v in c) + ")"


class FindingsPanel(QGroupBox):
    """Audit, rank, step through the regions, accept / reject / reset, radius, apply."""
    auditRequested = pyqtSignal()
    regionSelected = pyqtSignal(object)           # cluster id or None
    decisionRequested = pyqtSignal(str, int)      # "accept" | "reject" | "reset", cluster
    radiusRequested = pyqtSignal(int, float)      # cluster, radius (before accepting)
    acceptAllRequested = pyqtSignal()
    applyRequested = pyqtSignal()
    rankingChanged = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Findings (audit -> triage)", parent)
        self.setToolTip("Phase 2 triage: the audit's findings, one row per connected region "
                        "(its representative); a decision applies to the whole region.")
        self.audit_button = QPushButton("Audit")
        self.audit_button.setToolTip(f"Audit the current version for spurious reward "
                                     f"({shortcut('audit')}); runs in the background")
        self.audit_button.clicked.connect(self.auditRequested)
        self.rank = QComboBox()
        for key in RANKINGS:
            self.rank.addItem(RANKING_NAMES[key], key)
        self.rank.setToolTip("Order the regions by priority (distance from the expert support, "
                             "as the authors do) or by score (the highest reward served inside)")
        self.rank.currentIndexChanged.connect(lambda _i: self.rankingChanged.emit(self.rank.currentData()))
        self.summary = QLabel("No audit yet: press Audit.")
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(5)
        self.tree.setHeaderLabels(["#", "decision", "radius", "cells", "where / why"])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setMinimumHeight(120)
        self.tree.setToolTip("One row per connected region (its representative finding; expand it "
                             "for the region's findings). Select a row to fly the camera there.")
        header = self.tree.header()
        for col in range(4):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(True)
        self.tree.itemSelectionChanged.connect(self._on_select)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.radius = QDoubleSpinBox()
        self.radius.setDecimals(3)
        self.radius.setSingleStep(0.025)
        self.radius.setRange(0.01, 10.0)
        self.radius.setToolTip("Radius of the selected region's representative before accepting; "
                               "the same factor applies to every finding of the region")
        self.radius.editingFinished.connect(self._on_radius)
        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip(f"Accept the selected region: all its findings become "
                                      f"patches at the next Apply ({shortcut('accept_finding')})")
        self.reject_button = QPushButton("Reject")
        self.reject_button.setToolTip(f"Reviewed, fine: not proposed again for this version "
                                      f"({shortcut('reject_finding')})")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Reset the selected region's decision to pending")
        for b, action in ((self.accept_button, "accept"), (self.reject_button, "reject"),
                          (self.reset_button, "reset")):
            b.clicked.connect(lambda _=False, a=action: self._decide(a))
        self.accept_all_button = QPushButton("Accept all")
        self.accept_all_button.setToolTip("Accept every pending region")
        self.accept_all_button.clicked.connect(self.acceptAllRequested)
        self.apply_button = QPushButton("Apply accepted")
        self.apply_button.setToolTip(f"Patch the accepted findings, run the regression check and "
                                     f"release a new version if it passes ({shortcut('apply_accepted')})")
        self.apply_button.clicked.connect(self.applyRequested)
        top = QHBoxLayout()
        top.addWidget(self.audit_button)
        top.addWidget(QLabel("rank by"))
        top.addWidget(self.rank, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("radius"))
        row.addWidget(self.radius)
        row.addWidget(self.accept_button)
        row.addWidget(self.reject_button)
        row.addWidget(self.reset_button)
        row2 = QHBoxLayout()
        row2.addWidget(self.accept_all_button)
        row2.addWidget(self.apply_button, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.summary)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.detail)
        lay.addLayout(row)
        lay.addLayout(row2)
        self._clusters: list[int] = []
        self._triage = None
        self._busy = False
        self.show_triage(None)

    def bind(self, session) -> None:

        def refresh(*_args) -> None:
            t = session.triage
            self.show_triage(t, session.current, t.report.seconds if t is not None else None)
        for ev in (session.events.reset, session.events.triage, session.events.model):
            ev.connect(refresh)

    # ---- showing ------------------------------------------------------------
    def show_triage(self, triage, current_version: int | None = None, seconds: float | None = None) -> None:
        keep = self.selected_cluster()
        self._triage = triage
        self.tree.blockSignals(True)
        self.tree.clear()
        self._clusters = []
        if triage is None:
            self.summary.setText("No audit of this version yet: press Audit (the red team sweeps the "
                                 "grid, the verifier checks the norms).")
        else:
            rep = triage.report
            c = triage.counts()
            stale = "" if current_version in (None, triage.version) else \
                f" The model is now v{current_version}: Apply patches it; Audit again to refresh."
            took = f", search {seconds:.2f} s" if seconds is not None else ""
            hidden = f"; {c['hidden']} hidden (reviewed fine earlier)" if c["hidden"] else ""
            self.summary.setText(
                f"Audit of v{triage.version} ({rep.mode}{took}): {_n(c['findings'], 'finding')}, "
                f"{_n(c['regions'], 'region')}, {_n(rep.verified, 'flawed cell')}{hidden}; accepted "
                f"{c['accepted']}, rejected {c['rejected']}.{stale}")
            stuck = len(rep.unremovable) + len(rep.unremovable_left)
            if stuck:
                self.summary.setText(self.summary.text() + f" {_n(stuck, 'flawed state')} provably "
                                     "unremovable under the basin cap (black dots).")
            bold = QFont()
            bold.setBold(True)
            labels = {g.get("id"): g.get("label", "") for g in getattr(rep, "regions", []) or []}
            for i, r in enumerate(triage.regions, start=1):
                f = r.representative
                where = labels.get(r.cluster) or _centre(f.center)
                item = QTreeWidgetItem([str(i), DECISION_TEXT[r.decision], f"{r.radius:.3f}", str(r.cells),
                                        f"{where}: {f.reason}"])
                item.setData(0, Qt.ItemDataRole.UserRole, r.cluster)
                item.setForeground(1, QBrush(QColor(DECISION_COLOUR[r.decision])))
                item.setFont(0, bold)
                item.setToolTip(4, f"region {i}: {len(r.members)} findings, {r.cells} cells\n"
                                   f"representative #{f.id} at {_centre(f.center)}, score {f.score:.2f}, "
                                   f"priority {f.priority:.2f}\n{f.reason}")
                if len(r.members) > 1:
                    for m in r.scaled_members():
                        child = QTreeWidgetItem([f"#{m.id}", "", f"{m.radius:.3f}", str(m.cells),
                                                 f"{_centre(m.center)} score {m.score:.2f}"])
                        child.setData(0, Qt.ItemDataRole.UserRole, r.cluster)
                        child.setToolTip(4, m.reason)
                        item.addChild(child)
                self.tree.addTopLevelItem(item)
                self._clusters.append(r.cluster)
        self.tree.blockSignals(False)
        if keep in self._clusters:
            self.select_cluster(keep, emit=False)
        self._update_buttons()

    def selected_cluster(self) -> int | None:
        items = self.tree.selectedItems()
        if not items:
            return None
        return items[0].data(0, Qt.ItemDataRole.UserRole)

    def select_cluster(self, cluster: int | None, emit: bool = True) -> None:
        if cluster not in self._clusters:
            self.tree.clearSelection()
            return
        item = self.tree.topLevelItem(self._clusters.index(cluster))
        if not emit:
            self.tree.blockSignals(True)
        self.tree.setCurrentItem(item)
        item.setSelected(True)
        self.tree.scrollToItem(item)
        if not emit:
            self.tree.blockSignals(False)
            self._update_buttons()

    def next_pending(self, after: int | None) -> int | None:
        """The first pending region *below* ``after`` in the list (wrapping), so the
        keyboard flow moves on and never goes back to a row just decided."""
        t = self._triage
        if t is None or not self._clusters:
            return None
        start = self._clusters.index(after) + 1 if after in self._clusters else 0
        order = self._clusters[start:] + self._clusters[:start]
        return next((c for c in order if t.region(c).decision == PENDING), None)

    def step(self, delta: int) -> int | None:
        """Select the next (+1) or previous (-1) region; returns its cluster."""
        if not self._clusters:
            return None
        cur = self.selected_cluster()
        i = self._clusters.index(cur) + delta if cur in self._clusters else (0 if delta > 0 else -1)
        cluster = self._clusters[i % len(self._clusters)]
        self.select_cluster(cluster)
        return cluster

    def set_busy(self, busy: bool, ready: bool) -> None:
        self._busy = busy or not ready
        self.audit_button.setEnabled(not self._busy)
        self._update_buttons()

    # ---- internals ------------------------------------------------------------
    def _update_buttons(self) -> None:
        t = self._triage
        cluster = self.selected_cluster()
        region = t.region(cluster) if t is not None and cluster is not None else None
        editable = region is not None and not self._busy
        self.accept_button.setEnabled(editable and region.decision != ACCEPTED)
        self.reject_button.setEnabled(editable and region.decision != REJECTED)
        self.reset_button.setEnabled(editable and region.decision != PENDING)
        self.radius.setEnabled(editable and region.decision != REJECTED)
        counts = t.counts() if t is not None else {"pending": 0, "accepted": 0, "accepted_findings": 0}
        self.accept_all_button.setEnabled(t is not None and counts["pending"] > 0 and not self._busy)
        n = counts["accepted_findings"]
        self.apply_button.setText(f"Apply accepted ({n} finding{'s' if n != 1 else ''})" if n else "Apply accepted")
        self.apply_button.setEnabled(n > 0 and not self._busy)
        if region is not None:
            self.radius.blockSignals(True)
            self.radius.setValue(region.radius)
            self.radius.blockSignals(False)
            f = region.representative
            self.detail.setText(f"<b>Region {t.number(cluster)}</b> "
                                f"({len(region.members)} finding{'s' if len(region.members) != 1 else ''}, "
                                f"{region.cells} cells): #{f.id} at {_centre(f.center)}, score {f.score:.2f}, "
                                f"{f.kind}. {f.reason}")
        else:
            self.detail.setText("Select a region to fly there; Accept, Reject or adjust its radius."
                                if t is not None and self._clusters else "")

    def _on_select(self) -> None:
        self._update_buttons()
        self.regionSelected.emit(self.selected_cluster())

    def _decide(self, action: str) -> None:
        cluster = self.selected_cluster()
        if cluster is not None:
            self._commit_radius()
            self.decisionRequested.emit(action, cluster)

    def _commit_radius(self) -> None:
        cluster = self.selected_cluster()
        if cluster is None or self._triage is None:
            return
        value = float(self.radius.value())
        if abs(self._triage.region(cluster).radius - value) > 5e-4:
            self.radiusRequested.emit(cluster, value)

    def _on_radius(self) -> None:
        if self.radius.isEnabled():
            self._commit_radius()
