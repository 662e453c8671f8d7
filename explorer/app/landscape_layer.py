"""The 3D view's side of the session: the landscape, the flags, Before / Now /
Difference, a stored version being looked at, live previews and job progress.

It subscribes to the session's events and draws; it changes nothing in the
session. What it keeps is only how to look (the compare mode and the version
being previewed), never what the model is.
"""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from explorer.viz.scene import difference_values

COMPARE = ("after", "before", "difference")


class LandscapeLayer(QObject):
    compareChanged = pyqtSignal(str)
    built = pyqtSignal()

    def __init__(self, view, session, parent: QObject | None = None):
        super().__init__(parent)
        self.view = view
        self.session = session
        self.compare = "after"
        self.viewing: int | None = None          # a stored version previewed from History
        self._job_base: np.ndarray | None = None
        self._job_kind = ""
        ev = session.events
        ev.reset.connect(self.rebuild)
        ev.model.connect(lambda _m: self._leave_version_view() or self.redraw())
        ev.flags.connect(lambda flags: self.view.set_flags(flags))
        ev.reference.connect(lambda _v: self.redraw())
        ev.preview.connect(self._on_preview)

    @property
    def ready(self) -> bool:
        return self.session.ready and self.view.scene is not None

    def rebuild(self, reset_camera: bool = True) -> None:
        s = self.session
        if not s.ready:
            return
        self.compare, self.viewing = "after", None
        if self._job_kind == "train" and self.view.world is s.world and self.view.scene is not None \
                and self.view.points is not None and len(self.view.points) == len(s.land.points):
            # A training drew this world live: its scene stays (and the camera the person
            # has been turning); only the values, the norms and the flags are new.
            self.view.violates = s.land.violates
            self.view.has_model = True
            self.view.set_flags(s.flags)
            self.view.show_values(s.reward(), "reward", s.reference_reward())
        else:
            self.view.build(s.world, s.land.points, s.reward(), s.flags, reset_camera=reset_camera,
                            violates=s.land.violates, before=s.reference_reward())
        self.compareChanged.emit(self.compare)
        self.built.emit()

    def show_world(self, world) -> None:
        """The world and its expert data, before any model (a training then fills in
        the landscape as it forms)."""
        self.view.build(world, world.grid().points, None, self.session.flags if world is self.session.world
                        else (), violates=None)
        self.built.emit()

    # ---- what to show ----------------------------------------------------------
    def values(self, reward: np.ndarray | None = None, base: np.ndarray | None = None):
        """(values, colouring, reference) for the compare mode: now, before, or now -
        before; the reference is what ghosted cells are measured from (None: none)."""
        s = self.session
        if reward is None and self.viewing is not None and self.compare == "after":
            return s.versions.reward(self.viewing, s.land), "reward", None
        now = s.reward() if reward is None else reward
        before = s.reference_reward() if base is None else base
        if self.compare == "before" and before is not None:
            return before, "reward", None
        if self.compare == "difference" and before is not None:
            return difference_values(s.world, before, now), "difference", None
        return now, "reward", before

    def redraw(self) -> None:
        if self.ready:
            self.view.show_values(*self.values())

    def set_compare(self, mode: str) -> None:
        if mode not in COMPARE:
            raise ValueError(f"compare mode must be one of {COMPARE}")
        if self.session.reference_reward() is None:
            mode = "after"
        if mode != "after":
            self.viewing = None          # Before/Difference compare with the current version
        self.compare = mode
        self.compareChanged.emit(mode)
        self.redraw()

    def view_version(self, version: int | None) -> None:
        """Show a stored version's landscape (the current version stays current)."""
        self.viewing = None if version is None or version == self.session.current else int(version)
        if self.compare != "after":
            self.compare = "after"
            self.compareChanged.emit("after")
        self.redraw()

    def _leave_version_view(self) -> None:
        self.viewing = None

    # ---- live values -----------------------------------------------------------------
    def _on_preview(self, reward) -> None:
        if not self.ready:
            return
        if reward is None:
            self.redraw()
        else:
            self.view.show_values(*self.values(reward))

    def job_started(self, kind: str = "", world=None) -> None:
        """Remember what the landscape was, so progress can be shown against it; a
        training of another world (or the first one) draws that world at once."""
        self._job_kind = kind
        if kind == "train":
            world = world or self.session.world
            if not self.session.ready or world is not self.session.world or self.view.world is not world:
                self.show_world(world)
            self._job_base = None
            return
        if self.ready:
            self._job_base = self.session.reward().copy()
            self.viewing = None
            if self.compare == "before":
                self.set_compare("after")

    def show_progress(self, reward: np.ndarray) -> None:
        if self._job_kind == "train":
            if self.view.scene is not None and len(reward) == len(self.view.points):
                self.view.has_model = True
                self.view.show_values(reward, "reward")
            return
        if self.ready:
            self.view.show_values(*self.values(reward, self._job_base))

    def job_ended(self) -> None:
        self._job_base = None
        kind, self._job_kind = self._job_kind, ""
        if kind == "train" and not self.session.ready:
            return                      # stopped before the first model: the world stays drawn
        if kind == "train" and self.view.world is not self.session.world:
            self.rebuild()              # a stopped training of another world: back to this one
            return
        self.redraw()
