"""The world as the lesson views draw it: the ground (terrain grey, or the box's
outline), goals and hazards outlined, and text labels on points.

Not ``viz.scene.add_overlays``: that also builds the norm boundary (a 48^3 distance
field, about a second on the cube) even when it is hidden, and the lessons never show
it; drawing a lesson's world before Run has to be quick.
"""
from __future__ import annotations

import numpy as np
import pyvista as pv

from explorer.viz import scene as sc

from ..plots import plot_sizes

GOAL = "#1a9850"
HAZARD = "#d73027"


def span(world) -> float:
    return float(np.max(world.bounds_max - world.bounds_min))


def ground(plotter, world) -> None:
    """A terrain as a plain grey surface, a volume as its box's outline."""
    if world.is_terrain:
        g = world.grid()
        mesh = sc.landscape_mesh(world, g.points, np.zeros(g.size, np.float32))
        plotter.add_mesh(mesh, color="#d9d9d9", smooth_shading=True, name="terrain", pickable=False, render=False)
    else:
        box = pv.Box(bounds=np.ravel(np.column_stack([world.bounds_min, world.bounds_max])))
        plotter.add_mesh(box.outline(), color="#909090", line_width=1, name="bounds", pickable=False, render=False)


def regions(plotter, world, presenter: bool = False) -> None:
    """Goals (green, see-through: paths end inside them) and hazards (red)."""
    width = 4 if presenter else 3
    for kind, colour, opacity, items in (("goal", GOAL, 0.35, world.goals), ("hazard", HAZARD, 1.0, world.hazards)):
        for r in items:
            plotter.add_mesh(sc.region_outline(world, r), color=colour, line_width=width, style="wireframe",
                             opacity=opacity, name=f"{kind}_{r.name}", pickable=False, render=False)


def centre(world, region) -> np.ndarray:
    """A region's centre as a world state (on the ground for a terrain)."""
    d = 2 if world.is_terrain else 3
    return world.to_state(np.asarray(region.center, float)[None, :d])[0]


def labels(plotter, points, texts, presenter: bool = False, name: str = "labels") -> None:
    """Text on points, always in front, sized for the mode."""
    plotter.add_point_labels(np.asarray(points, float), list(texts),
                             font_size=int(plot_sizes(presenter).font_pt * 1.3), point_size=1,
                             shape_opacity=0.55, always_visible=True, text_color="#202020",
                             shape_color="white", name=name, pickable=False, render=False, reset_camera=False)
