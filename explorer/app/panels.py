"""Side panels: flags, refinement (with the psi sliders) and readouts."""
from __future__ import annotations

import math

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFormLayout, QGroupBox,
                             QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton,
                             QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)
from superqt import QLabeledDoubleSlider

from explorer.refine.sculpting import refusals
from explorer.session import METHOD_NAMES, METHODS, default_flag_radius

from .help import READOUT_TIPS, shortcut


def _slider(lo: float, hi: float, value: float, decimals: int, tip: str) -> QLabeledDoubleSlider:
    s = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    s.setDecimals(decimals)
    s.setRange(lo, hi)
    s.setSingleStep(10 ** -decimals)
    s.setValue(value)
    s.setToolTip(tip)
    return s


class FlagPanel(QGroupBox):
    """The flag list, the radius slider and Delete."""
    deleteRequested = pyqtSignal(int)
    radiusPreview = pyqtSignal(int, float)       # while dragging the slider
    radiusCommitted = pyqtSignal(int, float)     # once per edit (one undo step)
    selectionChanged = pyqtSignal(object)        # flag id or None

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Flags", parent)
        self.setToolTip("Regions you marked as spurious reward. Flags survive refinements and "
                        "every edit can be undone.")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["id", "centre", "radius", "kind"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        for col in (0, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(False)
        self.table.setToolTip("Each flag: id, centre (x, y, z), radius and kind. Select one to "
                              "change its radius with the slider or to delete it.")
        self.table.itemSelectionChanged.connect(self._on_select)
        self.radius = _slider(0.05, 1.0, 0.35, 2, "Radius of the next flag, or of the selected "
                              "flag (world units)")
        self.radius.valueChanged.connect(self._on_radius)
        self.radius.sliderReleased.connect(self._on_radius_released)
        self.radius.editingFinished.connect(self._on_radius_released)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip(f"Delete the selected flag ({shortcut('delete_flag')})")
        self.delete_button.clicked.connect(self._on_delete)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("radius"))
        row.addWidget(self.radius, 1)
        row.addWidget(self.delete_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addLayout(row)
        lay.addWidget(self.hint)
        self._ids: list[int] = []
        self._pending: tuple[int, float] | None = None
        self._commit_timer = QTimer(self, singleShot=True, interval=300)
        self._commit_timer.timeout.connect(self._on_commit_timer)

    def bind(self, session) -> None:
        """Show the session's flags, now and after every change."""
        def on_reset() -> None:
            w = session.world
            span = float(max(w.bounds_max - w.bounds_min))
            spacing = span / max(w.resolution - 1, 1)
            self.configure(max(0.5 * spacing, 0.02 * span), 0.5 * span, default_flag_radius(w))
            self.refresh(session.flags)
        session.events.reset.connect(on_reset)
        session.events.flags.connect(self.refresh)

    def configure(self, lo: float, hi: float, default: float) -> None:
        self.radius.blockSignals(True)
        self.radius.setRange(lo, hi)
        self.radius.setValue(default)
        self.radius.blockSignals(False)

    def new_flag_radius(self) -> float:
        """New flags take the slider's radius (the last one set or shown)."""
        return float(self.radius.value())

    def selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return self._ids[rows[0].row()] if rows and rows[0].row() < len(self._ids) else None

    def refresh(self, flags, select: int | None = None) -> None:
        keep = self.selected_id() if select is None else select
        self.table.blockSignals(True)
        self.table.setRowCount(len(flags))
        self._ids = [f.id for f in flags]
        for row, f in enumerate(flags):
            cells = [f"#{f.id}", ", ".join(f"{v:+.2f}" for v in f.center), f"{f.radius:.2f}", f.kind]
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.clearSelection()
        if keep in self._ids:
            self.table.selectRow(self._ids.index(keep))
        self.table.blockSignals(False)
        self._on_select()

    def select(self, flag_id: int | None) -> None:
        if flag_id in self._ids:
            self.table.selectRow(self._ids.index(flag_id))
        else:
            self.table.clearSelection()

    def _on_select(self) -> None:
        if self._pending is not None and self._pending[0] != self.selected_id():
            self._flush()                      # an edit of the previous flag is not lost
        fid = self.selected_id()
        self.delete_button.setEnabled(fid is not None)
        if fid is not None:
            text = self.table.item(self._ids.index(fid), 2).text()
            self.radius.blockSignals(True)
            self.radius.setValue(float(text))
            self.radius.blockSignals(False)
        self.selectionChanged.emit(fid)

    def _on_radius(self, value: float) -> None:
        """Preview at once; commit (one undo step) on release, or after a pause when
        the value came from the keyboard or the text box. (superqt moves the value
        on a press *before* it reports the slider down, so the decision waits.)"""
        fid = self.selected_id()
        if fid is None:
            return
        self._pending = (fid, float(value))
        self.radiusPreview.emit(fid, float(value))
        self._commit_timer.start()

    def _on_commit_timer(self) -> None:
        if not self.radius.isSliderDown():
            self._flush()

    def _on_radius_released(self) -> None:
        self._flush()

    def _flush(self) -> None:
        self._commit_timer.stop()
        pending, self._pending = self._pending, None
        if pending is not None:
            self.radiusCommitted.emit(*pending)

    def _on_delete(self) -> None:
        fid = self.selected_id()
        if fid is not None:
            self.deleteRequested.emit(fid)


class RefinePanel(QGroupBox):
    """Refine button and method, auto-refine, progress, Stop, and the psi sliders."""
    refineRequested = pyqtSignal()
    stopRequested = pyqtSignal()
    psiMoved = pyqtSignal(float, float)          # l_max, k (live)
    psiReleased = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Refine", parent)
        self.method = QComboBox()
        for m in METHODS:
            self.method.addItem(METHOD_NAMES[m], m)
        self.method.setToolTip("local patch: Gaussian suppression kernels at the flags (E_theta "
                               "untouched, instant).\ndata-driven: flagged states join D_neg and a "
                               "new expert of E_theta is trained to reject them.")
        self.auto = QCheckBox("auto-refine after each flag")
        self.auto.setToolTip("Refine as soon as a flag is placed, with the method chosen above")
        # Never focused: Space (or a stray key after Tab) cannot switch it; a click can.
        self.auto.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.refine_button = QPushButton("Refine")
        self.refine_button.setToolTip(f"Refine the reward model with all flags ({shortcut('refine')}); "
                                      "a new version, then a regression check of the basin")
        self.refine_button.clicked.connect(self.refineRequested)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(f"Stop the running job and keep its last good state "
                                    f"({shortcut('stop')})")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stopRequested)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setToolTip("Progress of the running training or refinement")
        self.l_max = _slider(0.01, 1.0, 0.3, 3, "g_psi: l_max, the expertness error at which the "
                             "reward has fallen to exp(-k). Drag to reshape the landscape live "
                             "(functional sculpting; E_theta is untouched).")
        self.k = _slider(0.2, 10.0, 3.0, 2, "g_psi: k, how steeply reward falls as the error "
                         "grows. Drag to reshape the landscape live.")
        self._busy, self._refused = False, {}
        for s in (self.l_max, self.k):
            s.setProperty("tip", s.toolTip())          # restored when a model's kind allows psi again
            s.valueChanged.connect(self._on_psi)
            s.sliderReleased.connect(self.psiReleased)
            s.editingFinished.connect(self.psiReleased)
        row = QHBoxLayout()
        row.addWidget(self.method, 1)
        row.addWidget(self.refine_button)
        row.addWidget(self.stop_button)
        form = QFormLayout()
        form.addRow("l_max", self.l_max)
        form.addRow("k", self.k)
        psi_box = QGroupBox("Mapping g_psi (functional sculpting)")
        psi_box.setToolTip("g_psi(L) = clip(exp(-k (L - l_min) / (l_max - l_min)), 0, 1)")
        psi_box.setLayout(form)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(self.auto)
        lay.addWidget(self.progress)
        lay.addWidget(psi_box)

    def bind(self, session) -> None:
        """The psi sliders follow the current version's mapping; what a model's kind
        cannot do (an imported reward has no psi, no E_theta to train) is disabled,
        with the reason in the tooltip."""
        def on_reset() -> None:
            self.configure_psi(*_psi(session))
            self.set_refusals(refusals(session.model))
        session.events.reset.connect(on_reset)
        session.events.model.connect(lambda m: self.set_psi(m.psi.l_max, m.psi.k))

    def set_refusals(self, refused: dict) -> None:
        self._refused = dict(refused)
        item = self.method.model().item(self.method.findData("data"))
        if item is not None:
            item.setEnabled("data_patch" not in refused)
            item.setToolTip(refused.get("data_patch", ""))
        if "data_patch" in refused and self.method_key() == "data":
            self.method.setCurrentIndex(self.method.findData("local"))
        for slider in (self.l_max, self.k):
            slider.setToolTip(refused.get("sculpt") or slider.property("tip"))
        self.set_busy(self._busy)

    def method_key(self) -> str:
        return self.method.currentData()

    def configure_psi(self, l_min: float, l_max: float, k: float) -> None:
        """Ranges for a new model (l_max must stay above l_min), without emitting."""
        self.l_max.blockSignals(True)
        self.l_max.setRange(round(l_min * 1.01 + 1e-3, 3), max(1.0, 3 * l_max))
        self.l_max.blockSignals(False)
        self.set_psi(l_max, k)

    def set_psi(self, l_max: float, k: float) -> None:
        for s, v in ((self.l_max, l_max), (self.k, k)):
            s.blockSignals(True)
            lo, hi = s.minimum(), s.maximum()
            if v > hi:
                s.setMaximum(v * 1.5)
            if v < lo:
                s.setMinimum(v)
            s.setValue(v)
            s.blockSignals(False)

    def sliding(self) -> bool:
        return self.l_max.isSliderDown() or self.k.isSliderDown()

    def _on_psi(self, _value: float) -> None:
        self.psiMoved.emit(float(self.l_max.value()), float(self.k.value()))

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.refine_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        sculpt = not busy and "sculpt" not in self._refused
        self.l_max.setEnabled(sculpt)
        self.k.setEnabled(sculpt)


def _psi(session) -> tuple[float, float, float]:
    p = session.model.psi
    return p.l_min, p.l_max, p.k


class ReadoutPanel(QGroupBox):
    """What the landscape looks like now, in numbers, each with a tooltip."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Readouts", parent)
        self.labels: dict[str, QLabel] = {}
        form = QFormLayout(self)
        for key, name in (("version", "model"), ("flaws", "flaws"), ("basin", "basin"),
                          ("flags", "flags"), ("correlation", "vs true reward"),
                          ("check", "regression check"), ("cycle", "flywheel"), ("policy", "policy"),
                          ("gate", "runtime gate")):
            value = QLabel("-")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            value.setToolTip(READOUT_TIPS[key])
            label = QLabel(name)
            label.setToolTip(READOUT_TIPS[key])
            form.addRow(label, value)
            self.labels[key] = value

    def bind(self, session) -> None:
        """Refresh after anything that changes a number shown here."""
        def refresh(*_args) -> None:
            if session.ready:
                self.show_metrics(session.readouts(), flags=len(session.flags))
        for ev in (session.events.reset, session.events.model, session.events.flags, session.events.reference):
            ev.connect(refresh)

    def show_metrics(self, m: dict, flags: int | None = None) -> None:
        """``flags``: how many flags the session has (a version's stored metrics may
        hold figures of the findings it was patched with, which are no flags)."""
        L = self.labels
        n = m.get("patches", 0)
        L["version"].setText(f"v{m['version']}, {n} patch kernel{'s' if n != 1 else ''}")
        flaws = f"grid: {m['flaws']:,} of {m['cells']:,} cells"
        if "reference_flaws" in m:
            flaws += f" (was {m['reference_flaws']:,})"
        cert = m.get("certified") or {}
        if "flaws" in cert:
            # Side by side: the picture's cells and the held-out states between them.
            flaws += (f"; between grid points: {cert['flaws']:,} of {cert['probes']:,} probes "
                      f"(beyond B + {cert.get('delta', 0):.3f})")
        L["flaws"].setText(flaws)
        basin = f"{m['basin_cells']} cells"
        if "basin_retention" in m:
            basin += f", reward retained {m['basin_retention']:.1%}"
        if "basin_worst_loss" in cert:
            basin += f"; between grid points the worst state lost {cert['basin_worst_loss']:.1%}"
        L["basin"].setText(basin)
        if "flag_max_reward" in m and flags != 0:
            below = "at or below" if m["flag_max_reward"] <= m["floor"] else "ABOVE"
            n = f"{flags} flag{'s' if flags != 1 else ''}: " if flags else ""
            L["flags"].setText(f"{n}max {m['flag_max_reward']:.3f} inside ({below} the floor {m['floor']:g}) "
                               f"vs expert median {m['expert_median_reward']:.2f}")
        else:
            L["flags"].setText(f"no flags; expert median {m['expert_median_reward']:.2f}")
        c = m.get("true_correlation", float("nan"))
        L["correlation"].setText("n/a" if not math.isfinite(c) else f"r = {c:.2f}")
        chk = m.get("regression_check")
        if chk is None:
            L["check"].setText("no refinement yet")
        else:
            verdict = "passed" if chk["passed"] else "FAILED"
            L["check"].setText(f"{verdict}: worst basin cell lost {chk['basin_worst_cell_loss']:.1%}, "
                               f"basin {chk['basin_cells_before']} -> {chk['basin_cells_after']} cells")
        L["cycle"].setText(cycle_text(m))

    def show_policy(self, readout) -> None:
        """A PolicyReadout, or None when the policy is off."""
        if readout is None:
            self.labels["policy"].setText("off (G or the toolbar turns it on)")
            self.labels["gate"].setText("-")
            return
        self.labels["policy"].setText(readout.describe())
        self.labels["gate"].setText(readout.describe_gate())


def cycle_text(c: dict) -> str:
    """found / patched / refused / remaining, and the worst reward left in confirmed regions."""
    if "flaws_found" not in c:
        return "no cycle yet"
    parts = [f"{name} {c[key]}" for key, name in (("flaws_found", "found"), ("flaws_patched", "patched"),
                                                   ("flaws_refused", "refused"), ("flaws_remaining", "left"))
             if key in c]
    text = ", ".join(parts) or "no cycle yet"
    if "spurious_max_reward" in c:
        text += f"; spurious max {c['spurious_max_reward']:.3f}"
    return text
