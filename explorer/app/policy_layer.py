"""A policy that consumes the reward, drawn over the landscape.

Off, value iteration (on the landscape grid, fast: computed in the GUI thread,
which owns the landscape) or gradient ascent (continuous hill climbing on the
served reward, a few hundred model calls: computed in a worker thread on the
immutable model of that moment). The path, its start and its end are drawn
unpickable; the outcome and the runtime gate's verdict go to the readouts.
"""
from __future__ import annotations

import time

import numpy as np
import pyvista as pv
import torch
from PyQt6.QtCore import QObject, pyqtSignal
from superqt.utils import create_worker

from explorer.policy.policies import POLICY_NAMES, PolicyReadout, default_policy_start, run_policy

MODES = ("off", "value", "gradient")
MODE_NAMES = {"off": "policy: off", **{k: f"policy: {v}" for k, v in POLICY_NAMES.items()}}
OUTCOME_COLOUR = {"goal": "#1a9850", "basin": "#2c7bb6", "spurious": "#d7191c", "elsewhere": "#ff7f00"}
NAMES = ("policy_path", "policy_start", "policy_end", "policy_ref_path", "policy_ref_end", "policy_ref_spurious")


def _gradient(model, world, start) -> PolicyReadout:
    torch.set_num_threads(1)
    return run_policy("gradient", model, world, None, start)


class PolicyLayer(QObject):
    readoutChanged = pyqtSignal(object)          # PolicyReadout or None (off)

    def __init__(self, view, session, busy=lambda: False, parent: QObject | None = None):
        super().__init__(parent)
        self.view = view
        self.session = session
        self.busy_job = busy                  # a job reads the landscape: roll out after it
        self.deferred = False
        self.mode = "off"
        self.readout: PolicyReadout | None = None
        self._worker = None
        self._token = 0
        self._stale = False
        self.scale = 1.0                  # presenter mode: a thicker path
        self.reference: PolicyReadout | None = None    # a second path (a tour's "before")
        self.reference_spurious: np.ndarray | None = None

    def set_scale(self, scale: float) -> None:
        self.scale = scale
        self.redraw()

    def show_readouts(self, current: PolicyReadout | None, reference: PolicyReadout | None,
                      spurious: np.ndarray | None = None) -> None:
        """Draw given rollouts (a tour's policy before and after) until the next update;
        ``spurious``: the reference path's states that collected spurious reward (red dots)."""
        self._token += 1
        self.reference = reference
        self.reference_spurious = spurious
        self._show(current)

    def show_reference(self, readout: PolicyReadout | None) -> None:
        """Also draw another rollout (e.g. the same policy on the version before), dashed grey."""
        self.reference = readout
        self.redraw()

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"policy mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.update()

    def update(self) -> None:
        """Roll the policy out again on the session's current model (call after every change)."""
        self._token += 1
        self.reference = None                 # a rollout of another version no longer applies
        self.reference_spurious = None
        s = self.session
        if self.mode == "off" or not s.ready:
            self._show(None)
            return
        if self.mode == "value":
            if self.busy_job():
                self.deferred = True           # the worker reads the landscape right now
                return
            self.deferred = False
            self._show(s.policy_readout("value"))
            return
        if self._worker is not None:
            self._stale = True                 # run again with the newest model when this one ends
            return
        token = self._token
        worker = create_worker(_gradient, s.model, s.world, default_policy_start(s.land), _start_thread=False)
        worker.returned.connect(lambda r, t=token: self._on_gradient(r, t))
        worker.errored.connect(lambda _e, t=token: self._on_gradient(None, t))
        worker.finished.connect(self._on_worker_finished)
        self._worker = worker
        worker.start()

    def _on_gradient(self, readout, token: int) -> None:
        if token == self._token and self.mode == "gradient":
            self._show(readout)

    def _on_worker_finished(self) -> None:
        self._worker = None
        if self._stale:
            self._stale = False
            self.update()

    def wait(self, timeout_ms: int = 10_000) -> None:
        """Let a running gradient rollout finish (closing the window)."""
        if self._worker is not None:
            self._stale = False
            deadline = time.perf_counter() + timeout_ms / 1000
            while self._worker is not None and self._worker.is_running and time.perf_counter() < deadline:
                time.sleep(0.01)

    # ---- drawing ------------------------------------------------------------
    def _show(self, readout: PolicyReadout | None) -> None:
        self.readout = readout
        self.redraw()
        self.readoutChanged.emit(readout)

    def redraw(self) -> None:
        """Draw the path again (also after the view rebuilt its scene)."""
        plotter = self.view.plotter
        for name in NAMES:
            plotter.remove_actor(name, render=False)
        world = self.view.world
        if world is None:
            self.view.request_render()
            return
        k = self.scale
        lift = np.array([0, 0, 0.03 * float(np.max(world.bounds_max - world.bounds_min))]) \
            if world.is_terrain else np.zeros(3)
        ref = self.reference
        if ref is not None:
            path = np.asarray(ref.rollout.path, float) + lift * 1.2
            colour = OUTCOME_COLOUR.get(ref.rollout.outcome, "#ff7f00")
            if len(path) >= 2:
                plotter.add_mesh(pv.lines_from_points(path), color=colour, line_width=4 * k, opacity=0.55,
                                 pickable=False, name="policy_ref_path", reset_camera=False, render=False)
            plotter.add_mesh(pv.PolyData(path[-1:]), color=colour, point_size=16 * k, opacity=0.55,
                             render_points_as_spheres=True, pickable=False, name="policy_ref_end",
                             reset_camera=False, render=False)
            mask = self.reference_spurious
            if mask is not None and len(mask) == len(path) and mask.any():
                plotter.add_mesh(pv.PolyData(path[mask]), color="#e31a1c", point_size=13 * k,
                                 render_points_as_spheres=True, pickable=False, name="policy_ref_spurious",
                                 reset_camera=False, render=False)
        r = self.readout
        if r is None:
            self.view.request_render()
            return
        path = np.asarray(r.rollout.path, float) + lift
        colour = OUTCOME_COLOUR.get(r.rollout.outcome, "#ff7f00")
        if len(path) >= 2:
            plotter.add_mesh(pv.lines_from_points(path), color=colour, line_width=6 * k, pickable=False,
                             name="policy_path", reset_camera=False, render=False)
        plotter.add_mesh(pv.PolyData(path[:1]), color="white", point_size=16 * k, render_points_as_spheres=True,
                         pickable=False, name="policy_start", reset_camera=False, render=False)
        plotter.add_mesh(pv.PolyData(path[-1:]), color=colour, point_size=20 * k, render_points_as_spheres=True,
                         pickable=False, name="policy_end", reset_camera=False, render=False)
        self.view.request_render()
