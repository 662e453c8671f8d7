"""Item 3: updating the displayed landscape. In-place scalar write + render of
the same pyvista scene the GUI uses vs a matplotlib ``plot_surface`` redraw of
the same data (what a paper author would use). ``plotter`` may be the Qt view
(under Xvfb) or an off-screen plotter."""
from __future__ import annotations


import worlds
from explorer.model.landscape import Landscape
from explorer.model.learning import config_for, train
from explorer.viz import scene as sc

from .common import timeit


def display_update(plotter=None, world_name: str = "cube", smoke: bool = False) -> dict:
    import pyvista as pv
    world = worlds.load(world_name)
    model = train(world, config_for(world, steps=300 if smoke else 3000))
    land = Landscape(model, world)
    r = land.reward()
    own = plotter is None
    pl = plotter or pv.Plotter(off_screen=True, window_size=(900, 700))
    scene = sc.add_landscape(pl, world, land.points, r)
    sc.add_overlays(pl, world)
    sc.default_camera(pl, world)
    if own:
        pl.show(auto_close=False, interactive=False)   # render() is a no-op before the first show
    pl.render()
    state = {"i": 0}

    def inplace():
        state["i"] += 1
        sc.update_reward(scene, r * (0.5 + 0.5 * (state["i"] % 2)))
        pl.render()
        pl.ren_win.Render() if own else None
    t_vtk = timeit(inplace, repeats=9, min_time=0.2)
    if own:
        pl.close()

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(9, 7), dpi=100)
    ax = fig.add_subplot(projection="3d")
    pts = land.points

    def mpl():
        ax.clear()
        if world.is_terrain:
            n = land.grid.shape[0]
            ax.plot_surface(pts[:, 0].reshape(n, n), pts[:, 1].reshape(n, n), pts[:, 2].reshape(n, n),
                            facecolors=matplotlib.colormaps["viridis_r"](r.reshape(n, n)))
        else:
            # The same data for a volume: the cells above the floor as a 3D scatter
            # (plot_surface has no volume form; this is what an author would draw).
            keep = r > world.floor
            ax.scatter(pts[keep, 0], pts[keep, 1], pts[keep, 2], c=r[keep], cmap="viridis_r", s=6)
        fig.canvas.draw()
    t_mpl = timeit(mpl, repeats=3 if smoke else 5)
    plt.close(fig)
    return {"world": world_name, "cells": int(land.grid.size),
            "inplace_ms": t_vtk["median_s"] * 1e3,
            "inplace_spread_ms": [t_vtk["min_s"] * 1e3, t_vtk["max_s"] * 1e3],
            "fps": 1.0 / t_vtk["median_s"], "matplotlib_ms": t_mpl["median_s"] * 1e3,
            "speedup": t_mpl["median_s"] / t_vtk["median_s"],
            "view": "off-screen pyvista" if own else type(plotter).__name__}
