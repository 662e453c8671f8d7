"""Marks over the landscape that make a first view show the point.

* **Flaw overlay**: where the learned reward breaks a norm. The landscape itself
  colours those cells in a red ramp (``scene.shown_lut``: light red just above
  the floor, dark red high), so the spurious region reads as a region without
  rotating; on a terrain a red line also runs around the flawed ground. It
  follows every reward shown (training, refinement, psi).
* **Ghosted cells**: a volume hides cells below the floor, so a refinement that
  pushed a spurious region down made it vanish, and the view looked as if
  nothing had happened. Cells that were above the floor in the reference
  landscape (the version before, or the landscape a job started from) and are
  below it now stay as small pale-grey dots.

Both read the values through small VTK objects written in place (no actor is
re-added per frame).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyvista as pv

from worlds import World

FLAW_COLOUR = "#e31a1c"
GHOST_COLOUR = "#c8c8c8"


@dataclass
class Marks:
    world: World
    points: np.ndarray
    line_source: object | None = None       # terrain: StructuredGrid of the flaw mask
    line_actor: object | None = None
    ghost_actor: object | None = None
    flaws_shown: bool = False
    ghosts_shown: bool = True
    flaw_cells: int = 0
    ghost_cells: int = 0
    flawed: np.ndarray | None = None        # the cells the overlay colours red


def add_marks(plotter, world: World, points: np.ndarray, scale: float = 1.0,
              flaws_shown: bool = False) -> Marks:
    """Create the (empty) mark actors; ``update`` fills them."""
    import vtk
    m = Marks(world, np.asarray(points, np.float32), flaws_shown=flaws_shown)
    span = float(np.max(world.bounds_max - world.bounds_min))
    size = max(3.0, 140.0 / world.resolution) * scale
    if world.is_terrain:
        n = round(np.sqrt(len(points)))
        pts = m.points.reshape(n, n, 3) + np.array([0, 0, 0.015 * span], np.float32)
        grid = pv.StructuredGrid(pts[..., 0], pts[..., 1], pts[..., 2])
        grid.points = pts.transpose(1, 0, 2).reshape(-1, 3)
        grid["flaw"] = np.zeros(n * n, np.float32)
        contour = vtk.vtkContourFilter()
        contour.SetInputData(grid)
        contour.SetValue(0, 0.5)
        m.line_source = grid
        m.line_actor = plotter.add_mesh(contour, color=FLAW_COLOUR, line_width=2.5 * scale, pickable=False,
                                        name="flaw_line", render=False, reset_camera=False)
    else:
        m.ghost_actor = plotter.add_mesh(pv.PolyData(np.zeros((1, 3), np.float32)), color=GHOST_COLOUR,
                                         point_size=max(2.0, 0.55 * size), render_points_as_spheres=True,
                                         pickable=False, name="ghost_cells", render=False, reset_camera=False)
    set_flaws_shown(m, flaws_shown)
    _hide(m.ghost_actor)
    return m


def _hide(actor) -> None:
    if actor is not None:
        actor.SetVisibility(False)


def _points_into(actor, pts: np.ndarray) -> None:
    """Replace an actor's points (a new small PolyData into the same mapper)."""
    actor.mapper.SetInputData(pv.PolyData(np.asarray(pts, np.float32)) if len(pts) else
                              pv.PolyData(np.zeros((1, 3), np.float32)))


def update(m: Marks | None, reward: np.ndarray, violates: np.ndarray | None,
           before: np.ndarray | None = None) -> None:
    """Follow a reward landscape (``violates``: the cells that break a norm, None
    before a model exists; ``before``: the reference the ghosts are measured from)."""
    if m is None:
        return
    floor = m.world.floor
    r = np.nan_to_num(np.asarray(reward, np.float32))
    if violates is not None and len(violates) == len(r):
        flawed = (r > floor) & np.asarray(violates, bool)
    else:
        flawed = np.zeros(len(r), bool)
    m.flawed = flawed
    m.flaw_cells = int(flawed.sum())
    if m.world.is_terrain:
        n = round(np.sqrt(len(r)))
        m.line_source["flaw"][:] = flawed.astype(np.float32).reshape(n, n).T.reshape(-1)
        m.line_source.Modified()
    else:
        ghost = np.zeros(len(r), bool)
        if before is not None and len(before) == len(r):
            ghost = (np.nan_to_num(np.asarray(before, np.float32)) > floor) & (r <= floor)
        m.ghost_cells = int(ghost.sum())
        _points_into(m.ghost_actor, m.points[ghost])
        m.ghost_actor.SetVisibility(m.ghosts_shown and m.ghost_cells > 0)
    set_flaws_shown(m, m.flaws_shown)


def set_flaws_shown(m: Marks | None, shown: bool) -> None:
    if m is None:
        return
    m.flaws_shown = shown
    if m.line_actor is not None:
        m.line_actor.SetVisibility(shown and m.flaw_cells > 0)


def set_ghosts_shown(m: Marks | None, shown: bool) -> None:
    if m is None:
        return
    m.ghosts_shown = shown
    if m.ghost_actor is not None:
        m.ghost_actor.SetVisibility(shown and m.ghost_cells > 0)


def legend_lines(m: Marks | None) -> str:
    """The legend's lines for the marks that are showing."""
    if m is None:
        return ""
    lines = []
    if m.flaws_shown and m.flaw_cells:
        lines.append("red: breaks\na norm\n(dark = high)")
    if m.ghost_actor is not None and m.ghosts_shown and m.ghost_cells:
        lines.append("grey: pushed\nbelow floor")
    return "\n".join(lines)
