"""Held-out probe states: the figures that hold between grid points.

Every grid figure (flaws, basin cells, the 10% cap) is measured on the same
grid the audit sweeps and the patches are fitted to, so it says nothing about the
states a policy visits between grid points. A ``ProbeSet`` is a seeded set of
states the refinement never sees:

* a grid twice as fine as the landscape's, less the landscape's own points;
* uniform states over the world (100,000 by default);
* dense states in the shell around every norm boundary (the support boundary
  B and each avoided region's rim), where a patch's edge bites.

Between a flaw just beyond B and a basin state just inside it no smooth patch
can be both complete and harmless, so the certified figures use an explicit
**guard band** delta: a certified flaw is a probe beyond B + delta (or delta deep
inside an avoided region) still above the floor; the certified basin is the
probes within B - delta (and delta clear of every avoided region) above the
floor, none of which may lose more than the cap. delta defaults to half the
grid spacing; a world may declare its own (``guard_band``), and a cycle may
override it.

The refinement fits its kernels to a *different* seeded set (``fit_states``),
so the probes stay held out.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from worlds import World

from explorer.model.patches import PatchSet, StateIndex
from explorer.model.reward_model import RewardModel

from .errors import RefinementError
from .geometry import (basin_worst_point, clear_of_norms, deep_violation, in_balls, nearest_support,  # noqa: F401
                       within)

GUARD_FRACTION = 0.5          # delta = half the grid spacing
UNIFORM = 100_000
SHELL = 60_000
SHELL_WIDTH = 3.0             # the probes' shell spans B +- 3 delta ...
FIT_SHELL_WIDTH = 2.0         # ... the fit states' B +- 2 delta, where the patch's edge must be exact
FIT_UNIFORM = 20_000
FIT_SHELL = 40_000
FIT_SEED = 1_000_003          # fit states never share a seed with probes
FINE, UNIFORM_SRC, SHELL_SRC = 0, 1, 2
SOURCES = ("fine grid", "uniform", "shell")


def grid_spacing(world: World, resolution: int | None = None) -> float:
    n = int(resolution or world.resolution)
    dims = 2 if world.is_terrain else 3
    return float(np.max((world.bounds_max[:dims] - world.bounds_min[:dims]) / max(n - 1, 1)))


def guard_band(world: World, resolution: int | None = None, override: float | None = None) -> float:
    """delta: ``override`` if given, else the world's ``guard_band``, else half the grid spacing."""
    for value, source in ((override, "guard_band"), (getattr(world, "guard_band", None),
                                                      f"{world.source}: guard_band")):
        if value is not None:
            v = float(value)
            if not np.isfinite(v) or v < 0:
                raise RefinementError(f"{source}: expected a finite guard band >= 0, got {value!r}")
            return v
    return GUARD_FRACTION * grid_spacing(world, resolution)


def expertness_key(model: RewardModel) -> str:
    """A fingerprint of E_theta's weights: refinements that leave E_theta alone keep it."""
    h = hashlib.sha1()
    for k, v in model.expertness.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().numpy().tobytes())
    return h.hexdigest()


@dataclass(eq=False)
class ProbeSet:
    world: World
    delta: float
    points: np.ndarray              # (n, 3) float32
    source: np.ndarray              # (n,) uint8: FINE, UNIFORM_SRC or SHELL_SRC
    distance: np.ndarray = field(init=False)
    outward: np.ndarray = field(init=False)      # unit vectors away from the nearest support point
    flaw_zone: np.ndarray = field(init=False)     # deep violation
    basin_zone: np.ndarray = field(init=False)    # clear of every norm by delta
    violates: np.ndarray = field(init=False)
    index: StateIndex = field(init=False)

    def __post_init__(self) -> None:
        self.distance, self.outward = nearest_support(self.world, self.points)
        self.flaw_zone = deep_violation(self.world, self.points, self.distance, self.delta)
        self.basin_zone = clear_of_norms(self.world, self.points, self.distance, self.delta)
        self.violates = deep_violation(self.world, self.points, self.distance, 0.0)
        self.index = StateIndex(self.points)
        self._errors: dict[tuple, np.ndarray] = {}
        self._fields: list[tuple[PatchSet, np.ndarray]] = []

    def __len__(self) -> int:
        return len(self.points)

    # ---- construction -----------------------------------------------------
    @classmethod
    def build(cls, world: World, seed: int = 0, delta: float | None = None, uniform: int = UNIFORM,
              shell: int = SHELL, fine: bool = True, resolution: int | None = None,
              shell_width: float = SHELL_WIDTH) -> "ProbeSet":
        delta = guard_band(world, resolution, delta)
        rng = np.random.default_rng([int(seed), 7919])
        parts, src = [], []
        if fine:
            pts = _fine_grid(world, resolution)
            parts.append(pts)
            src.append(np.full(len(pts), FINE, np.uint8))
        if uniform:
            pts = _uniform(world, rng, uniform)
            parts.append(pts)
            src.append(np.full(len(pts), UNIFORM_SRC, np.uint8))
        if shell:
            pts = _shell(world, rng, shell, shell_width * max(delta, 0.25 * grid_spacing(world, resolution)))
            parts.append(pts)
            src.append(np.full(len(pts), SHELL_SRC, np.uint8))
        if not parts:
            raise RefinementError("a probe set needs at least one kind of state (fine, uniform or shell)")
        return cls(world, float(delta), np.concatenate(parts).astype(np.float32), np.concatenate(src))

    # ---- the served reward on the probes (cached like a landscape) -----------
    def unpatched(self, model: RewardModel) -> np.ndarray:
        key = (expertness_key(model), model.psi)
        if key not in self._errors:
            if len(self._errors) >= 2:
                self._errors.pop(next(iter(self._errors)))
            self._errors[key] = model.unpatched(self.points)
        return self._errors[key]

    def field(self, patches: PatchSet) -> np.ndarray:
        """Kernel sum on the probes; a version that extends a cached one adds only its new kernels."""
        best = None
        for ps, f in self._fields:
            if len(ps) <= len(patches) and patches.starts_with(ps) and (best is None or len(ps) > len(best[0])):
                best = (ps, f)
        if best is not None and len(best[0]) == len(patches):
            return best[1]
        n0 = 0 if best is None else len(best[0])
        f = np.zeros(len(self.points), np.float32) if best is None else best[1].copy()
        if len(patches) > n0:
            f += self.index.field(patches.centers[n0:], patches.bandwidths[n0:], patches.amplitudes[n0:])
        self._fields = (self._fields + [(patches.copy(), f)])[-3:]
        return f

    def reward(self, model: RewardModel) -> np.ndarray:
        base = self.unpatched(model)
        if len(model.patches) == 0:
            return base.copy()
        return np.maximum(0.0, base - np.minimum(self.field(model.patches), 1.0)).astype(np.float32)

    # ---- the certified figures --------------------------------------------
    def certify(self, reward: np.ndarray, reference: np.ndarray | None = None,
                origin: np.ndarray | None = None, cap: float | None = None) -> dict:
        """Flaws beyond the guard band and, against ``reference`` (the parent) and
        ``origin`` (the kernel-free reward), the certified basin's worst loss."""
        floor = self.world.floor
        bad = ~np.isfinite(reward)                       # NaN is never clean
        hot = self.flaw_zone & ((reward > floor) | bad)
        out = {"probes": int(len(self.points)), "delta": round(float(self.delta), 5),
               "flaws": int(hot.sum()),
               "flaws_by_source": {SOURCES[s]: int((hot & (self.source == s)).sum()) for s in range(3)},
               "flaw_max_reward": float(np.nanmax(np.where(hot, reward, 0.0))) if hot.any() else 0.0}
        if hot.any():
            worst = int(np.argmax(np.where(hot, np.nan_to_num(reward, nan=2.0), -1.0)))
            out["worst_flaw"] = _describe(self.points[worst], float(self.distance[worst]), float(reward[worst]))
        for name, ref in (("", reference), ("_total", origin)):
            if ref is None:
                continue
            basin = self.basin_zone & (ref > floor)
            loss = np.where(np.isfinite(reward), 1.0 - reward / np.maximum(ref, 1e-12), 1.0)
            out[f"basin{name}"] = int(basin.sum())
            out[f"basin_worst_loss{name}"] = float(loss[basin].max()) if basin.any() else 0.0
            out[f"basin_lost{name}"] = int((basin & ~(reward > floor)).sum())
            if cap is not None:
                out[f"basin_over_cap{name}"] = int((basin & (loss > cap + 1e-6)).sum())
            if name == "" and basin.any():
                w = int(np.argmax(np.where(basin, loss, -np.inf)))
                out["worst_basin_state"] = _describe(self.points[w], float(self.distance[w]), float(reward[w]))
        return out


def _describe(point, distance: float, reward: float) -> dict:
    return {"state": [round(float(v), 4) for v in point], "distance": round(distance, 4),
            "reward": round(reward, 4) if np.isfinite(reward) else None}


def probe_set(world: World, seed: int = 0, delta: float | None = None, uniform: int = UNIFORM,
              shell: int = SHELL, fine: bool = True, shell_width: float = SHELL_WIDTH) -> ProbeSet:
    """The held-out probes of a world (built once per world and settings)."""
    key = ("probes", int(seed), None if delta is None else float(delta), int(uniform), int(shell), bool(fine),
           float(shell_width))
    cache = world._cache
    if key not in cache:
        cache[key] = ProbeSet.build(world, seed, delta, uniform, shell, fine, shell_width=shell_width)
    return cache[key]


def fit_states(world: World, seed: int = 0, delta: float | None = None,
               uniform: int = FIT_UNIFORM, shell: int = FIT_SHELL) -> ProbeSet:
    """States the refinement may fit its kernels to: another seed, no fine grid."""
    return probe_set(world, FIT_SEED + int(seed), delta, uniform, shell, fine=False, shell_width=FIT_SHELL_WIDTH)


FRESH_KEEP = 2


def fresh_shell(world: World, seed: int, version: int, delta: float | None = None,
                shell: int = 25_000) -> ProbeSet:
    """The red team's new look at the boundary shell for one model version: fresh
    seeded states each cycle, so flaws that slipped between the fixed fit states
    are found in a later cycle. Only the last FRESH_KEEP versions are kept."""
    key = ("fresh", int(seed), int(version), None if delta is None else float(delta), int(shell))
    cache = world._cache
    if key not in cache:
        old = [k for k in cache if isinstance(k, tuple) and k and k[0] == "fresh"]
        for k in old[:max(len(old) - FRESH_KEEP + 1, 0)]:
            del cache[k]
        cache[key] = ProbeSet.build(world, FIT_SEED + 7919 * (int(version) + 1) + int(seed), delta, uniform=0,
                                    shell=shell, fine=False, shell_width=FIT_SHELL_WIDTH)
    return cache[key]


# ------------------------------------------------------------------ sampling
def _dims(world: World) -> int:
    return 2 if world.is_terrain else 3


def _fine_grid(world: World, resolution: int | None) -> np.ndarray:
    n = int(resolution or world.resolution)
    fine = world.grid(2 * n - 1)
    coarse_point = np.all(np.indices(fine.shape).reshape(len(fine.shape), -1) % 2 == 0, axis=0)
    return fine.points[~coarse_point]


def _uniform(world: World, rng: np.random.Generator, n: int) -> np.ndarray:
    d = _dims(world)
    return world.to_state(rng.uniform(world.bounds_min[:d], world.bounds_max[:d], size=(n, d)))


def _shell(world: World, rng: np.random.Generator, n: int, w: float) -> np.ndarray:
    """States within ``w`` of a norm boundary, split evenly between boundaries."""
    d = _dims(world)
    shells = []
    if np.isfinite(world.boundary):
        sup = world.support_points()
        shells.append(("support", sup[:, :d], world.boundary))
    for norm in world.norms:
        if norm.kind != "support_required" and norm.region is not None:
            c = np.asarray(norm.region.center, float)[:d]
            shells.append((norm.region, c[None, :], norm.region.radius))
    if not shells:
        return np.zeros((0, 3), np.float32)
    out = []
    for i, (what, anchors, radius) in enumerate(shells):
        want = n // len(shells) + (1 if i < n % len(shells) else 0)
        # On a terrain the lifted distance exceeds the ground radius: draw from the whole disc.
        lo = 0.0 if world.is_terrain else max(radius - w, 0.0)
        got, total, rate = [], 0, 0.5
        for _ in range(12):
            if total >= want:
                break
            m = int(1.3 * (want - total) / max(rate, 0.02)) + 64
            u = rng.normal(size=(m, d))
            u /= np.linalg.norm(u, axis=1, keepdims=True)
            rho = rng.uniform(lo, radius + w, m)
            pos = anchors[rng.integers(0, len(anchors), m)] + u * rho[:, None]
            inside = np.all((pos >= world.bounds_min[:d]) & (pos <= world.bounds_max[:d]), axis=1)
            states = world.to_state(pos[inside])
            dist = nearest_support(world, states)[0] if what == "support" else what.distance(states)
            keep = states[np.abs(dist - radius) <= w]
            rate = max(len(keep) / m, 1e-3)
            got.append(keep)
            total += len(keep)
        out.append(np.concatenate(got)[:want] if got else np.zeros((0, 3)))
    return np.concatenate(out).astype(np.float32)


