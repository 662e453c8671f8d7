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


def _finding_rings(world: World, findings) -> pv.PolyData:
    from explorer.flywheel.pipeline import findings_to_flags
    return sc.flags_mesh(world, findings_to_flags(findings))


def render_flywheel(world: World, points: np.ndarray, before: np.ndarray, after: np.ndarray,
                    highlight, accepted, out: str | Path, title_after: str, reverse: bool = False,
                    size: tuple[int, int] = (700, 650)) -> Path:
    """The paper's Figure 1 as three panels: the learned landscape with the
    Phase-1 finding circled in red, the triage state (accepted findings), and
    the refined landscape."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pl = pv.Plotter(off_screen=True, shape=(1, 3), window_size=(size[0] * 3, size[1]), border=False)
    pl.set_background("white")
    shown = accepted[:12]
    more = f" (top {len(shown)} circled)" if len(accepted) > len(shown) else ""
    panels = [("Phase 1 - audit: spurious extrapolation (red)", before, [highlight]),
              (f"Phase 2 - triage: {len(accepted)} findings accepted{more}", before, shown),
              (f"Phase 3 - refined: {title_after}", after, [])]
    for i, (title, reward, rings) in enumerate(panels):
        pl.subplot(0, i)
        sc.add_landscape(pl, world, points, reward, reverse=reverse)
        sc.add_overlays(pl, world, {"boundary": False})
        if rings:
            pl.add_mesh(_finding_rings(world, rings), color="red", line_width=5 if i == 0 else 3,
                        pickable=False)
        if i == 1 and accepted:
            top = accepted[:5]
            pl.add_point_labels(np.array([f.center for f in top]), [str(f.id) for f in top],
                                font_size=14, point_color="red", point_size=8, text_color="red",
                                shape_opacity=0.0, always_visible=True)
        pl.add_text(title, font_size=11, color="black", position="upper_left")
        sc.default_camera(pl, world)
    pl.screenshot(str(out))
    pl.close()
    return out


def render_flywheel_gif(world: World, points: np.ndarray, before: np.ndarray, after: np.ndarray,
                        highlight, accepted, out: str | Path, reverse: bool = False,
                        size: tuple[int, int] = (700, 650), fade_frames: int = 14) -> Path:
    """The cycle as an animation: landscape, the finding circled, the accepted
    findings, then the reward fading from before to after (in-place updates)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pl = pv.Plotter(off_screen=True, window_size=size)
    pl.set_background("white")
    scene = sc.add_landscape(pl, world, points, before, reverse=reverse)
    sc.add_overlays(pl, world, {"boundary": False})
    sc.default_camera(pl, world)
    text = pl.add_text("learned reward (trained on expert samples only)", font_size=11, color="black",
                       position="upper_left")
    pl.open_gif(str(out), fps=6)

    def hold(n):
        for _ in range(n):
            pl.write_frame()

    hold(6)
    ring = pl.add_mesh(_finding_rings(world, [highlight]), color="red", line_width=5, pickable=False)
    text.SetText(2, "Phase 1 - audit finds a spurious extrapolation")
    hold(6)
    pl.remove_actor(ring)
    pl.add_mesh(_finding_rings(world, accepted[:12]), color="red", line_width=3, pickable=False,
                name="accepted")
    text.SetText(2, f"Phase 2 - triage: {len(accepted)} findings accepted")
    hold(6)
    text.SetText(2, "Phase 3 - refinement: patches fade the spurious region")
    for t in np.linspace(0, 1, fade_frames):
        sc.update_reward(scene, (1 - t) * before + t * after)
        pl.write_frame()
    pl.remove_actor("accepted")
    text.SetText(2, "refined: the expert's basin keeps its reward")
    hold(8)
    pl.close()
    return out
