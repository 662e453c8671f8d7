"""Triage regions: a handful of spatially coherent groups of flawed cells.

On ``cube`` the first audit's flaws are one connected region of 5,169 cells, so
grouping by connectivity alone leaves a person one row to decide on. Regions
here say *where* a flaw is in the terms a person reasons in:

* its **distance band** from the support -- near the norm boundary (within
  NEAR_BAND of it, where a patch must be careful) or far beyond it;
  (cells inside an avoided region form a band of their own);
* the **stretch of the expert route** it extrapolates from -- the start, middle
  or end third of each route (its nearest route point).

Cells sharing a band and a stretch are split into connected pieces (face
neighbours on the grid), so every region is contiguous; pieces smaller than
MIN_SHARE of the flagged cells merge into the neighbour they share most faces
with, and the smallest merge on until at most MAX_REGIONS remain.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from explorer.model.landscape import Landscape

MAX_REGIONS = 8
NEAR_BAND = 0.25           # x half the world's span: "near the boundary"
STRETCHES = ("start", "middle", "end")
MIN_SHARE = 0.02


def triage_regions(land: Landscape, mask: np.ndarray, reward: np.ndarray,
                   max_regions: int = MAX_REGIONS) -> tuple[np.ndarray, list[dict]]:
    """Region label per grid cell (0: not flagged) and one summary per region,
    numbered 1.. in decreasing order of their farthest cell."""
    labels = np.zeros(land.grid.size, np.int32)
    if not mask.any():
        return labels, []
    world = land.world
    idx = np.nonzero(mask)[0]
    band = _band(land, idx)
    stretch, routes = _stretch(world, land.points[idx])
    key = np.zeros(land.grid.size, np.int64)
    key[idx] = 1 + band * (len(STRETCHES) * routes) + stretch
    piece = np.zeros(land.grid.size, np.int64)
    n = 0
    # One piece per avoided region, however it is cut up; connected pieces elsewhere.
    for j, norm in enumerate(world.norms):
        if norm.kind != "support_required" and norm.region is not None:
            inside = np.zeros(land.grid.size, bool)
            inside[idx[band == 2]] = norm.region.contains(land.points[idx[band == 2]])
            inside &= piece == 0
            if inside.any():
                n += 1
                piece[inside] = n
                key[inside] = 0
    n_hazard = n
    for k in np.unique(key[idx]):
        if k == 0:
            continue
        comp = components(key.reshape(land.grid.shape) == k).reshape(-1)
        on = comp > 0
        piece[on] = comp[on] + n
        n += int(comp.max())
    hazard = set(range(1, n_hazard + 1))
    merged = _merge(piece.reshape(land.grid.shape), n, max(int(MIN_SHARE * len(idx)), 1),
                    max_regions, hazard).reshape(-1)
    # Number regions by their farthest cell, as triage ranks them.
    ids = [p for p in np.unique(merged[idx]) if p > 0]
    far = {p: float(land.distance[merged == p].max()) for p in ids}
    order = sorted(ids, key=lambda p: -far[p])
    regions = []
    for new_id, p in enumerate(order, start=1):
        cells = merged == p
        labels[cells] = new_id
        worst = int(np.argmax(np.where(cells, reward, -np.inf)))
        b = Counter(band[np.isin(idx, np.nonzero(cells)[0])].tolist()).most_common(1)[0][0]
        st = Counter(stretch[np.isin(idx, np.nonzero(cells)[0])].tolist()).most_common(1)[0][0]
        route = f" of route {st // len(STRETCHES) + 1}" if routes > 1 else " of the route"
        label = f"{('near the boundary', 'far beyond it')[min(b, 1)]}, beside the " \
                f"{STRETCHES[st % len(STRETCHES)]}{route}"
        for norm in world.norms:
            if norm.kind != "support_required" and norm.region is not None \
                    and norm.region.contains(land.points[cells]).mean() > 0.5:
                label = f"inside the {norm.region.name} (an avoided region)"
        regions.append({
            "id": new_id, "cells": int(cells.sum()), "worst_reward": float(reward[worst]),
            "representative": [round(float(v), 4) for v in land.points[worst]],
            "distance": [round(float(land.distance[cells].min()), 3), round(far[p], 3)],
            "label": label})
    return labels, regions


def _band(land: Landscape, idx: np.ndarray) -> np.ndarray:
    """0: near the boundary, 1: far beyond it, 2: inside an avoided region."""
    world = land.world
    B = world.boundary if np.isfinite(world.boundary) else 0.0
    span = float(np.max(world.bounds_max - world.bounds_min))
    band = (land.distance[idx] > B + NEAR_BAND * span / 2).astype(np.int64)
    for norm in world.norms:
        if norm.kind != "support_required" and norm.region is not None:
            band[norm.region.contains(land.points[idx])] = 2
    return band


def _stretch(world, states: np.ndarray) -> tuple[np.ndarray, int]:
    """Which third of which route each state's nearest route point lies on."""
    polylines = world.route_points()
    if not polylines:
        return np.zeros(len(states), np.int64), 1
    pts = np.concatenate(polylines)
    route = np.concatenate([np.full(len(p), i) for i, p in enumerate(polylines)])
    t = np.concatenate([np.linspace(0.0, 1.0, len(p)) for p in polylines])
    nearest = np.empty(len(states), np.int64)
    for i in range(0, len(states), 4096):
        ch = states[i:i + 4096].astype(np.float64)
        d2 = np.sum(ch ** 2, axis=1)[:, None] - 2 * ch @ pts.T + np.sum(pts ** 2, axis=1)[None, :]
        nearest[i:i + 4096] = np.argmin(d2, axis=1)
    third = np.minimum((t[nearest] * len(STRETCHES)).astype(np.int64), len(STRETCHES) - 1)
    return route[nearest] * len(STRETCHES) + third, len(polylines)


def _merge(piece: np.ndarray, n: int, min_cells: int, max_regions: int, hazard: set = frozenset()) -> np.ndarray:
    """Merge small pieces into the neighbour they share most faces with, then the
    smallest until at most ``max_regions`` remain (union-find over pieces). A piece
    inside an avoided region is never absorbed into another: a hazard stays a row
    (so a world with hazards may show a few more than ``max_regions``)."""
    flat = piece.reshape(-1)
    size = Counter(flat[flat > 0].tolist())
    shared: dict[int, Counter] = {p: Counter() for p in size}
    for axis in range(piece.ndim):
        a = np.moveaxis(piece, axis, 0)
        lo, hi = a[:-1].reshape(-1), a[1:].reshape(-1)
        ok = (lo > 0) & (hi > 0) & (lo != hi)
        for x, y in zip(lo[ok].tolist(), hi[ok].tolist()):
            shared[x][y] += 1
            shared[y][x] += 1
    parent = {p: p for p in size}
    centroid = {p: np.argwhere(piece == p).mean(axis=0) for p in size}

    def absorb(small: int, big: int) -> None:
        parent[small] = big
        total = size[small] + size[big]
        centroid[big] = (centroid[big] * size[big] + centroid[small] * size[small]) / total
        size[big] = total
        del size[small]
        for other, k in shared.pop(small).items():
            if other == big:
                continue
            shared[big][other] += k
            shared[other][big] += k
            del shared[other][small]
        shared[big].pop(small, None)

    settled: set[int] = set()            # small islands kept as regions (room was left)
    hazard = set(hazard)

    def weight(p: int) -> int:
        return size[p]

    while len(size) > 1:
        free = [p for p in size if p not in settled and p not in hazard]
        if not free:
            break
        small = min(free, key=lambda p: (weight(p), p))
        if weight(small) >= min_cells and len(size) <= max_regions:
            break
        if shared[small]:
            # A hazard keeps to itself while another neighbour can take the piece.
            absorb(small, max(shared[small], key=lambda q: (q not in hazard, shared[small][q], size[q], -q)))
        elif len(size) > max_regions and len(size) > 1:   # an island, too many regions: join the nearest
            absorb(small, min((q for q in size if q != small),
                              key=lambda q: (float(np.sum((centroid[q] - centroid[small]) ** 2)), q)))
        else:
            settled.add(small)

    def root(p: int) -> int:
        while parent[p] != p:
            p = parent[p]
        return p
    out = flat.copy()
    for p in parent:
        r = root(p)
        if r != p:
            out[flat == p] = r
    return out.reshape(piece.shape)


def components(mask: np.ndarray) -> np.ndarray:
    """Label face-connected components of a boolean grid (BFS over flat indices)."""
    labels = np.zeros(mask.shape, np.int32)
    flat = mask.reshape(-1)
    lab = labels.reshape(-1)
    shape = mask.shape
    strides = [int(np.prod(shape[i + 1:])) for i in range(len(shape))]
    coords = np.indices(shape).reshape(len(shape), -1)
    current = 0
    for start in np.nonzero(flat)[0]:
        if lab[start]:
            continue
        current += 1
        lab[start] = current
        frontier = np.array([start])
        while len(frontier):
            nxt = []
            for axis, stride in enumerate(strides):
                c = coords[axis, frontier]
                for step, ok in ((stride, c < shape[axis] - 1), (-stride, c > 0)):
                    nb = frontier[ok] + step
                    nb = nb[flat[nb] & (lab[nb] == 0)]
                    lab[nb] = current
                    nxt.append(nb)
            frontier = np.unique(np.concatenate(nxt)) if nxt else np.zeros(0, int)
    return labels
