"""Where suppression kernels go: a greedy cover of the flaws under the basin cap.

The problem, per refinement: a set of *target* states that must end at or below
the floor (flawed grid cells and, beyond the guard band, fit states between grid
points), a set of *protected* states that may lose only what the cap leaves them
(basin grid cells and fit states within B - delta), and a kernel budget.

The greedy, measured against the authors' one-kernel-per-flaw rule
(benchmarks/flywheel_bench.py):

* **wide far first** -- the seed is the open target farthest from the support;
  the widest bandwidth on a geometric ladder that still fits the cap is tried
  first, so a handful of wide kernels clears the bulk of the flawed volume;
* **tall kernels** -- a kernel's amplitude may reach AMP_MAX (the served sum is
  capped at 1), which makes it a flat-topped suppressor with a sharp edge: it
  clears a ball of radius ~2.2 bandwidths and leaks little beyond ~3;
* **pushed outward** -- candidate centres also sit 1-2 bandwidths beyond the seed,
  away from the support (off the grid, even outside the world's box), so a
  kernel's edge, not its centre, lies at the boundary;
* **predictive coverage** -- a candidate is scored by how many *open* targets it
  brings to the floor, counting every kernel already placed in this batch, and a
  target a kernel covered is never seeded again;
* **exact worst points** -- besides the sampled protected states, each
  candidate is checked at the certified basin's point nearest to its centre
  (where it is largest), together with every kernel already there.

A seed no candidate can cover is *stuck*. ``unremovable`` then says which stuck
targets are provably out of reach of the kernel family under the cap (see its
docstring for the bound).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explorer.model.patches import StateIndex

BW_MAX = 0.30
LADDER = 0.7               # each rung is 0.7x the bandwidth of the one above
AMP_MAX = 30.0             # 30 * exp(-8) = 0.01: the truncation step stays well below the floor
SHIFTS = (0.0, 1.0, 2.0)   # candidate centres, in bandwidths beyond the seed
RESOLUTION = 1e-4           # reward below anything the floor or the cap can resolve


@dataclass
class Targets:
    points: np.ndarray          # (n, 3)
    need: np.ndarray            # kernel sum still needed to bring each to the floor
    priority: np.ndarray        # seeds go in decreasing priority (far first)
    outward: np.ndarray         # (n, 3) unit direction away from the basin
    owner: np.ndarray           # (n,) the flag each target belongs to
    gap: np.ndarray | None = None       # about the distance to the nearest protected state
    distance: np.ndarray | None = None  # from the support (for reports)
    flaw: np.ndarray | None = None      # left open, would it count as a flaw? (not a guard-band margin state)

    def __post_init__(self) -> None:
        if self.gap is None:
            self.gap = np.full(len(self.points), np.inf, np.float32)
        if self.distance is None:
            self.distance = self.priority
        if self.flaw is None:
            self.flaw = np.ones(len(self.points), bool)


@dataclass
class Protected:
    """States that keep their reward, and what each may still lose.

    ``zone`` (optional) is the region the cap is promised on (the certified
    basin). Sampled states only bound a kernel where they are; the zone's own
    worst point for a kernel -- its nearest point to the kernel's centre, where
    that kernel alone is largest -- is checked exactly as well: the kernels there
    already, the ones this batch placed, and the new one together may take at most
    ``zone.cap`` of the reward of the protected states around it."""
    points: np.ndarray          # (m, 3)
    allow: np.ndarray           # kernel sum each may still take (cap, floor, per patch)
    base: np.ndarray | None = None       # their kernel-free reward (for the zone check)
    served: np.ndarray | None = None     # their reward now
    zone: object = None                  # a Zone, or None


@dataclass
class Zone:
    """The certified basin for the exact worst-point check (see ``Protected``)."""
    worst_point: object         # callable: centre (3,) -> (nearest zone point (3,), its distance)
    existing: object            # callable: points (k, 3) -> kernel sum of the model's kernels
    base: object                # callable: points (k, 3) -> kernel-free reward
    cap: float                  # fraction of the reward the zone may lose in all (after margins)
    per_patch: float            # ... and to this patch


@dataclass
class Placement:
    centers: list = field(default_factory=list)
    bandwidths: list = field(default_factory=list)
    amplitudes: list = field(default_factory=list)
    owners: list = field(default_factory=list)
    covered: np.ndarray | None = None     # targets at the floor after placement
    stuck: np.ndarray | None = None       # seeds no candidate could cover
    exhausted: bool = False               # the kernel budget ran out with targets open

    def __len__(self) -> int:
        return len(self.centers)


def ladder(bw_max: float, bw_min: float) -> list[float]:
    """Bandwidths from bw_max down to bw_min, as float32 values: the kernels are
    stored in float32, and a state at the truncation edge must be judged inside
    or outside exactly as it will be served."""
    out, bw = [], float(bw_max)
    while bw > bw_min * 1.0001:
        out.append(_f32(bw))
        bw *= LADDER
    out.append(_f32(bw_min))
    return out


def _f32(x: float, down: bool = False) -> float:
    """x as the float32 it will be stored as (rounded toward zero with ``down``)."""
    v = np.float32(x)
    if down and float(v) > x:
        v = np.nextafter(v, np.float32(0))
    return float(v)


def place(targets: Targets, protected: Protected, budget: int | None, bw_min: float,
          bw_max: float = BW_MAX, amp_max: float = AMP_MAX, fixed_bandwidth: float | None = None,
          cap_free: bool = False) -> Placement:
    """Greedy cover (module docstring). ``fixed_bandwidth`` is the authors' ablation:
    one kernel of that bandwidth and amplitude 1 per open target, farthest first,
    trimmed only by the protected states' allowance (``cap_free``: not at all)."""
    n = len(targets.points)
    out = Placement(covered=np.zeros(n, bool), stuck=np.zeros(n, bool))
    if n == 0:
        return out
    budget = n if budget is None else int(budget)
    t_index = StateIndex(targets.points)
    p_index = StateIndex(protected.points) if len(protected.points) else None
    need = targets.need.astype(np.float32).copy()
    got = np.zeros(n, np.float32)
    allow = protected.allow.astype(np.float32).copy()
    open_ = need > 0
    out.covered[:] = ~open_
    order = np.argsort(-targets.priority, kind="stable")
    rungs = [_f32(fixed_bandwidth)] if fixed_bandwidth is not None else ladder(bw_max, bw_min)
    batch = _Batch(protected)
    ptr = 0
    while len(out) < budget:
        while ptr < n and (not open_[order[ptr]] or out.stuck[order[ptr]]):
            ptr += 1
        if ptr >= n:
            break
        t = int(order[ptr])
        if fixed_bandwidth is not None:
            best = _fixed(t, targets, rungs[0], p_index, allow, cap_free)
        else:
            best = _best_candidate(t, targets, need - got, open_, rungs, p_index, allow, t_index, amp_max, batch)
        if best is None:
            out.stuck[t] = True
            continue
        c, bw, amp = best
        idx, v = t_index.values(c, bw, amp)
        got[idx] += v
        if p_index is not None:
            pidx, pv = p_index.values(c, bw, amp)
            allow[pidx] -= pv
        batch.add(c, bw, amp)
        newly = idx[open_[idx] & (got[idx] >= need[idx])]
        open_[newly] = False
        out.covered[newly] = True
        if fixed_bandwidth is not None:
            out.stuck[t] = open_[t]       # the ablation places one kernel per target, covered or not
        out.centers.append(np.asarray(c, np.float32))
        out.bandwidths.append(bw)
        out.amplitudes.append(amp)
        out.owners.append(int(targets.owner[t]))
    out.exhausted = bool(open_[~out.stuck].any())
    return out


class _Batch:
    """The kernels placed so far in this batch, for the zone check."""

    def __init__(self, protected: Protected):
        self.protected = protected
        self.c, self.bw, self.a = [], [], []
        self._at: dict = {}

    def add(self, c, bw, amp) -> None:
        self.c.append(np.asarray(c, np.float32))
        self.bw.append(bw)
        self.a.append(amp)

    def at(self, point: np.ndarray) -> float:
        if not self.c:
            return 0.0
        d2 = np.sum((np.asarray(self.c) - point) ** 2, axis=1)
        bw = np.asarray(self.bw)
        q = d2 / bw ** 2
        return float(np.sum(np.where(q <= 16.0, np.asarray(self.a) * np.exp(-0.5 * np.minimum(q, 16.0)), 0.0)))

    def zone_limit(self, c, bw) -> float:
        """Largest amplitude the zone's worst point for a kernel at c allows: the
        kernels there already, this batch's and the new one within the cap of the
        reward there (evaluated at that very point)."""
        z = self.protected.zone
        if z is None:
            return np.inf
        p, h = z.worst_point(c)
        if h >= 4.0 * bw:
            return np.inf
        key = (round(float(p[0]), 6), round(float(p[1]), 6), round(float(p[2]), 6))
        if key not in self._at:
            self._at[key] = (float(z.base(p[None, :])[0]), float(z.existing(p[None, :])[0]))
        base, existing = self._at[key]
        batch = self.at(p)
        served = max(base - min(existing, 1.0), 0.0)
        if served <= 0.0:
            return np.inf                 # nothing left to keep there
        room = min(z.cap * base - existing - batch, z.per_patch * served - batch)
        return max(room, 0.0) / float(np.exp(-0.5 * (h / bw) ** 2))


def _amplitude_limit(c, bw, p_index, allow, batch: _Batch | None = None) -> float:
    if p_index is None:
        return np.inf
    pidx, pk = p_index.values(c, bw, 1.0)
    # Every contribution counts (tiny ones add up over hundreds of kernels); the
    # truncation at 4 bandwidths is what lets a kernel leave a state untouched.
    touched = pk > 0
    limit = np.inf
    if touched.any():
        room = np.maximum(allow[pidx[touched]], 0.0)
        limit = float(np.min(room / pk[touched]))
    if batch is not None:
        limit = min(limit, batch.zone_limit(c, bw))
    return limit


def _best_candidate(t, targets, short, open_, rungs, p_index, allow, t_index, amp_max, batch):
    """The widest rung (and the next one down) whose best centre covers seed t within
    the allowance; returns (centre, bandwidth, amplitude) with the largest gain."""
    point, out_dir, need_t = targets.points[t], targets.outward[t], float(short[t])
    best, best_gain, feasible_rungs = None, -1.0, 0
    # A kernel leaks at least (amp / 10) at 3 bandwidths from its centre, and the
    # centre is at most 2 bandwidths beyond the seed: rungs wider than the gap to
    # the nearest protected state cannot fit, so the search starts below it.
    for bw in (r for r in rungs if r <= max(float(targets.gap[t]), rungs[-1])):
        bases = [point]
        near = t_index.near(point, 2.2 * bw)
        near = near[open_[near]]
        if len(near) > 1:
            bases.append(targets.points[near].mean(axis=0))
        for base, s in [(b, s) for b in bases for s in SHIFTS]:
            c = (base + s * bw * out_dir).astype(np.float32)
            amp = _f32(min(amp_max, _amplitude_limit(c, bw, p_index, allow, batch)), down=True)
            if amp * np.exp(-0.5 * s * s) < need_t:
                continue
            idx, v = t_index.values(c, bw, amp)
            gain = float(np.sum(open_[idx] & (v >= short[idx])))
            if gain > best_gain:
                best, best_gain = (c, bw, amp), gain
        if best is not None:
            feasible_rungs += 1
            if feasible_rungs == 2:
                break
    return best


def _fixed(t, targets, bw, p_index, allow, cap_free):
    c = targets.points[t].astype(np.float32)
    amp = 1.0 if cap_free else _f32(min(1.0, _amplitude_limit(c, bw, p_index, allow)), down=True)
    return (c, bw, amp) if amp > 0.05 else None


def unremovable(targets: Targets, protected: Protected, short: np.ndarray, candidates: np.ndarray,
                bw_min: float, kernels: int, amp_max: float = AMP_MAX) -> list[dict]:
    """Targets no ``kernels`` Gaussian kernels (bandwidth >= bw_min, amplitude <= amp_max)
    can bring to the floor without some protected state losing more than it may.

    Restricted to the line through a target f and a protected state p (gap g),
    every kernel is a 1D Gaussian of amplitude <= amp_max and bandwidth >= bw_min.
    Bringing f down by D with N kernels, each contributing D/N at f from u = t/bw
    bandwidths beyond it (u <= L = sqrt(2 ln(N amp_max / D))), puts at least
    D exp(-g L / bw_min - g^2 / (2 bw_min^2)) on p; spreading the contributions
    evenly is the best case, since a kernel's cost at p per unit it gives f only
    grows with what it gives. If that exceeds p's allowance (by more than
    RESOLUTION), f is out of reach. (Kernels are truncated at 4 bandwidths; the
    bound treats them as untruncated, so a patch never relies on a kernel's cut
    edge to spare the basin.)"""
    out = []
    if len(protected.points) == 0:
        return out
    p_index = StateIndex(protected.points)
    for t in np.nonzero(candidates)[0]:
        D = float(short[t])
        if D <= 0:
            continue
        L = np.sqrt(2.0 * np.log(max(kernels * amp_max / D, 1.0 + 1e-9)))
        reach = bw_min * (L + 8.0)
        pidx = p_index.near(targets.points[t], reach)
        if len(pidx) == 0:
            continue
        g = np.linalg.norm(protected.points[pidx] - targets.points[t], axis=1)
        least = D * np.exp(-g * L / bw_min - g * g / (2 * bw_min * bw_min))
        over = least > np.maximum(protected.allow[pidx], 0.0) + RESOLUTION
        if over.any():
            j = int(pidx[np.argmax(np.where(over, least - protected.allow[pidx], -np.inf))])
            out.append({"target": int(t), "blocker": j, "gap": float(np.linalg.norm(
                protected.points[j] - targets.points[t])), "allowance": float(protected.allow[j]),
                "least_cost": float(least[np.nonzero(pidx == j)[0][0]])})
    return out
