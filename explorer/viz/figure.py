"""Headless figures: the same scene, rendered off-screen to a PNG (no X server)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvista as pv

from worlds import World

from . import scene as sc


def render_landscape(world: World, points: np.ndarray, panels: list[tuple[str, np.ndarray, list]],
                     out: str | Path, reverse: bool = False, size: tuple[int, int] = (900, 800)) -> Path:
    """Render one panel per (title, reward, flags) side by side and save a PNG."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cols = len(panels)
    pl = pv.Plotter(off_screen=True, shape=(1, cols), window_size=(size[0] * cols, size[1]),
                    border=False)
    pl.set_background("white")
    for i, (title, reward, flags) in enumerate(panels):
        pl.subplot(0, i)
        sc.add_landscape(pl, world, points, reward, reverse=reverse)
        sc.add_overlays(pl, world)
        if flags:
            sc.set_flags(pl, world, flags)
        pl.add_text(title, font_size=12, color="black", position="upper_left")
        sc.default_camera(pl, world)
    pl.screenshot(str(out))
    pl.close()
    return out
