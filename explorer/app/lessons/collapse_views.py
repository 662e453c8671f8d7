"""The collapse lesson's 3D views: one arm each, its reward model's landscape at a
round (written into the mesh in place) and the path of its policy's mean so far.

Before a run a view already shows the world (terrain or box, goals, hazards) and the
policy's start, with a line saying what will appear; a run's first numbers replace
that with the landscape, and later numbers only rewrite scalars and the path.
"""
from __future__ import annotations

import numpy as np
import pyvista as pv
from PyQt6.QtCore import QSize, Qt
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget
from pyvistaqt import QtInteractor

from explorer.lessons.collapse_live import ARM_NAMES, ArmRun
from explorer.viz import scene as sc

from ..plots import plot_sizes
from . import scenery
from .collapse_plot import ARM_COLOURS, UTILITY_MAX

SHOWN_FRACTION = 0.15        # a volume shows the RM's top 15% cells at each round


class ArmView(QWidget):
    """One arm: ``show_world`` before a run, ``show_run`` as its numbers arrive,
    ``set_round`` for the slider."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel()               # rich text, no style sheet: the window's font reaches it
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.plotter = QtInteractor(self, auto_update=False)
        self.plotter.set_background("white")
        self.plotter.clear_events_for_key("q")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.title)
        lay.addWidget(self.plotter, 1)
        self.scene: sc.Scene | None = None
        self.world = None
        self.arm: str | None = None
        self.run: ArmRun | None = None
        self.path_mesh: pv.PolyData | None = None
        self.round = 0
        self.index = 0
        self.presenter = False
        self.caption = ""
        self._shown: tuple | None = None     # what show_run drew last (skip redrawing the same)
        self.setMinimumSize(QSize(240, 180))

    # ------------------------------------------------------------ before a run
    def show_world(self, world, arm: str, caption: str) -> None:
        """The world and the start, no reward model yet (and ``caption`` says why)."""
        from explorer.lessons.collapse_world import start_position
        self.plotter.clear()
        self.world, self.arm, self.run, self.scene, self.path_mesh = world, arm, None, None, None
        self._title(arm)
        scenery.ground(self.plotter, world)
        self._overlays(world)
        self._start_ball(np.asarray(world.to_state(start_position(world)[None, :])[0], float))
        self.set_caption(caption)
        self._camera(world)
        self.plotter.update()          # one render, in the paint (an explicit render would be a second)

    # ------------------------------------------------------------ a run
    def show_run(self, world, run: ArmRun, index: int | None = None) -> None:
        """Draw ``run`` (partial or complete) at snapshot ``index`` (its latest if None);
        the scene is built once per world and arm, then written in place."""
        if run.landscapes is None or not len(run.landscapes):
            return
        index = len(run.landscape_rounds) - 1 if index is None else index
        key = (len(run.landscape_rounds), len(run.positions), index)
        if self.scene is None or self.world is not world or self.arm != run.arm:
            self._build(world, run)
        elif key == self._shown:
            self.run = run               # the later seeds change the plot's mean, not seed 0's view
            return
        self.run = run
        self.set_round(index)

    def _build(self, world, run: ArmRun) -> None:
        self.plotter.clear()
        self.world, self.arm, self.run = world, run.arm, run
        self.caption = ""
        self._title(run.arm)
        points = world.grid().points
        mesh = sc.landscape_mesh(world, points, self._values(run, 0))
        lut = pv.LookupTable(cmap="viridis_r")
        lut.scalar_range = (0.0, UTILITY_MAX)
        lut.SetNanColor(1.0, 1.0, 1.0, 0.0)          # a volume's hidden cells
        fs = plot_sizes(self.presenter).font_pt
        bar = {"title": "RM reward", "n_labels": 3, "fmt": "%.0f",
               "vertical": True, "position_x": 0.86, "position_y": 0.08,
               "width": 0.06, "height": 0.55, "color": "black", "title_font_size": int(fs * 1.3),
               "label_font_size": int(fs * 1.3), "unconstrained_font_size": True, "interactive": False}
        if world.is_terrain:
            actor = self.plotter.add_mesh(mesh, scalars="reward", cmap=lut, clim=(0.0, UTILITY_MAX),
                                          scalar_bar_args=bar, smooth_shading=True, name="landscape",
                                          pickable=False, render=False)
        else:
            actor = self.plotter.add_mesh(mesh, scalars="reward", cmap=lut, clim=(0.0, UTILITY_MAX),
                                          render_points_as_spheres=True,
                                          point_size=max(3.0, 110.0 / world.resolution), opacity=0.55,
                                          nan_opacity=0.0, scalar_bar_args=bar, name="landscape",
                                          pickable=False, render=False)
        self.scene = sc.Scene(world, mesh, actor)
        if not world.is_terrain:
            scenery.ground(self.plotter, world)
        self._overlays(world)
        self.path_mesh = None
        self.round = -1
        self._camera(world)

    def _values(self, run: ArmRun, index: int) -> np.ndarray:
        """Snapshot ``index``; a volume hides all but its top cells (NaN)."""
        v = np.asarray(run.landscapes[index], np.float32).copy()
        if not self.world.is_terrain:
            v[v < np.quantile(v, 1.0 - SHOWN_FRACTION)] = np.nan
        return v

    def set_round(self, index: int) -> None:
        """Show snapshot ``index``: the landscape in place, the path up to its round."""
        if self.scene is None or self.run is None:
            return
        index = int(np.clip(index, 0, len(self.run.landscape_rounds) - 1))
        self.index = index
        self._shown = (len(self.run.landscape_rounds), len(self.run.positions), index)
        sc.update_reward(self.scene, self._values(self.run, index))
        self.round = int(self.run.landscape_rounds[index])
        pts = np.asarray(self.run.positions[: self.round + 1], float)
        if self.world.is_terrain:
            pts = pts + [0, 0, 0.03 * scenery.span(self.world)]
        if len(pts) < 2:
            pts = np.vstack([pts, pts + 1e-6])
        self.path_mesh = pv.lines_from_points(pts)
        span = scenery.span(self.world)
        self.plotter.add_mesh(self.path_mesh, color="black", line_width=8 if self.presenter else 5, name="path",
                              pickable=False, reset_camera=False, render=False)
        self._start_ball(pts[0])
        self.plotter.add_mesh(pv.Sphere(radius=0.035 * span, center=pts[-1]), color="red",
                              name="path_now", pickable=False, reset_camera=False, render=False)
        self.plotter.update()          # one render, in the paint (an explicit render would be a second)

    # ------------------------------------------------------------ pieces
    def _camera(self, world) -> None:
        sc.default_camera(self.plotter, world)
        # the default fits the world's height; these views are wide and short, so the
        # world can fill more of them (zoomed in by the view's aspect, at most 1.4x)
        aspect = self.plotter.width() / max(1, self.plotter.height())
        self.plotter.camera.zoom(float(np.clip(aspect / 1.8, 1.0, 1.4)))

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if self.scene is None and self.world is not None:
            self._camera(self.world)                # before a run: frame the world for the new shape
            self.plotter.update()

    def _title(self, arm: str) -> None:
        note = f" <span style='color:#606060'>&ndash; {self.caption}</span>" if self.caption else ""
        self.title.setText(f"<b style='color:{ARM_COLOURS[arm]}'>{ARM_NAMES[arm]}</b>{note}")

    def _overlays(self, world) -> None:
        from explorer.lessons.collapse_world import start_position
        scenery.regions(self.plotter, world, self.presenter)
        start = world.to_state(start_position(world)[None, :])[0]
        goals = [scenery.centre(world, g) for g in world.goals]
        scenery.labels(self.plotter, [start] + goals, ["start"] + ["goal"] * len(goals), self.presenter)

    def _start_ball(self, at: np.ndarray) -> None:
        self.plotter.add_mesh(pv.Sphere(radius=0.03 * scenery.span(self.world), center=at), color="#9a9a9a",
                              name="path_start", pickable=False, reset_camera=False, render=False)

    def set_caption(self, text: str) -> None:
        """What a view without a landscape is waiting for, after the arm's name in its title
        (a Qt label: it follows the presenter font and never covers the world)."""
        self.caption = text
        if self.arm is not None:
            self._title(self.arm)

    def set_presenter(self, on: bool) -> None:
        """Thicker path, bigger legend and caption (the title follows the window font)."""
        self.presenter = bool(on)
        if self.scene is not None and self.run is not None:
            world, run, index = self.world, self.run, self.index
            self.scene = None
            self.show_run(world, run, index)
        elif self.world is not None and self.arm is not None:
            self.show_world(self.world, self.arm, self.caption)

    def close_view(self) -> None:
        self.plotter.close()
