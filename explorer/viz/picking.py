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
