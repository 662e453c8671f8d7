"""The AfD lesson's 3D view: the world with the picked reward model's served reward
(written into the mesh in place when another model is picked), a few demonstrations
(black, zig-zag), the N SFT routes Best-of-N chooses from (light grey, at most
``MAX_CANDIDATES`` of them, so the view is not a tangle) and the route it keeps (red).

Before a run it shows the world and its expert routes; once the demonstrations exist,
the routes; each reward model's landscape as soon as that model is fitted.
"""
from __future__ import annotations

import numpy as np
import pyvista as pv
from PyQt6.QtCore import QSize
from PyQt6.QtWidgets import QVBoxLayout, QWidget
from pyvistaqt import QtInteractor

from explorer.viz import scene as sc

from ..plots import plot_sizes, vtk_text_size
from . import scenery

MAX_CANDIDATES = 16          # SFT routes drawn for one N (the kept one is always drawn)
DEMONSTRATIONS = 4           # enough to see the zig-zag style, few enough to see each
SHOWN_FRACTION = 0.15        # a volume shows the model's top 15% cells


def _lines(routes, lift) -> pv.PolyData:
    return pv.merge([pv.lines_from_points(np.asarray(r, float) + lift) for r in routes])


class AfdView(QWidget):
    """``show_world(world, caption)`` before a run; ``draw(result, rm, n)`` after."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plotter = QtInteractor(self, auto_update=False)
        self.plotter.set_background("white")
        self.plotter.clear_events_for_key("q")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plotter)
        self.world = None
        self.result = None
        self.scene: sc.Scene | None = None
        self.rm: str | None = None
        self.presenter = False
        self.caption = ""
        self.lift = np.zeros(3)
        self.setMinimumSize(QSize(320, 240))

    # ------------------------------------------------------------ base layers
    def _base(self, world) -> None:
        self.plotter.clear()
        self.world, self.scene, self.rm = world, None, None
        self.lift = np.array([0, 0, 0.03 * scenery.span(world)]) if world.is_terrain else np.zeros(3)
        scenery.ground(self.plotter, world)
        scenery.regions(self.plotter, world, self.presenter)
        goals = [scenery.centre(world, g) for g in world.goals]
        if goals:
            scenery.labels(self.plotter, goals, ["goal"] * len(goals), self.presenter, name="goal_labels")
        sc.default_camera(self.plotter, world)

    def _font_px(self) -> int:
        return int(plot_sizes(self.presenter).font_pt * 1.3)

    def show_world(self, world, caption: str) -> None:
        """The world and its own expert routes (black), before any run."""
        self.result = None
        self._base(world)
        routes = world.route_points()
        if routes:
            self.plotter.add_mesh(_lines(routes, self.lift), color="black", line_width=self._width(3),
                                  name="expert_routes", pickable=False, render=False)
        self._legend([("the world's expert route", "black"), ("goal", "#1a9850")])
        self.set_caption(caption)

    # ------------------------------------------------------------ a run
    def draw(self, res, rm: str | None, n: int) -> None:
        """The run so far: routes always, ``rm``'s landscape and kept route once fitted."""
        if self.result is None or res.world is not self.world:
            self._base(res.world)
            self.plotter.add_mesh(_lines(res.demonstrations[:DEMONSTRATIONS], self.lift), color="black",
                                  line_width=self._width(2), name="demonstrations", pickable=False,
                                  render=False)
            self._focus(res)
        self.result = res
        fitted = rm in res.landscapes
        if fitted:
            self._landscape(res, rm)
        elif self.scene is not None:
            self.scene.actor.SetVisibility(False)
        run = res.runs.get(rm) if fitted else None
        shown = res.candidates[: min(n, MAX_CANDIDATES)]
        self.plotter.add_mesh(_lines(shown, self.lift), color="#9e9e9e", opacity=0.8,
                              line_width=self._width(1.5), name="candidates", pickable=False,
                              reset_camera=False, render=False)
        if run is not None:
            chosen = np.asarray(run["samples"][run["chosen"][str(n)]], float) + self.lift
            self.plotter.add_mesh(pv.lines_from_points(chosen), color="red", line_width=self._width(6),
                                  name="chosen", pickable=False, reset_camera=False, render=False)
        else:
            self.plotter.remove_actor("chosen", render=False)
        more = f"{min(n, MAX_CANDIDATES)} of {n}" if n > MAX_CANDIDATES else f"{n}"
        self._legend([("demonstrations (zig-zag style)", "black"),
                      (f"SFT routes Best-of-N picks from ({more})", "#9e9e9e"),
                      ("the route it keeps", "red"), ("goal", "#1a9850")])
        waiting = f"{rm}: being fitted..." if not res.complete else f"{rm}: not fitted in this run"
        self.set_caption("" if fitted or not rm else waiting)

    def _landscape(self, res, rm: str) -> None:
        values = np.asarray(res.landscapes[rm], np.float32).copy()
        if not self.world.is_terrain:
            values[values < np.quantile(values, 1.0 - SHOWN_FRACTION)] = np.nan
        if self.scene is None:
            self.plotter.remove_actor("terrain", render=False)
            mesh = sc.landscape_mesh(self.world, self.world.grid().points, values)
            lut = pv.LookupTable(cmap="viridis_r")
            lut.scalar_range = (0.0, 1.0)
            lut.SetNanColor(1.0, 1.0, 1.0, 0.0)
            fs = self._font_px()
            bar = {"title": "served reward\n(purple = high)", "n_labels": 3, "fmt": "%.1f", "vertical": True,
                   "position_x": 0.84, "position_y": 0.50, "width": 0.05, "height": 0.38, "color": "black",
                   "title_font_size": fs, "label_font_size": fs, "unconstrained_font_size": True,
                   "interactive": False}
            kw = {"smooth_shading": True} if self.world.is_terrain else {
                "render_points_as_spheres": True, "point_size": max(3.0, 110.0 / self.world.resolution),
                "opacity": 0.45}
            actor = self.plotter.add_mesh(mesh, scalars="reward", cmap=lut, clim=(0.0, 1.0), name="landscape",
                                          scalar_bar_args=bar, pickable=False, render=False,
                                          reset_camera=False, **kw)
            self.scene = sc.Scene(self.world, mesh, actor)
        else:
            sc.update_reward(self.scene, values)
            self.scene.actor.SetVisibility(True)
        self.rm = rm

    def _focus(self, res) -> None:
        """Frame the routes and the goals (the lesson happens there), with a margin of the
        world around them, from the default viewing direction."""
        pts = [np.asarray(res.demonstrations, float).reshape(-1, 3),
               np.asarray(res.candidates, float).reshape(-1, 3)]
        pts += [scenery.centre(self.world, g)[None, :] for g in self.world.goals]
        pts = np.concatenate(pts)
        pad = 0.12 * scenery.span(self.world)
        lo = np.maximum(pts.min(axis=0) - pad, self.world.bounds_min)
        hi = np.minimum(pts.max(axis=0) + pad, self.world.bounds_max)
        self.plotter.reset_camera(render=False, bounds=np.ravel(np.column_stack([lo, hi])))

    # ------------------------------------------------------------ pieces
    def _width(self, w: float) -> float:
        return w * (1.7 if self.presenter else 1.0)

    def _legend(self, entries) -> None:
        size = (0.42, 0.05 * len(entries)) if not self.presenter else (0.62, 0.075 * len(entries))
        self.plotter.add_legend(labels=[[t, c] for t, c in entries], bcolor="white", border=True, size=size,
                                loc="upper left", face="-", name="legend", background_opacity=0.85)

    def set_caption(self, text: str) -> None:
        self.caption = text
        self.plotter.remove_actor("caption", render=False)
        if text:
            self.plotter.add_text(text, position="lower_edge", color="#404040", name="caption",
                                  font_size=vtk_text_size(self.presenter))
        self.plotter.update()          # one render, in the paint (an explicit render would be a second)

    def set_presenter(self, on: bool, redraw) -> None:
        """Presenter sizes; ``redraw()`` draws the current state again with them."""
        self.presenter = bool(on)
        self.result = None                   # rebuild the scene (text and line sizes)
        redraw()

    def close_view(self) -> None:
        self.plotter.close()
