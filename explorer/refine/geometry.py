"""Geometry of the norms for states between grid points: distance to the expert
support (with the direction away from it), the zones a guard band leaves on
either side of a norm boundary, each kernel's worst point in the certified
basin, and fast neighbourhood tests over many states."""
from __future__ import annotations

import numpy as np

from worlds import World

from explorer.model.patches import StateIndex


def deep_violation(world: World, states: np.ndarray, distance: np.ndarray, delta: float) -> np.ndarray:
    """States that break a norm by more than delta: beyond B + delta, or delta inside an avoided region."""
    out = np.zeros(len(states), bool)
    for norm in world.norms:
        if norm.kind == "support_required":
            out |= distance > norm.boundary + delta
        elif norm.region is not None:
            out |= norm.region.distance(states) <= norm.region.radius - delta
    return out


def clear_of_norms(world: World, states: np.ndarray, distance: np.ndarray, delta: float) -> np.ndarray:
    """The certified basin's ground: within B - delta, and delta clear of every avoided region."""
    out = distance <= world.boundary - delta if np.isfinite(world.boundary) else np.ones(len(states), bool)
    for norm in world.norms:
        if norm.kind != "support_required" and norm.region is not None:
            out &= norm.region.distance(states) > norm.region.radius + delta
    return out


def nearest_support(world: World, states: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the expert support (as ``World.distance_to_support``) and the unit
    direction away from the nearest support point, in one pass: the nearest point
    is found in float32, its distance then measured exactly."""
    states = np.asarray(states, np.float64)
    sup = world.support_points()
    sup32 = np.ascontiguousarray(-2.0 * sup.T, np.float32)
    s2 = np.sum(sup ** 2, axis=1).astype(np.float32)
    near = np.empty(len(states), np.int64)
    for i in range(0, len(states), chunk):
        d2 = states[i:i + chunk].astype(np.float32) @ sup32
        d2 += s2[None, :]
        near[i:i + chunk] = np.argmin(d2, axis=1)
    v = states - sup[near]
    dist = np.linalg.norm(v, axis=1)
    away = (v / np.maximum(dist, 1e-9)[:, None]).astype(np.float32)
    return dist.astype(np.float32), away


def basin_worst_point(world: World, delta: float):
    """For a kernel centre c: the certified basin's point nearest to c (where that
    kernel is largest) and its distance. For the support norm it lies on the
    segment from c to its nearest support point, B - delta from that point (the
    distance to the support is 1-Lipschitz, so no basin state is nearer); inside
    an avoided region it lies on the region's rim widened by delta, whichever
    binds. On a terrain the point is moved onto the ground."""
    sup = world.support_points()
    regions = [n.region for n in world.norms if n.kind != "support_required" and n.region is not None]
    B = world.boundary
    dims = 2 if world.is_terrain else 3

    def worst(c: np.ndarray) -> tuple[np.ndarray, float]:
        c = np.asarray(c, np.float64)
        best, h = c.copy(), 0.0
        if np.isfinite(B):
            j = int(np.argmin(np.sum((sup - c) ** 2, axis=1)))
            v = c - sup[j]
            d = float(np.linalg.norm(v))
            if d > B - delta:
                h = d - (B - delta)
                best = sup[j] + v * ((B - delta) / max(d, 1e-12))
        for reg in regions:
            ctr = np.asarray(reg.center, float)
            g = c[:len(ctr)] - ctr
            dg = float(np.linalg.norm(g))
            if reg.radius + delta - dg > h:
                h = reg.radius + delta - dg
                best = c.copy()
                best[:len(ctr)] = ctr + g * ((reg.radius + delta) / max(dg, 1e-12))
        if world.is_terrain:
            best = world.to_state(best[None, :dims])[0]
            h = float(np.linalg.norm(best - c))
        return best.astype(np.float32), h
    return worst


def within(points: np.ndarray, refs: np.ndarray, radius: float) -> np.ndarray:
    """Which points have a reference state within ``radius`` (exact distances; the
    references are bucketed in cubes of side ``radius``, so each point looks only
    into its own and the 26 neighbouring buckets)."""
    points = np.asarray(points, np.float64)
    out = np.zeros(len(points), bool)
    if len(points) == 0 or len(refs) == 0 or radius <= 0:
        return out
    refs = np.asarray(refs, np.float64)
    lo = np.minimum(points.min(axis=0), refs.min(axis=0)) - radius
    cell_r = np.floor((refs - lo) / radius).astype(np.int64)
    cell_p = np.floor((points - lo) / radius).astype(np.int64)
    dims = np.maximum(cell_r.max(axis=0), cell_p.max(axis=0)) + 3
    key = lambda c: (c[:, 0] * dims[1] + c[:, 1]) * dims[2] + c[:, 2]
    order = np.argsort(key(cell_r + 1), kind="stable")
    sorted_keys = key(cell_r + 1)[order]
    for off in np.stack(np.meshgrid(*[[-1, 0, 1]] * 3, indexing="ij"), -1).reshape(-1, 3):
        q = key(cell_p + 1 + off)
        a, b = np.searchsorted(sorted_keys, q, "left"), np.searchsorted(sorted_keys, q, "right")
        cnt = b - a
        todo = np.nonzero((cnt > 0) & ~out)[0]
        if len(todo) == 0:
            continue
        rep = np.repeat(todo, cnt[todo])
        starts = np.repeat(a[todo], cnt[todo])
        step = np.arange(len(rep)) - np.repeat(np.cumsum(cnt[todo]) - cnt[todo], cnt[todo])
        j = order[starts + step]
        hit = np.sum((points[rep] - refs[j]) ** 2, axis=1) <= radius * radius
        out[np.unique(rep[hit])] = True
    return out


def in_balls(index: StateIndex, balls, owner: bool = False) -> np.ndarray:
    """Which indexed states lie inside any ball (flags or findings: .center, .radius);
    with ``owner``, the id of the first ball holding each state (-1: none). Each
    ball visits only the states in its box, so many small balls stay cheap."""
    out = np.full(len(index), -1, np.int64) if owner else np.zeros(len(index), bool)
    for b in reversed(list(balls)):
        c = np.asarray(b.center, np.float32)
        near = index.near(c, float(b.radius))
        if len(near):
            hit = near[np.linalg.norm(index.states[near] - c, axis=1) <= b.radius]
            out[hit] = getattr(b, "id", 1) if owner else True
    return out
