"""The explorer's colours: reward (viridis, yellow = low, purple = high as in the
seed paper's Figure 1; ``reverse`` swaps them), the flaw overlay's red ramp, the
difference colouring (red = fell, blue = rose) and the words the legend says."""
from __future__ import annotations

import numpy as np
import pyvista as pv

REWARD_TITLE = "learned reward"


def reward_lut(floor: float, reverse: bool = False, hide_below_floor: bool = True) -> pv.LookupTable:
    lut = pv.LookupTable(cmap="viridis" if reverse else "viridis_r")
    lut.scalar_range = (floor, 1.0) if hide_below_floor else (0.0, 1.0)
    # NaN: no model yet (only the world is drawn): hidden cells, or a pale ground.
    lut.SetNanColor(1.0, 1.0, 1.0, 0.0) if hide_below_floor else lut.SetNanColor(0.86, 0.86, 0.86, 1.0)
    if hide_below_floor:
        # Volumes show only the cells above the floor: below it they are transparent,
        # so an in-place scalar write also changes which cells are visible.
        lut.below_range_color = "white"
        lut.below_range_opacity = 0.0
        lut.SetBelowRangeColor(1.0, 1.0, 1.0, 0.0)
    return lut


FLAW_OFFSET = 2.0          # a flawed cell's shown value: its reward + this (the red part of the LUT)


def shown_lut(floor: float, reverse: bool = False, hide_below_floor: bool = True) -> pv.LookupTable:
    """Reward colours with a red ramp for the flaw overlay, in one table over
    [floor, 1 + FLAW_OFFSET]: a cell's shown value is its reward (viridis), or its
    reward + FLAW_OFFSET when it breaks a norm (light red = just above the floor,
    dark red = high), so the spurious region reads as a red region at a glance."""
    lo = floor if hide_below_floor else 0.0
    hi = 1.0 + FLAW_OFFSET
    n = 1024
    base = pv.LookupTable(cmap="viridis" if reverse else "viridis_r")
    reds = pv.LookupTable(cmap="Reds")
    vir, red = np.asarray(base.values, float) / 255.0, np.asarray(reds.values, float) / 255.0
    v = lo + (hi - lo) * np.arange(n) / (n - 1)
    table = np.ones((n, 4))
    low = v <= 1.0
    t = np.clip((v[low] - lo) / max(1.0 - lo, 1e-9), 0, 1)
    table[low] = vir[np.round(t * (len(vir) - 1)).astype(int)]
    high = v >= lo + FLAW_OFFSET
    t = np.clip((v[high] - lo - FLAW_OFFSET) / max(1.0 - lo, 1e-9), 0, 1)
    table[high] = red[np.round((0.3 + 0.7 * t) * (len(red) - 1)).astype(int)]
    table[:, 3] = 1.0
    lut = pv.LookupTable()
    lut.SetNumberOfTableValues(n)
    for i, row in enumerate(table):
        lut.SetTableValue(i, *row)
    lut.scalar_range = (lo, hi)
    if hide_below_floor:
        lut.SetBelowRangeColor(1.0, 1.0, 1.0, 0.0)
        lut.SetUseBelowRangeColor(True)
        lut.SetNanColor(1.0, 1.0, 1.0, 0.0)
    else:
        lut.SetNanColor(0.86, 0.86, 0.86, 1.0)
    return lut


def diff_lut() -> pv.LookupTable:
    """Red = the reward fell, blue = it rose. NaN cells (see ``difference_values``)
    are transparent."""
    lut = pv.LookupTable(cmap="RdBu")
    lut.scalar_range = (-1.0, 1.0)
    lut.SetNanColor(1.0, 1.0, 1.0, 0.0)
    return lut


def reward_title(reverse: bool) -> str:
    legend = "yellow = high\npurple = low" if reverse else "yellow = low\npurple = high"
    return f"{REWARD_TITLE}\n({legend})"


def legend_text(mode: str, reverse: bool, floor: float, terrain: bool) -> tuple[str, str]:
    """(title, note) of the side legend for a colouring."""
    if mode == "difference":
        return "reward\nchange", "blue: rose\nred: fell"
    high, low = ("yellow", "purple") if reverse else ("purple", "yellow")
    hidden = "" if terrain else f"\n< {floor:g}: hidden"
    return "learned\nreward", f"{high} = high\n{low} = low{hidden}"
