"""The guided tour in the window: a panel under the 3D view with the step's title,
its two or three sentences (with the session's live numbers), what the step's
actions did, and Back / Next / Restart; the control the step is about is
outlined in orange.

The tour itself is data (``explorer.tour``): this panel runs a step's actions
through the window's job runner (so training and refinements stay live and the
event loop never blocks), sets the view the step asks for (camera, compare
mode, overlays, a policy before and after), and goes Back through the
session's undo history. With ``autoplay`` it moves on by itself once a step has
settled, and with ``export_dir`` it saves one PNG of the window per step and a
manifest.json (title, text, png), i.e. slides for a lecture.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QApplication, QDockWidget, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from explorer.tour import Tour, TourRun, resolve
from explorer.tour import text as tour_text
from explorer.tour.policy import compare as compare_policies

from .tour_targets import grab_window, target as _target

HIGHLIGHT = "#ff7f0e"          # the orange outline of the control a step is about
SETTLE_MS = 700            # autoplay: let the last frames and a camera flight finish


def open_tour(window, tour=None, autoplay: bool = False) -> TourPanel:
    """Open (or restart) the tour panel of ``window``; ``tour``: a Tour, a world name
    or a tour file (default: the tour of the window's world, else cube's)."""
    if not isinstance(tour, Tour):
        from explorer.tour import available
        name = tour or (window.session.world.name if window.session.world.name in available() else "cube")
        tour = resolve(name)
    if window.tour is not None:
        window.tour.shutdown()
        window.removeDockWidget(window.tour)
        window.tour.deleteLater()
    panel = TourPanel(window, tour, autoplay)
    window.tour = panel
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, panel)
    panel.show()
    QTimer.singleShot(0, panel.next)
    return panel


class TourPanel(QDockWidget):
    stepShown = pyqtSignal(int)          # a step is entered and settled (its actions done)
    finished = pyqtSignal()              # autoplay reached the end (and exported)

    def __init__(self, window, tour: Tour, autoplay: bool = False):
        super().__init__(f"Tour: {tour.title}", window)
        self.setObjectName("tour")
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.w = window
        self.tour = tour
        self.run = TourRun(tour, window.session)
        self.autoplay = autoplay
        self.export_dir: Path | None = None
        self.exported: list[dict] = []
        self.timings: list[float] = []
        self.busy = False
        self.actions_seconds = 0.0
        self.pair = None
        self._gen = None
        self._t0 = 0.0
        self._target = None
        self._target_style = ""
        self._opened_dock = False
        self._closed = False
        body = QWidget()
        body.setObjectName("tourBody")
        body.setStyleSheet("#tourBody { background: #fbf7ef; border-top: 2px solid #ff7f0e; }")
        self.counter = QLabel()
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.back_button = QPushButton("Back")
        self.back_button.setToolTip("Go back one step: what the step did is undone (Edit > Undo, step by step)")
        self.next_button = QPushButton("Next")
        self.next_button.setToolTip("The next step (its actions run in the background; the view stays live)")
        self.restart_button = QPushButton("Restart")
        self.restart_button.setToolTip("Back to the first step, every edit of the tour undone")
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("End the tour (the session keeps what the tour did; Edit > Undo reverts it)")
        for b in (self.back_button, self.next_button, self.restart_button, self.close_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)        # Space in the 3D view never presses them
        self.back_button.clicked.connect(self.back)
        self.next_button.clicked.connect(self.next)
        self.restart_button.clicked.connect(self.restart)
        self.close_button.clicked.connect(self.close)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.counter)
        for b in (self.restart_button, self.back_button, self.next_button, self.close_button):
            head.addWidget(b)
        words = QVBoxLayout(body)
        words.setContentsMargins(10, 4, 10, 6)
        words.setSpacing(2)
        words.addLayout(head)
        words.addWidget(self.text)
        words.addWidget(self.notes)
        self.setTitleBarWidget(QWidget())                  # the panel says what it is; no title bar
        self.setWidget(body)
        self.set_presenter(window.presenter)
        self.w.jobs.succeeded.connect(self._on_job_succeeded)
        self.w.jobs.failed.connect(self._on_job_failed)
        self._update_buttons()

    # ------------------------------------------------------------------ moving
    def next(self) -> None:
        if self.busy or self._closed:
            return
        i = self.run.index + 1
        if i >= len(self.run):
            return
        self._enter(i)

    def back(self) -> None:
        if self.busy or self.run.index <= 0:
            return
        self._t0 = time.perf_counter()
        self.run.back()
        self._show_step()
        self._settled()

    def restart(self) -> None:
        if self.busy:
            return
        self.run.restart()
        self.exported.clear()
        self._enter(0)

    def _enter(self, i: int) -> None:
        self._t0 = time.perf_counter()
        self.busy = True
        self._update_buttons()
        self.run.index = i
        self._show_step(before_actions=True)
        self._gen = self.run.enter(i)
        self._advance(None)

    def _advance(self, outcome) -> None:
        """Run the step's actions: a job goes to the window's worker; the step goes on
        when that job's result is in (``_on_job_succeeded``)."""
        try:
            job = self._gen.send(outcome)          # the first call sends None: a fresh generator
        except StopIteration:
            self._gen = None
            self._show_step()
            self._settled()
            return
        except Exception as exc:  # noqa: BLE001 -- a refused action is said, the tour stays usable
            self._gen = None
            self.notes.setText(f"This step could not run: {exc}")
            self.w.status(f"Tour: {exc}")
            self.busy = False
            self._update_buttons()
            return
        self._job_pending = job.kind
        refused = "Cannot train" if job.kind == "train" else f"Tour: cannot {job.kind}"
        if not self.w.start_job(lambda: job, refused, self.run.job_world if job.kind == "train" else None):
            self._gen = None
            self.busy = False
            self.notes.setText(self.w.last_status)
            self._update_buttons()

    def _on_job_succeeded(self, kind: str, outcome) -> None:
        if self._gen is not None and kind == getattr(self, "_job_pending", None):
            self._job_pending = None
            QTimer.singleShot(0, lambda: self._advance(outcome))

    def _on_job_failed(self, kind: str, exc) -> None:
        if self._gen is not None and kind == getattr(self, "_job_pending", None):
            self._gen = None
            self._job_pending = None
            self.busy = False
            self.notes.setText(f"{kind} failed: {exc}")
            self._update_buttons()

    def _settled(self) -> None:
        """The step's actions are done: let frames land, then (autoplay) move on."""
        self.actions_seconds = time.perf_counter() - self._t0
        self.busy = False
        self._update_buttons()
        step = self.run.step
        hold = SETTLE_MS + int(1000 * (step.wait if step is not None else 0))
        QTimer.singleShot(hold if self.autoplay else 50, self._after_settle)

    def _after_settle(self) -> None:
        if self._closed:
            return
        self.w.view.render_now()
        QApplication.processEvents()
        self.timings.append(time.perf_counter() - self._t0)
        index = self.run.index
        if self.export_dir is not None and index >= 0:
            self._export(index)
        self.stepShown.emit(index)
        if self.autoplay:
            if index + 1 < len(self.run):
                self.next()
            else:
                self._write_manifest()
                self.finished.emit()

    # ------------------------------------------------------------------ showing
    def _show_step(self, before_actions: bool = False) -> None:
        step = self.run.step
        if step is None:
            return
        w = self.w
        self.counter.setText(f"step {self.run.index + 1} of {len(self.run)}")
        self.title.setText(step.title)
        if not before_actions:
            self._apply_view(step)
        self.pair = self._policy_pair(step) if not before_actions and step.policy == "compare" else None
        self.text.setText(tour_text.fill(step.text, w.session, self.run, self.pair))
        notes = tour_text.values(w.session, self.run)["notes"]
        said = "notes" in tour_text.names_in(step.text)            # the text tells it already
        self.notes.setText("Working..." if before_actions and step.do else
                           ("" if notes == "-" or said else f"Done: {notes}"))
        # presenter mode: the status bar says it already; the room goes to the view
        self.notes.setVisible(bool(self.notes.text()) and not w.presenter)
        self._highlight(step.highlight)
        self._update_buttons()

    def _apply_view(self, step) -> None:
        w = self.w
        for key, on in step.overlays.items():
            act = w.overlay_actions.get(key)
            if act is not None and act.isChecked() != on:
                act.setChecked(on)
        if self.run.index == 0 and not step.do and w.session.world.name == self.tour.world \
                and not w.jobs.busy and w.view.has_model and not self.run.trained:
            w.layer.show_world(w.session.world)              # step 1: the world, before any model
        elif w.session.ready and w.view.world is not w.session.world or (w.session.ready and not w.view.has_model):
            w.layer.rebuild(reset_camera=False)
        if w.session.ready:
            if step.compare != "after" and w.session.reference_version is None:
                w.layer.set_compare("after")
            else:
                w.layer.set_compare(step.compare)
        if step.tab:
            w.tabs.setCurrentIndex({"refine": 0, "flywheel": 1}[step.tab])
        self._camera(step.camera)
        if step.policy in ("value", "gradient"):
            w.policy.show_reference(None)
            w.edits.set_policy(step.policy)
        elif step.policy == "off":
            w.policy.show_reference(None)
            w.edits.set_policy("off")

    def _policy_pair(self, step):
        w = self.w
        if not w.session.ready:
            return None
        w.edits.set_policy("off")
        pair = compare_policies(w.session)
        if pair is not None:
            combo = w.policy_combo
            combo.blockSignals(True)                 # the toolbar names the policy drawn
            combo.setCurrentIndex(combo.findData(pair.kind))
            combo.blockSignals(False)
            w.policy.mode = pair.kind
            w.policy.show_readouts(pair.after, pair.before, pair.before_spurious)
        return pair

    def _camera(self, camera: str) -> None:
        w = self.w
        if camera == "keep" or w.view.world is None:
            return
        if camera == "default":
            w.reset_camera()
        elif camera == "top":
            w.top_view()
        elif camera == "spurious" and w.session.ready:
            r = w.session.reward()
            land = w.session.land
            strong = land.flaw_mask(r) & (r >= 0.5)
            cells = land.points[strong] if strong.any() else land.points[land.flaw_mask(r)]
            w.reset_camera()
            if len(cells):
                # Between the world's centre and the spurious region: both stay in view.
                centre = (np.asarray(w.session.world.bounds_min) + np.asarray(w.session.world.bounds_max)) / 2
                w.findings_layer.fly_to(0.5 * centre + 0.5 * cells.mean(axis=0))
        elif camera == "basin" and w.session.ready:
            w.reset_camera()
            w.findings_layer.fly_to(w.session.world.expert_samples().mean(axis=0))
        elif camera.startswith("region:") and w.session.triage is not None:
            regions = w.session.triage.regions
            n = int(camera.split(":", 1)[1])
            if n <= len(regions):
                w.findings_panel.select_cluster(regions[n - 1].cluster)

    # ------------------------------------------------------------------ highlighting
    def _highlight(self, key: str) -> None:
        self._unhighlight()
        w = self.w
        target, tab = _target(w, key)
        if tab is not None:
            w.tabs.setCurrentIndex(tab)
        if tab is not None and not w.dock.isVisible():
            w.dock.setVisible(True)                # the control lives in the folded side panel
            self._opened_dock = True
        elif tab is None and self._opened_dock and w.presenter:
            w.dock.setVisible(False)
            self._opened_dock = False
        if target is None:
            return
        self._target = target
        if target is w.view:
            w.view.set_highlight(HIGHLIGHT)
            return
        self._target_style = target.styleSheet()
        name = target.objectName() or "tourTarget"
        target.setObjectName(name)
        target.setStyleSheet(self._target_style + f"#{name} {{ border: 3px solid {HIGHLIGHT}; "
                                                  "border-radius: 4px; }")
        if hasattr(w, "side_scroll") and w.side_scroll.isAncestorOf(target):
            w.side_scroll.ensureWidgetVisible(target)

    def _unhighlight(self) -> None:
        t, self._target = self._target, None
        if t is None:
            return
        if t is self.w.view:
            self.w.view.set_highlight(None)
        else:
            t.setStyleSheet(self._target_style)

    def highlighted(self):
        return self._target

    # ------------------------------------------------------------------ export
    def _export(self, index: int) -> None:
        out = Path(self.export_dir)
        out.mkdir(parents=True, exist_ok=True)
        name = f"step-{index + 1:02d}.png"
        grab_window(self.w).save(str(out / name))
        entry = {"step": index + 1, "title": self.title.text(), "text": self.text.text(), "png": name,
                 "actions_seconds": round(self.actions_seconds, 2), "seconds": round(self.timings[-1], 2)}
        self.exported = [e for e in self.exported if e["step"] != index + 1] + [entry]

    def _write_manifest(self) -> None:
        if self.export_dir is None:
            return
        data = {"tour": self.tour.title, "world": self.tour.world,
                "steps": sorted(self.exported, key=lambda e: e["step"])}
        (Path(self.export_dir) / "manifest.json").write_text(json.dumps(data, indent=2), encoding="utf-8")

    # ------------------------------------------------------------------ misc
    def _update_buttons(self) -> None:
        i = self.run.index
        self.back_button.setEnabled(not self.busy and i > 0)
        self.next_button.setEnabled(not self.busy and i + 1 < len(self.run))
        self.restart_button.setEnabled(not self.busy and i >= 0)
        self.next_button.setText("Working..." if self.busy else ("Next" if i + 1 < len(self.run) else "The end"))

    def set_presenter(self, on: bool) -> None:
        title, body = (22, 18) if on else (14, 11)
        self.title.setStyleSheet(f"font-weight: bold; font-size: {title}pt;")
        self.text.setStyleSheet(f"font-size: {body}pt;")
        self.notes.setStyleSheet(f"color: #555555; font-size: {body - 2 if on else body - 1}pt;")
        self.counter.setStyleSheet("color: #777777;")

    def closeEvent(self, ev) -> None:
        self.shutdown()
        super().closeEvent(ev)

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._unhighlight()
        self._gen = None
        w = self.w
        if not w._closed and w.session.ready and not w.jobs.busy and \
                (not w.view.has_model or w.view.world is not w.session.world):
            w.layer.rebuild(reset_camera=False)       # step 1 showed the world alone: the model again
        try:
            self.w.jobs.succeeded.disconnect(self._on_job_succeeded)
            self.w.jobs.failed.disconnect(self._on_job_failed)
        except TypeError:
            pass
        if self.w.tour is self:
            self.w.tour = None
