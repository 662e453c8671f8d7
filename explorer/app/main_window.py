"""The desktop explorer: one window around a pyvistaqt view of a reward landscape.

The window wires widgets to a Qt-free ``Session`` (explorer.session.session) and
runs its jobs (training, refinement, audit, flywheel cycles) in a worker
thread; it holds no learning logic. The flywheel's side (findings, history,
the metrics plot, the policy path) is wired in by ``TriageMixin`` and
``HistoryMixin``. ``run()`` is the entry point used by ``explorer gui``.
"""
from __future__ import annotations

from pathlib import Path

import sys

import numpy as np
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (QApplication, QDockWidget, QLabel, QMainWindow, QMessageBox,
                             QSplitter, QTabWidget, QVBoxLayout, QWidget)

import worlds
from explorer.refine import RefinementError
from explorer.session.session import (METHOD_NAMES, POLICY_NAMES, JobResult, Session, Snapshot,
                                   training_job)
from explorer.viz.picking import grid_spacing
from explorer.viz.scene import difference_values
from worlds.errors import InputError

from .actions import ActionsMixin
from .files import APP_NAME, FilesMixin
from .findings_panel import FindingsLayer, FindingsPanel, TriageMixin
from .flywheel_plot import FlywheelPlot
from .history_panel import HistoryMixin, HistoryPanel
from .jobs import JobRunner
from .panels import FlagPanel, ReadoutPanel, RefinePanel
from .policy_layer import PolicyLayer
from .view3d import LandscapeView


class MainWindow(TriageMixin, HistoryMixin, ActionsMixin, FilesMixin, QMainWindow):
    """``MainWindow(world, artifact=None, model=None, train=True, session_dir=None)``:
    the constructor never blocks; ``modelReady`` fires (and ``is_ready`` turns true)
    once a model is shown, ``jobDone(kind)`` after every training/refinement/audit/cycle.
    ``session_dir`` reopens a session directory at its current version."""
    modelReady = pyqtSignal()
    jobDone = pyqtSignal(str)

    def __init__(self, world: str | worlds.World = "cube", artifact: str | None = None,
                 model=None, train: bool = True, session_dir: str | None = None):
        super().__init__()
        w = world if isinstance(world, worlds.World) else worlds.load(world)
        self.session = Session(w)
        self.viewing: int | None = None   # a stored version shown instead of the current one
        self.last_warning: QMessageBox | None = None
        self.audit_seconds: float | None = None
        self.ask_on_close = True          # tests turn the unsaved-changes question off
        self.is_ready = False
        self.compare = "after"            # "after" | "before" | "difference"
        self.last_status = ""
        self._job_base: np.ndarray | None = None
        self._queued_refine = False
        self._psi_pending: tuple[float, float] | None = None
        self._closed = False
        self.jobs = JobRunner(self)
        self.jobs.snapshot.connect(self._on_snapshot)
        self.jobs.succeeded.connect(self._on_job_succeeded)
        self.jobs.failed.connect(self._on_job_failed)
        self.jobs.finished.connect(self._on_job_finished)
        self._build_ui()
        self.resize(1480, 920)
        if session_dir is not None and not (Path(session_dir) / "session.json").exists():
            # A new session directory: versions go there once the first one is made.
            self.session.session_root_hint = Path(session_dir)
            session_dir = None
        if session_dir is not None:
            self.session.open_session(session_dir)
            QTimer.singleShot(0, lambda: self._show_new_model(reset_camera=True))
        elif artifact is not None:
            world2, m = self.session.open_artifact(artifact)
            self.session.open(world2, m, artifact_path=artifact)
            QTimer.singleShot(0, lambda: self._show_new_model(reset_camera=True))
        elif model is not None:
            self.session.open(w, model)
            QTimer.singleShot(0, lambda: self._show_new_model(reset_camera=True))
        elif train:
            self.start_training()
        self._update_title()

    # ================================================================ UI
    def _build_ui(self) -> None:
        self.view = LandscapeView(self)
        self.setCentralWidget(self.view)
        self.view.clicked.connect(self._on_click)
        self.flag_panel = FlagPanel()
        self.refine_panel = RefinePanel()
        self.readouts = ReadoutPanel()
        self.findings_panel = FindingsPanel()
        self.history_panel = HistoryPanel()
        self.plot = FlywheelPlot()
        self.findings_layer = FindingsLayer(self.view, self)
        self.policy = PolicyLayer(self.view, self.session, busy=lambda: self.jobs.busy, parent=self)
        self.policy.readoutChanged.connect(self.readouts.show_policy)
        refine_tab = QWidget()
        lay = QVBoxLayout(refine_tab)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.refine_panel)
        lay.addWidget(self.flag_panel, 1)
        flywheel_tab = QSplitter(Qt.Orientation.Vertical)
        flywheel_tab.setChildrenCollapsible(False)
        flywheel_tab.addWidget(self.findings_panel)
        flywheel_tab.addWidget(self.history_panel)
        flywheel_tab.setStretchFactor(0, 3)
        flywheel_tab.setStretchFactor(1, 2)
        self.history_panel.layout().insertWidget(2, self.plot)
        self.tabs = QTabWidget()
        self.tabs.addTab(refine_tab, "Refine && flags")
        self.tabs.addTab(flywheel_tab, "Flywheel")
        self.tabs.setTabToolTip(0, "Refine with your own flags, reshape g_psi")
        self.tabs.setTabToolTip(1, "Audit, triage the findings, apply them; versions and their metrics")
        side = QWidget()
        lay = QVBoxLayout(side)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.tabs, 1)
        lay.addWidget(self.readouts)
        dock = QDockWidget("Explorer", self)
        dock.setObjectName("side")
        dock.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        dock.setWidget(side)
        dock.setMinimumWidth(520)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self._connect_triage()
        self._connect_history()
        self.flag_panel.deleteRequested.connect(self.delete_flag)
        self.flag_panel.radiusPreview.connect(self._preview_radius)
        self.flag_panel.radiusCommitted.connect(self._commit_radius)
        self.flag_panel.selectionChanged.connect(lambda _fid: self._update_actions())
        self.refine_panel.refineRequested.connect(self.refine)
        self.refine_panel.stopRequested.connect(self.stop_job)
        self.refine_panel.psiMoved.connect(self._on_psi_moved)
        self.refine_panel.psiReleased.connect(self._commit_psi)
        self._latest_snap: Snapshot | None = None
        self._progress_timer = QTimer(self, singleShot=True, interval=100)
        self._progress_timer.timeout.connect(self._show_progress)
        self._psi_timer = QTimer(self, singleShot=True, interval=30)      # <= render rate
        self._psi_timer.timeout.connect(self._apply_psi)
        self._psi_commit = QTimer(self, singleShot=True, interval=400)    # keyboard edits
        self._psi_commit.timeout.connect(self._commit_psi)
        self._build_actions()
        self.mode_label = QLabel()
        self.session_label = QLabel()
        self.statusBar().addPermanentWidget(self.session_label)
        self.statusBar().addPermanentWidget(self.mode_label)
        self._update_mode_label()

    # ============================================================ status
    def status(self, text: str, ms: int = 0) -> None:
        self.last_status = text
        self.statusBar().showMessage(text, ms)

    def _update_mode_label(self) -> None:
        if self.act["flag_tool"].isChecked():
            self.mode_label.setText("Flag tool ON: click places a flag, drag rotates")
        else:
            self.mode_label.setText("Drag rotates; Shift+click places a flag (F: flag tool)")

    def _update_title(self) -> None:
        s = self.session
        saved = f" - {s.artifact_path.name}" if s.artifact_path else ""
        self.setWindowTitle(f"{s.title()}[*]{saved} - {APP_NAME}")
        self.setWindowModified(s.dirty)

    def _update_actions(self) -> None:
        busy = self.jobs.busy
        ready = self.session.ready and self.is_ready
        s = self.session
        self.act["undo"].setText(s.undo_text())
        self.act["undo"].setEnabled(s.can_undo())
        self.act["redo"].setText(s.redo_text())
        self.act["redo"].setEnabled(s.can_redo())
        self.act["delete_flag"].setEnabled(self.flag_panel.selected_id() is not None)
        for k in ("refine", "save_artifact"):
            self.act[k].setEnabled(ready and not busy)
        for k in ("train", "open_world", "open_artifact"):
            self.act[k].setEnabled(not busy)
        self.world_combo.setEnabled(not busy)
        self.act["stop"].setEnabled(busy)
        has_before = self.session.before_reward is not None
        self.act["show_before"].setEnabled(has_before)
        self.act["show_difference"].setEnabled(has_before)
        self.refine_panel.set_busy(busy or not ready)
        self.refine_panel.stop_button.setEnabled(busy)
        self._update_flywheel_actions(busy, ready)

    # ==================================================== showing a model
    def _show_new_model(self, reset_camera: bool = True) -> None:
        """A new world and/or model: rebuild the scene and every panel."""
        s = self.session
        w = s.world
        span = float(np.max(w.bounds_max - w.bounds_min))
        spacing = grid_spacing(w)
        self.flag_panel.configure(max(0.5 * spacing, 0.02 * span), 0.5 * span, 0.175 * span)
        p = s.model.psi
        self._psi_pending = None
        self.refine_panel.configure_psi(p.l_min, p.l_max, p.k)
        s.watch_flags(self._on_flags_changed)
        self.compare = "after"
        self.viewing = None
        self.act["show_after"].setChecked(True)
        self.view.build(w, s.land.points, s.reward(), s.flags.snapshot(), reset_camera=reset_camera)
        self.is_ready = True
        self._sync_world_combo()
        self.flag_panel.refresh(s.flags.snapshot())
        self._refresh_readouts()
        self._update_title()
        self._refresh_flywheel()
        self.policy.redraw()
        self.policy.update()
        self._update_actions()
        self.modelReady.emit()
        if self.session.recovery is not None:
            QTimer.singleShot(0, self._announce_recovery)   # after the caller's own status

    def _announce_recovery(self) -> None:
        """Say (status bar + a non-blocking message) what the journal brought back."""
        msg = self.session.recovery_message()
        self.session.recovery = None
        if not msg or self._closed:
            return
        self.status(msg)
        box = QMessageBox(QMessageBox.Icon.Information, "Recovered an interrupted session", msg,
                          QMessageBox.StandardButton.Ok, self)
        box.setModal(False)
        box.show()
        self.last_warning = box

    def _display(self, reward: np.ndarray | None = None, base: np.ndarray | None = None):
        """(values, colouring) for the compare mode: now, before, or after - before."""
        s = self.session
        if reward is None and self.viewing is not None and self.compare == "after":
            return s.version_reward(self.viewing), "reward"       # a stored version, selected
        now = s.reward() if reward is None else reward
        before = s.before_reward if base is None else base
        if self.compare == "before" and before is not None:
            return before, "reward"
        if self.compare == "difference" and before is not None:
            return difference_values(s.world, before, now), "difference"
        return now, "reward"

    def _redraw(self) -> None:
        if self.is_ready:
            self.view.show_values(*self._display())

    def set_compare(self, mode: str) -> None:
        if self.session.before_reward is None and mode != "after":
            mode = "after"
        if mode != "after" and self.viewing is not None:
            self.viewing = None            # Before/Difference compare with the current version
        self.compare = mode
        self.act[{"after": "show_after", "before": "show_before",
                  "difference": "show_difference"}[mode]].setChecked(True)
        self._redraw()

    def _on_reverse(self, on: bool) -> None:
        self.view.set_reverse(on)

    def _refresh_readouts(self) -> None:
        if self.session.ready:
            self.readouts.show_metrics(self.session.readouts())

    # ============================================================ flags
    def _on_flag_tool(self, _on: bool) -> None:
        self._update_mode_label()

    def _on_click(self, x: float, y: float, mods) -> None:
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if not (self.act["flag_tool"].isChecked() or shift or ctrl):
            return
        if not self.is_ready or self.jobs.kind == "train":
            self.status("No reward model yet: wait for training to finish")
            return
        idx = self.view.pick(x, y)
        if idx is None:
            self.status("No visible cell under the cursor: click on the coloured landscape", 4000)
            return
        centre = tuple(float(v) for v in self.session.land.points[idx])
        fs = self.session.flags
        selected = self.flag_panel.selected_id()
        if ctrl and selected is not None:
            fs.move(selected, centre)
            self.status(f"Moved flag #{selected} to ({', '.join(f'{v:+.2f}' for v in centre)})")
            return
        flag = fs.add(centre, self.flag_panel.new_flag_radius())
        self.flag_panel.select(flag.id)
        self.status(f"Flag {flag.describe()} placed (Ctrl+Z undoes)")
        if self.refine_panel.auto.isChecked():
            self.refine()

    def _on_flags_changed(self) -> None:
        fs = self.session.flags
        self.flag_panel.refresh(fs.snapshot())
        self.view.set_flags(fs.snapshot())
        self._refresh_readouts()
        self._update_actions()

    def delete_flag(self, flag_id: int | None) -> None:
        if flag_id is not None:
            self.session.flags.delete(flag_id)
            self.status(f"Deleted flag #{flag_id} (Ctrl+Z undoes)")

    def _preview_radius(self, flag_id: int, radius: float) -> None:
        flags = [f if f.id != flag_id else type(f)(f.id, f.center, radius, f.kind)
                 for f in self.session.flags.snapshot()]
        self.view.set_flags(flags)

    def _commit_radius(self, flag_id: int, radius: float) -> None:
        try:
            if abs(self.session.flags.get(flag_id).radius - radius) > 1e-9:
                self.session.flags.set_radius(flag_id, radius)
        except (KeyError, InputError) as exc:
            self.status(str(exc))

    def undo(self) -> None:
        text = self.session.undo_text()
        if self.session.undo():
            self.status(text.replace("Undo: ", "Undid: "))
            self._after_triage_change()

    def redo(self) -> None:
        text = self.session.redo_text()
        if self.session.redo():
            self.status(text.replace("Redo: ", "Redid: "))
            self._after_triage_change()

    # ============================================================== jobs
    def start_training(self, world: worlds.World | None = None) -> None:
        world = world or self.session.world
        self.status(f"Training E_theta on the expert samples of '{world.name}'...")
        self.refine_panel.progress.setValue(0)
        self.jobs.start("train", lambda stop: training_job(world, stop=stop))
        self._update_actions()

    def train_again(self) -> None:
        if self.jobs.busy or not self._maybe_save("Train a new model"):
            return
        self.start_training()

    def refine(self) -> None:
        if not self.is_ready:
            return
        self._commit_psi()                        # a pending psi edit becomes its own version first
        if self.jobs.busy:
            # Never two jobs at once: a refinement asked for during another one is queued
            # (once) behind a refinement, refused during training/audit/cycle -- and said so.
            running = METHOD_NAMES.get(self.jobs.kind, self.jobs.kind)
            if self.jobs.kind in METHOD_NAMES and self.jobs.kind not in ("audit", "cycle"):
                self._queued_refine = True        # auto-refine: run again when this one ends
                self.status(f"A {running} refinement is running: the next refinement is queued and "
                            "starts when it ends (Stop cancels the running one)")
            else:
                self.status(f"Cannot refine now: {running} is running; wait for it or press Stop")
            return
        method = self.refine_panel.method_key()
        self._start_landscape_job(method, lambda stop: self.session.refinement_job(method, stop),
                                  "Cannot refine", f"Refining with {METHOD_NAMES[method]}...")

    def _start_landscape_job(self, kind: str, make, refused: str, started: str) -> bool:
        """Start a job that changes the landscape (a refinement or a flywheel cycle):
        remember what the view showed before, leave any old-version view, show the
        live result, and say so. Returns False (with the reason) if it was refused."""
        try:
            self.jobs.start(kind, make)
        except RefinementError as exc:
            self.status(f"{refused}: {exc}")
            return False
        self._job_base = self.session.reward().copy()
        self._leave_version_view()
        if self.compare == "before":
            self.set_compare("after")
        self.refine_panel.progress.setValue(0)
        self.status(started)
        self._update_actions()
        return True

    def stop_job(self) -> None:
        if self.jobs.busy:
            self.jobs.stop()
            self.status(f"Stopping {self.jobs.kind}... (keeping the last good state)")

    def _on_snapshot(self, snap: Snapshot) -> None:
        """Keep only the newest snapshot: values go to the view's next frame, text to
        the next progress tick (each widget repaint recomposes the GL window)."""
        if self._closed:
            return
        self._latest_snap = snap
        if not self._progress_timer.isActive():
            self._progress_timer.start()
        if snap.reward is not None and self.is_ready:
            self.view.show_values(*self._display(snap.reward, self._job_base))

    def _show_progress(self) -> None:
        snap, self._latest_snap = self._latest_snap, None
        if snap is None or self._closed:
            return
        if snap.total:
            self.refine_panel.progress.setValue(int(100 * snap.step / snap.total))
        if snap.stage == "train":
            self.status(f"Training E_theta on '{self.session.world.name}': step {snap.step}/"
                        f"{snap.total}, loss {snap.loss:.2e}")
        elif snap.message:
            self.status(f"{METHOD_NAMES.get(snap.stage, snap.stage)}: step {snap.step}: {snap.message}")

    def _on_job_succeeded(self, kind: str, result: JobResult | None) -> None:
        if self._closed:
            return
        self._latest_snap = None
        if kind == "train":
            if result is None:
                self.status("Training stopped; the previous model stays")
                self._sync_world_combo()
                return
            self.session.open(result.world, result.model, result.land)
            self._show_new_model(reset_camera=True)
            self.status(f"Trained on '{result.world.name}' in {result.seconds:.1f} s: "
                        f"{result.model.metrics.get('flaws', 0)} flaws to audit")
            return
        if kind == "audit":
            self._on_audit_done(result)
            return
        if kind == "cycle":
            self._on_cycle_done(result)
            return
        check = self.session.apply(result)
        released = self._release(f"{METHOD_NAMES[kind]}: {len(self.session.flags)} flags")
        self.refine_panel.progress.setValue(100)
        self.refine_panel.set_psi(self.session.model.psi.l_max, self.session.model.psi.k)
        verdict = "passed" if check["passed"] else "FAILED"
        stopped = " (stopped early: last good state kept)" if result.stopped else ""
        notes = result.report.get("messages", []) + result.report.get("refused", [])
        self.status(f"{METHOD_NAMES[kind]} -> v{self.session.model.version}{stopped}: flaws "
                    f"{check['flaws_before']} -> {check['flaws_after']}, basin retention "
                    f"{check['basin_retention']:.1%}, regression check {verdict}"
                    + ("" if released else " (a draft: not released into the history)")
                    + (f"; note: {notes[0]}" if notes else ""))
        self.view.show_values(*self._display())
        self._refresh_readouts()
        self._update_title()
        self._refresh_flywheel()
        self.policy.update()

    def _on_job_failed(self, kind: str, exc: Exception) -> None:
        if self._closed:
            return
        self._latest_snap = None
        if isinstance(exc, (RefinementError, InputError)):
            self.status(f"{METHOD_NAMES.get(kind, kind)}: {exc}")
        else:
            QMessageBox.critical(self, f"{kind} failed", f"{type(exc).__name__}: {exc}")
            self.status(f"{kind} failed: {exc}")
        if self.is_ready:
            self._redraw()

    def _on_job_finished(self, kind: str) -> None:
        if self._closed:
            return
        self._job_base = None
        if self.policy.deferred:
            self.policy.update()
        self._update_actions()
        self.jobDone.emit(kind)
        if self._queued_refine and kind != "train":
            self._queued_refine = False
            self.refine()

    # ========================================================= sculpting
    def _on_psi_moved(self, l_max: float, k: float) -> None:
        if not self.is_ready or self.jobs.busy:
            return
        self._psi_pending = (l_max, k)
        if not self._psi_timer.isActive():
            self._psi_timer.start()
        self._psi_commit.start()          # commits after a pause unless the slider is held

    def _apply_psi(self) -> None:
        if self._psi_pending is None or not self.is_ready or self.jobs.busy:
            return
        l_max, k = self._psi_pending
        self._psi_pending = None
        reward = self.session.sculpt_to(l_max, k)
        self.view.show_values(*self._display(reward))

    def _commit_psi(self) -> None:
        """One version per psi edit: on release, or after a pause in keyboard edits."""
        if self.refine_panel.sliding():
            return                        # the release commits
        self._psi_commit.stop()
        if self._psi_pending is not None:
            self._apply_psi()
        if self.session.sculpting and self.session.end_sculpt():
            p = self.session.model.psi
            released = self._release(f"psi edit: l_max {p.l_max:.3f}, k {p.k:.2f}")
            self.status(f"g_psi reshaped -> v{self.session.model.version} (l_max {p.l_max:.3f}, "
                        f"k {p.k:.2f}); regression check "
                        f"{'passed' if self.session.last_check['passed'] else 'FAILED'}"
                        + ("" if released else " (a draft: not released into the history)"))
            self._redraw()
            self._refresh_readouts()
            self._update_title()
            self._refresh_flywheel()
            self.policy.update()
            self._update_actions()

    # ============================================================ policy
    def set_policy(self, mode: str) -> None:
        """off | value | gradient: draw that policy's path over the current reward."""
        i = self.policy_combo.findData(mode)
        if i != self.policy_combo.currentIndex():
            self.policy_combo.setCurrentIndex(i)          # comes back here through the combo
            return
        self.policy.set_mode(mode)
        if mode != "off":
            start = ", ".join(f"{v:+.2f}" for v in self.session.policy_start()) if self.session.ready else "?"
            self.status(f"Policy: {POLICY_NAMES[mode]} from ({start}), the cell farthest from the "
                        "expert support; its outcome and the runtime gate are in the readouts")

    def cycle_policy(self) -> None:
        modes = [self.policy_combo.itemData(i) for i in range(self.policy_combo.count())]
        self.set_policy(modes[(modes.index(self.policy.mode) + 1) % len(modes)])

    # ============================================================= close
    def closeEvent(self, ev) -> None:  # noqa: N802
        if not self._closed and not self._maybe_save("Quit"):
            ev.ignore()
            return
        self.shutdown()
        ev.accept()

    def shutdown(self) -> None:
        """Stop workers, stop timers, close the plotter (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.jobs.wait(10.0)
        self.policy.wait(10_000)
        self.session.close()              # a clean end: fold the journal into its snapshot
        self.findings_layer.stop()
        self._psi_timer.stop()
        self._psi_commit.stop()
        self.view.stop()
        self.view.plotter.close()


def run(world: str = "cube", artifact: str | None = None, session: str | None = None) -> int:
    """Open the explorer on a world (training its model in the background), an
    artifact, or a session directory."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    try:
        window = MainWindow(world=world, artifact=artifact, session_dir=session)
    except (InputError, OSError) as exc:
        QMessageBox.critical(None, "Cannot open", str(exc))
        return 2
    window.show()
    return app.exec()
