"""The desktop explorer: one window, one view over one ``Session``.

The window builds its parts, binds each to the session's events (so none is
refreshed by hand after a model change), forwards what the person does to the
session, and runs the session's jobs in a worker thread (``jobs.py``). It holds
no learning logic and no state the session does not, except how to look at it
(camera, compare mode, the version previewed). ``run()`` is ``explorer gui``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from PyQt6.QtCore import QTimer, pyqtSignal
from PyQt6.QtWidgets import QMainWindow, QMessageBox, QVBoxLayout, QWidget

import worlds
from explorer.model.errors import ModelError
from explorer.refine import RefinementError
from explorer.session import METHOD_NAMES, Session, Snapshot
from worlds.errors import InputError

from . import actions, layout
from .agent_controls import AgentControls
from .edit_controls import EditControls
from .files import APP_NAME, FileActions
from .findings_panel import FindingsLayer, FindingsPanel
from .flywheel_controls import FlywheelControls
from .flywheel_plot import FlywheelPlot
from .headline import Headline
from .history_panel import HistoryPanel
from .jobs import JobRunner
from .landscape_layer import LandscapeLayer
from .launch import fitting_size
from .panels import FlagPanel, ReadoutPanel, RefinePanel
from .policy_layer import PolicyLayer
from .view3d import FRAME_MS, JOB_FRAME_MS, LandscapeView


class MainWindow(QMainWindow):
    """``MainWindow(world, artifact=None, model=None, train=True, session_dir=None)``:
    the constructor never blocks; ``modelReady`` fires (and ``is_ready`` turns true)
    whenever a new model is shown, ``jobDone(kind)`` after every job,
    ``statusChanged(text)`` for every status message. The world and its expert
    data are drawn at once; a training fills the landscape in as it learns (or
    loads the trained default model from the user's cache: ``use_cache``)."""
    modelReady = pyqtSignal()
    jobDone = pyqtSignal(str)
    statusChanged = pyqtSignal(str)

    def __init__(self, world: str | worlds.World = "cube", artifact: str | None = None, model=None,
                 train: bool = True, session_dir: str | None = None, use_cache: bool = True):
        super().__init__()
        self.session = Session(world if isinstance(world, worlds.World) else worlds.load(world))
        self.session.autosave = True          # every edit is stored as it is made
        self.ask_on_close = True              # tests turn the unsaved-changes question off
        self.use_cache = use_cache
        self.is_ready = False
        self.presenter = False
        self.tour = None                      # the tour panel, while a tour is open
        self.last_status = ""
        self.last_warning: QMessageBox | None = None
        self._queued_refine = False
        self._closed = False
        self.jobs = JobRunner(self.session, self)
        self.files = FileActions(self)
        self._build_ui()
        self._bind()
        self.resize(*fitting_size(1480, 920))
        s = self.session
        if session_dir is not None and (Path(session_dir) / "session.json").exists():
            s.replace_with(Session.open(session_dir))
        elif artifact is not None:
            s.replace_with(Session.from_artifact(artifact))
        elif model is not None:
            s.reset(s.world, model)
        elif train:
            self.start_training()
        else:
            self.layer.show_world(s.world)
        if session_dir is not None and s.root is None:
            s.autosave_dir = Path(session_dir)     # a new directory: the first edit creates it there
        self._update_title()
        self._update_actions()                 # nothing to audit or apply before a model exists

    # ================================================================ building
    def _build_ui(self) -> None:
        s = self.session
        central = QWidget()
        col = QVBoxLayout(central)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        self.view = LandscapeView(central)
        self.headline = Headline(central)
        col.addWidget(self.view, 1)
        col.addWidget(self.headline)
        self.setCentralWidget(central)
        self.layer = LandscapeLayer(self.view, s, self)
        self.flag_panel, self.refine_panel, self.readouts = FlagPanel(), RefinePanel(), ReadoutPanel()
        self.findings_panel, self.history_panel, self.plot = FindingsPanel(), HistoryPanel(), FlywheelPlot()
        self.findings_layer = FindingsLayer(self.view, self)
        self.policy = PolicyLayer(self.view, s, busy=lambda: self.jobs.busy, parent=self)
        layout.build_side(self)
        self.flywheel = FlywheelControls(self)
        self.agents = AgentControls(self)
        actions.build(self)
        layout.build_status_bar(self)
        self._update_mode_label()
        self._status_timer = QTimer(self, singleShot=True)
        self._status_timer.timeout.connect(lambda: self.status_label.setText(self._persistent_status))
        self._persistent_status = ""
        # Progress text at most 4 times a second: every repaint of a widget also
        # recomposes the OpenGL view (costly on a software rasteriser during a job).
        self._progress_timer = QTimer(self, singleShot=True, interval=250)
        self._progress_timer.timeout.connect(self._show_progress)
        self._latest_snap: Snapshot | None = None

    def _bind(self) -> None:
        """Every part follows the session; the window reacts to what it must say."""
        s, ev = self.session, self.session.events
        for part in (self.flag_panel, self.refine_panel, self.readouts, self.findings_panel, self.history_panel,
                     self.headline):
            part.bind(s)
        self.findings_layer.bind(s, self.findings_panel)
        ev.reset.connect(self._on_reset)
        ev.message.connect(self.status)
        for sig in (ev.commands, ev.busy, ev.model, ev.triage, ev.versions, ev.flags):
            sig.connect(self._update_actions)
        for sig in (ev.model, ev.versions):
            sig.connect(self._update_title)
        ev.model.connect(lambda _m: self.policy.update())
        ev.versions.connect(self._plot_series)
        ev.model.connect(self._plot_series)
        self.layer.compareChanged.connect(self._on_compare_changed)
        self.layer.built.connect(lambda: (self.findings_layer.redraw(), self.policy.redraw()))
        self.policy.readoutChanged.connect(self.readouts.show_policy)
        self.flag_panel.selectionChanged.connect(lambda _fid: self._update_actions())
        self.refine_panel.refineRequested.connect(self.refine)
        self.refine_panel.stopRequested.connect(self.stop_job)
        self.jobs.snapshot.connect(self._on_snapshot)
        self.jobs.succeeded.connect(self._on_job_succeeded)
        self.jobs.failed.connect(self._on_job_failed)
        self.jobs.finished.connect(self._on_job_finished)
        self.edits = EditControls(self)

    def _on_reset(self) -> None:
        self.is_ready = self.session.ready
        actions.sync_world_combo(self)
        self._update_title()
        self._update_actions()
        self._plot_series()
        self.policy.update()
        if self.is_ready:
            self.modelReady.emit()
        if self.session.recovery:
            msg, self.session.recovery = self.session.recovery, None
            QTimer.singleShot(0, lambda: self._warn("Recovered an interrupted session", msg, info=True))

    # ================================================================ status
    def status(self, text: str, ms: int = 0, log: bool = True) -> None:
        """One line in the status bar (elided if long: the full text in its tooltip and
        in View > Message log); ``ms`` > 0: shown that long, then the last lasting one;
        ``log`` False: progress, not kept in the log."""
        self.last_status = text
        self.status_label.setText(text)
        if log:
            self.log.add(text)
        if ms > 0:
            self._status_timer.start(ms)
        else:
            self._persistent_status = text
            self._status_timer.stop()
        self.statusChanged.emit(text)

    def _warn(self, title: str, text: str, info: bool = False) -> None:
        """A message that does not block (the event loop and the view keep running)."""
        if self._closed:
            return
        print(f"explorer: {title}: {text}", file=sys.stderr)
        box = QMessageBox(QMessageBox.Icon.Information if info else QMessageBox.Icon.Warning, title, text,
                          QMessageBox.StandardButton.Ok, self)
        box.setModal(False)
        box.show()
        self.status(text)
        self.last_warning = box

    def _try(self, what: str, fn) -> bool:
        try:
            fn()
            return True
        except (RefinementError, InputError, KeyError, ValueError) as exc:
            self.status(f"Cannot {what}: {exc}")
            return False

    def _update_mode_label(self) -> None:
        on = self.act["flag_tool"].isChecked()
        self.mode_label.setText("Flag tool ON: click flags" if on else "Shift+click flags (F: flag tool)")
        self.mode_label.set_tip("Flag tool ON: a click places a flag, a drag rotates" if on else
                                   "A drag rotates; Shift+click places a flag; F turns the flag tool on")

    def _update_title(self, *_args) -> None:
        s = self.session
        self.setWindowTitle(f"{s.title()}[*] - {APP_NAME}")
        self.setWindowModified(s.dirty)
        root = s.root
        self.session_label.setText(f"session: {root.name}" if root else "session: not stored yet")
        self.session_label.set_tip(f"Session directory: {root}" if root else
                                   "The first edit stores the session (File > New session... chooses where)")

    def _update_actions(self, *_args) -> None:
        if not self._closed:
            actions.update(self)

    def _plot_series(self, *_args) -> None:
        s = self.session
        if s.ready:
            self.plot.set_series([(e.version, e.metrics) for e in s.versions.lineage(s.current)])

    def _on_compare_changed(self, mode: str) -> None:
        self.act[{"after": "show_after", "before": "show_before", "difference": "show_difference"}[mode]] \
            .setChecked(True)

    # ================================================================ the view
    def set_compare(self, mode: str) -> None:
        self.layer.set_compare(mode)

    def _on_reverse(self, on: bool) -> None:
        self.view.set_reverse(on)

    def _on_flag_tool(self, _on: bool) -> None:
        self._update_mode_label()

    def reset_camera(self) -> None:
        self.findings_layer.stop()            # a flight to a finding would undo the reset
        self.view.reset_camera()

    def top_view(self) -> None:
        self.findings_layer.stop()
        self.view.top_view()

    def sync_world_combo(self) -> None:
        actions.sync_world_combo(self)

    def set_presenter(self, on: bool) -> None:
        """Presenter mode (View > Presenter, F11, ``explorer gui --presenter``): see presenter.py."""
        from .presenter import set_presenter
        set_presenter(self, on)

    def open_tour(self, tour=None, autoplay: bool = False):
        """Help > Tour the Flywheel: the tour of this world (or ``tour``, a Tour or a
        tour file) in a panel under the view. Returns the panel."""
        from .tour_panel import open_tour
        return open_tour(self, tour, autoplay)

    # ================================================================ jobs
    def start_job(self, make, refused: str, world: worlds.World | None = None) -> bool:
        """Build a session job and run it in the worker; False (with the reason) if refused."""
        if not self.is_ready and refused != "Cannot train":
            return False
        if self.jobs.busy:
            self.status(f"{refused}: {METHOD_NAMES.get(self.jobs.kind, self.jobs.kind)} is running; wait for it "
                        "or press Stop")
            return False
        self.edits.commit_psi()
        try:
            job = make()
            self.jobs.start(job)
        except (RefinementError, InputError) as exc:
            self.status(f"{refused}: {exc}")
            return False
        self.layer.job_started(job.kind, world)
        # a software rasteriser shares the CPU with the job: fewer frames while it runs
        self.view.frame_ms = JOB_FRAME_MS if self.view.software_gl else FRAME_MS
        if job.kind == "train":
            self.headline.set_training((world or self.session.world).name)
        self.history_panel.select_version(None, emit=False)
        self.refine_panel.progress.setValue(0)
        self.status(f"{job.title}...")
        return True

    def start_training(self, world: worlds.World | None = None, cache: bool | None = None) -> None:
        """Train (in the background) on ``world`` (default: the session's); the trained
        default model comes from the user's cache when it holds one (``use_cache``)."""
        use = self.use_cache if cache is None else cache
        self.start_job(lambda: self.session.training_job(world=world, cache=use), "Cannot train", world)

    def train_again(self) -> None:
        """Model > Train: a fresh training, watched (never the cached model)."""
        if not self.jobs.busy and self.files.maybe_save("Train a new model"):
            self.start_training(cache=False)

    def refine(self) -> None:
        if not self.is_ready:
            return
        if self.jobs.busy and self.jobs.kind in ("local", "data"):
            self._queued_refine = True        # auto-refine: run again when this one ends
            self.status(f"A {METHOD_NAMES[self.jobs.kind]} refinement is running: the next refinement is "
                        "queued and starts when it ends (Stop cancels the running one)")
            return
        method = self.refine_panel.method_key()
        self.start_job(lambda: self.session.refine_job(method), "Cannot refine")

    def stop_job(self) -> None:
        if self.jobs.busy:
            self.jobs.stop()
            self.status(f"Stopping {METHOD_NAMES.get(self.jobs.kind, self.jobs.kind)}... (keeping the last "
                        "good state)")

    def _on_snapshot(self, snap: Snapshot) -> None:
        """Only the newest snapshot counts: values go to the view's next frame, text to
        the next progress tick (each widget repaint recomposes the GL window)."""
        if self._closed:
            return
        self._latest_snap = snap
        if not self._progress_timer.isActive():
            self._progress_timer.start()
        if snap.reward is not None:
            self.layer.show_progress(snap.reward)

    def _show_progress(self) -> None:
        snap, self._latest_snap = self._latest_snap, None
        job = self.jobs.job
        if snap is None or self._closed or job is None:
            return
        if snap.total:
            self.refine_panel.progress.setValue(int(100 * snap.step / snap.total))
        loss = f", loss {snap.loss:.2e}" if snap.loss == snap.loss else ""
        detail = f": {snap.message}" if snap.message and snap.stage != "train" else ""
        self.status(f"{job.title}: step {snap.step:,}/{snap.total:,}{loss}{detail}", log=False)

    def _on_job_succeeded(self, kind: str, outcome) -> None:
        if self._closed:
            return
        self.refine_panel.progress.setValue(100)
        if kind == "audit":
            self.flywheel.audit_done()
        elif getattr(outcome, "version", 0) is None and (kind == "cycle" or outcome.severe):
            self._warn("Version not released", outcome.message)

    def _on_job_failed(self, kind: str, exc: Exception) -> None:
        if self._closed:
            return
        name = METHOD_NAMES.get(kind, kind)
        if isinstance(exc, ModelError):
            # The job's result is broken (it would serve NaN or inf, or holds a degenerate
            # kernel): it never reached the session, so the version shown stays. Say so
            # where it cannot be missed, without blocking.
            self._warn(f"{name} rolled back",
                       f"{name}: rolled back, the result is not a finite reward model "
                       f"({' '.join(str(exc).split())}); v{self.session.current} stays")
        elif isinstance(exc, (RefinementError, InputError)):
            self.status(f"{name}: {exc}")
        else:
            # Not modal: the window (and a lecture) goes on; the line also goes to stderr.
            self._warn(f"{name} failed", f"{type(exc).__name__}: {exc}")

    def _on_job_finished(self, kind: str) -> None:
        if self._closed:
            return
        self._latest_snap = None
        self.view.frame_ms = FRAME_MS
        if kind == "train":
            self.headline.set_training("")
        self.layer.job_ended()
        if self.policy.deferred:
            self.policy.update()
        self._update_actions()
        self.jobDone.emit(kind)
        if self._queued_refine and kind != "train":
            self._queued_refine = False
            self.refine()

    # ================================================================ closing
    def closeEvent(self, ev) -> None:  # noqa: N802
        if not self._closed and not self.files.stop_job_to_close():
            ev.ignore()
            return
        if not self._closed and not self.files.maybe_save("Quit"):
            ev.ignore()
            return
        self.shutdown()
        ev.accept()

    def shutdown(self) -> None:
        """Stop the job, the timers and the plotter; fold the journal in (idempotent)."""
        if self._closed:
            return
        if self.presenter:
            self.set_presenter(False)         # the application font is shared: give it back
        self._closed = True
        self.jobs.wait(10.0)
        self.policy.wait(10_000)
        self.session.close()
        self.findings_layer.stop()
        for t in (self.edits.psi_timer, self.edits.psi_commit_timer, self._progress_timer, self._status_timer):
            t.stop()
        if self.tour is not None:
            self.tour.shutdown()
        self.view.stop()
        self.view.plotter.close()
