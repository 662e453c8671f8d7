"""The World: one interface for volume and terrain worlds.

A world knows everything the *teacher* knows (goals, hazards, the true reward,
the norms). The learner only ever sees ``expert_samples()``; the true reward is
for metrics and teaching, and nothing in ``explorer.model.learning`` calls it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .terrain import Terrain

SUPPORT_CHUNK = 8192
ROUTE_POINTS = 400          # points per route in the drawn polyline and the support


@dataclass(frozen=True)
class Region:
    """A goal or hazard: a ball (volume) or a disc on the ground (terrain)."""
    name: str
    center: tuple[float, ...]
    radius: float

    def distance(self, states: np.ndarray) -> np.ndarray:
        c = np.asarray(self.center)
        return np.linalg.norm(states[:, : len(c)] - c, axis=1)

    def contains(self, states: np.ndarray) -> np.ndarray:
        return self.distance(states) <= self.radius


@dataclass(frozen=True)
class Route:
    """One expert route: ``path(t)`` for t in [0, 1] gives ground or volume positions."""
    path: Callable[[np.ndarray], np.ndarray]
    weight: float = 1.0


@dataclass(frozen=True)
class Norm:
    """A formal constraint (Phase 0). ``kind`` is support_required or avoid_region."""
    kind: str
    name: str
    boundary: float = 0.0          # support_required: B
    region: Region | None = None   # avoid_region

    def describe(self) -> str:
        if self.kind == "support_required":
            return f"stay within {self.boundary:g} of the expert support"
        assert self.region is not None
        return f"avoid {self.region.name} (radius {self.region.radius:g})"


@dataclass(frozen=True)
class TrueReward:
    goal_weight: float = 1.0
    route_weight: float = 0.0
    route_sigma: float = 0.2
    hazard_penalty: float = 1.0


@dataclass(frozen=True)
class Grid:
    """Regular evaluation grid: volume (n, n, n) or terrain (n, n) surface."""
    points: np.ndarray             # (N, 3) float32, C order over ``shape``
    shape: tuple[int, ...]
    axes: tuple[np.ndarray, ...]   # 1D coordinates per grid axis

    @property
    def size(self) -> int:
        return int(self.points.shape[0])


@dataclass
class World:
    name: str
    kind: str                          # "volume" | "terrain"
    card: str                          # the short "world card" text
    source: str                        # file path or "builtin:<name>"
    file_hash: str                     # sha256 of the world file bytes
    bounds_min: np.ndarray
    bounds_max: np.ndarray
    resolution: int
    floor: float
    goals: list[Region]
    hazards: list[Region]
    routes: list[Route]
    expert_count: int
    expert_seed: int
    expert_jitter: float
    background_count: int
    background_seed: int
    norms: list[Norm]
    true_reward_spec: TrueReward
    terrain: Terrain | None = None
    model_defaults: dict = field(default_factory=dict)
    guard_band: float | None = None    # delta of the certified figures (None: half the grid spacing)
    _cache: dict = field(default_factory=dict, repr=False)

    # ---- geometry -------------------------------------------------------
    @property
    def is_terrain(self) -> bool:
        return self.kind == "terrain"

    def to_state(self, pos: np.ndarray) -> np.ndarray:
        """Ground (x, y) or volume (x, y, z) positions -> 3D states inside the world."""
        pos = np.asarray(pos, dtype=float)
        if self.is_terrain:
            assert self.terrain is not None
            xy = np.clip(pos[..., :2], self.bounds_min[:2], self.bounds_max[:2])
            return self.terrain.lift(xy)
        return np.clip(pos[..., :3], self.bounds_min, self.bounds_max)

    def grid(self, resolution: int | None = None) -> Grid:
        n = int(resolution or self.resolution)
        key = ("grid", n)
        if key not in self._cache:
            dims = 2 if self.is_terrain else 3
            axes = tuple(np.linspace(self.bounds_min[i], self.bounds_max[i], n) for i in range(dims))
            mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, dims)
            pts = self.to_state(mesh).astype(np.float32)
            self._cache[key] = Grid(pts, (n,) * dims, axes)
        return self._cache[key]

    # ---- the expert -----------------------------------------------------
    def route_points(self, per_route: int = ROUTE_POINTS) -> list[np.ndarray]:
        """Dense polylines of each route, for drawing and for the support distance."""
        t = np.linspace(0.0, 1.0, per_route)
        return [self.to_state(r.path(t)) for r in self.routes]

    def route_counts(self) -> np.ndarray:
        """How many of the expert samples each route gets (by weight; they sum to expert_count)."""
        weights = np.array([r.weight for r in self.routes], dtype=float)
        counts = np.floor(weights / weights.sum() * self.expert_count).astype(int)
        counts[: self.expert_count - counts.sum()] += 1   # hand out the remainder
        return counts

    def expert_samples(self) -> np.ndarray:
        """The sparse expert samples D_E: deterministic for the world's seed."""
        if "expert" not in self._cache:
            rng = np.random.default_rng(self.expert_seed)
            parts = []
            for route, n in zip(self.routes, self.route_counts()):
                if n == 0:
                    continue
                pos = route.path(np.linspace(0.0, 1.0, n))
                if self.expert_jitter > 0:
                    pos = pos + rng.normal(0.0, self.expert_jitter, size=pos.shape)
                parts.append(self.to_state(pos))
            self._cache["expert"] = np.concatenate(parts).astype(np.float32)
        return self._cache["expert"].copy()

    def support_points(self) -> np.ndarray:
        """What 'the expert support' means for the norms: routes plus samples."""
        if "support" not in self._cache:
            self._cache["support"] = np.concatenate(
                self.route_points() + [self.expert_samples().astype(float)])
        return self._cache["support"]

    def distance_to_support(self, states: np.ndarray) -> np.ndarray:
        states = np.asarray(states, dtype=np.float64)
        sup = self.support_points()
        out = np.empty(len(states))
        s2 = np.sum(sup ** 2, axis=1)
        for i in range(0, len(states), SUPPORT_CHUNK):
            chunk = states[i:i + SUPPORT_CHUNK]
            d2 = np.sum(chunk ** 2, axis=1)[:, None] - 2 * chunk @ sup.T + s2[None, :]
            out[i:i + SUPPORT_CHUNK] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
        return out

    def sample_background(self, n: int | None = None, seed: int | None = None) -> np.ndarray:
        """Unlabeled states spread over the world (for audits and negatives)."""
        rng = np.random.default_rng(self.background_seed if seed is None else seed)
        n = self.background_count if n is None else n
        dims = 2 if self.is_terrain else 3
        pos = rng.uniform(self.bounds_min[:dims], self.bounds_max[:dims], size=(n, dims))
        return self.to_state(pos).astype(np.float32)

    # ---- norms and the true reward (teacher's knowledge) --------------------
    @property
    def boundary(self) -> float:
        """B of the support_required norm (the first one), or +inf if there is none."""
        for n in self.norms:
            if n.kind == "support_required":
                return n.boundary
        return float("inf")

    def norm_violations(self, states: np.ndarray) -> dict[str, np.ndarray]:
        states = np.asarray(states, dtype=float)
        out: dict[str, np.ndarray] = {}
        dist = None
        for norm in self.norms:
            if norm.kind == "support_required":
                if dist is None:
                    dist = self.distance_to_support(states)
                out[norm.name] = dist > norm.boundary
            else:
                assert norm.region is not None
                out[norm.name] = norm.region.contains(states)
        return out

    def violates(self, states: np.ndarray) -> np.ndarray:
        result = np.zeros(len(states), dtype=bool)
        for v in self.norm_violations(states).values():
            result |= v
        return result

    def true_reward(self, states: np.ndarray) -> np.ndarray:
        """Ground truth in [-1, 1]; for metrics and teaching only, never for learning."""
        states = np.asarray(states, dtype=float)
        spec = self.true_reward_spec
        r = np.zeros(len(states))
        if self.goals and spec.goal_weight:
            bumps = [np.exp(-g.distance(states) ** 2 / (2 * g.radius ** 2)) for g in self.goals]
            r += spec.goal_weight * np.max(bumps, axis=0)
        if spec.route_weight:
            d = self.distance_to_support(states)
            r += spec.route_weight * np.exp(-d ** 2 / (2 * spec.route_sigma ** 2))
        r = np.clip(r, 0.0, 1.0)
        for h in self.hazards:
            r = np.where(h.contains(states), r - spec.hazard_penalty, r)
        return np.clip(r, -1.0, 1.0)
