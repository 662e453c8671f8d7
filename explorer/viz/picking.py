"""Pick 'what is under the cursor' along the camera ray, in numpy.

VTK's point pickers can snap to hidden points on the far side (a complaint users
of similar tools make often). Here a click becomes a ray, and the pick is the
*nearest visible* grid point within ``tolerance`` of that ray, front-most first:
for a volume that is the first cell above the floor the ray passes through, for
a terrain the first surface point it meets.
"""
from __future__ import annotations

import numpy as np


def pick_along_ray(points: np.ndarray, visible: np.ndarray, origin: np.ndarray,
                   direction: np.ndarray, tolerance: float) -> int | None:
    """Index of the front-most visible point within ``tolerance`` of the ray, or None."""
    d = np.asarray(direction, dtype=np.float64)
    norm = np.linalg.norm(d)
    if norm == 0 or not np.isfinite(norm):
        return None
    d = d / norm
    rel = np.asarray(points, dtype=np.float64) - np.asarray(origin, dtype=np.float64)
    along = rel @ d
    perp = np.linalg.norm(rel - along[:, None] * d, axis=1)
    ok = np.asarray(visible, dtype=bool) & (along > 0) & (perp <= tolerance)
    if not ok.any():
        return None
    idx = np.nonzero(ok)[0]
    return int(idx[np.argmin(along[idx])])


def grid_spacing(world) -> float:
    """Distance between neighbouring grid points along the largest axis."""
    n = world.resolution
    return float(np.max(world.bounds_max - world.bounds_min)) / max(n - 1, 1)


def pick_on_slice(world, points: np.ndarray, origin: np.ndarray, direction: np.ndarray,
                  z: float) -> int | None:
    """The grid cell nearest where the ray crosses the horizontal plane at height ``z``
    (the slice plane), or None if the ray misses the plane inside the world's bounds.
    This reaches interior cells that a front-most pick never can."""
    o = np.asarray(origin, np.float64)
    d = np.asarray(direction, np.float64)
    if not np.all(np.isfinite(d)) or abs(d[2]) < 1e-12:
        return None
    t = (float(z) - o[2]) / d[2]
    if t <= 0:
        return None
    hit = o + t * d
    lo, hi = np.asarray(world.bounds_min, float), np.asarray(world.bounds_max, float)
    slack = 0.5 * grid_spacing(world)
    if np.any(hit[:2] < lo[:2] - slack) or np.any(hit[:2] > hi[:2] + slack):
        return None
    pts = np.asarray(points, np.float64)
    layer = np.abs(pts[:, 2] - pts[np.argmin(np.abs(pts[:, 2] - z)), 2]) < 1e-9
    idx = np.nonzero(layer)[0]
    return int(idx[np.argmin(np.linalg.norm(pts[idx, :2] - hit[:2], axis=1))])
