"""Phase 1 audit: an automated search for spurious extrapolations.

As the paper and its authors' demo describe it, three roles:

* the **red team** sweeps the landscape grid, then samples densely around the
  previous cycle's flaws, and submits candidates whose reward is above the
  floor, farthest-from-support first;
* the **verifier** checks each candidate against the world's norms and writes an
  evidence string ("distance 0.61 > boundary 0.34"); in *norm-free* mode (worlds
  without declared norms, or ``use_norms=False``) it instead judges novelty from
  the learner's own data: distance to the nearest expert sample in input space
  and in E_theta's representation space, measured in units of the expert
  samples' own spacing;
* the **blue team** steers the search toward poorly covered, uncertain places
  (disagreement between E_theta's experts, on background states far from the
  samples) and, after a refinement, counts the previous flaws that neighbouring
  patches removed as a side effect.

Verified candidates are clustered into connected regions of the grid and each
region is covered greedily by balls (the findings); near candidates merge into
the same finding. Everything is deterministic for a seed, and the report says
how many model evaluations it spent.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from worlds import World

from explorer.model.finite import require_finite
from explorer.model.landscape import Landscape
from explorer.model.reward_model import RewardModel

NOVELTY_THRESHOLD = 3.0     # norm-free: 3x the expert samples' own spacing


@dataclass(frozen=True)
class Finding:
    id: int
    center: tuple[float, float, float]
    radius: float
    score: float            # highest served reward among the finding's cells
    kind: str               # "norm:<name>" or "novelty"
    reason: str             # the verifier's evidence
    priority: float         # distance from support (norm mode) or novelty
    cluster: int            # connected region it belongs to
    cells: int              # grid cells it covers
    uncertainty: float      # mean expert disagreement over its cells

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class AuditReport:
    findings: list[Finding]
    mode: str                       # "norms" | "norm-free"
    evaluations: int
    seconds: float
    candidates: int                 # states submitted by the red team
    verified: int                   # candidate grid cells the verifier confirmed
    side_effect_suppressed: int = 0
    clusters: int = 0
    off_grid_hits: int = 0          # sampled states between grid points that break a norm
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "findings"}
        d["findings"] = [f.to_dict() for f in self.findings]
        return d

    def cluster_representatives(self, by: str = "priority") -> list[Finding]:
        """One finding per cluster (the one a person sees), best first."""
        best: dict[int, Finding] = {}
        key = (lambda f: f.priority) if by == "priority" else (lambda f: f.score)
        for f in self.findings:
            if f.cluster not in best or key(f) > key(best[f.cluster]):
                best[f.cluster] = f
        return sorted(best.values(), key=key, reverse=True)


class Auditor:
    def __init__(self, world: World, use_norms: bool = True, seed: int = 0,
                 dense_per_finding: int = 64, blue_samples: int = 2000,
                 finding_radius: float | None = None):
        self.world = world
        self.use_norms = use_norms and bool(world.norms)
        self.seed = seed
        self.dense_per_finding = dense_per_finding
        self.blue_samples = blue_samples
        span = float(np.max(world.bounds_max - world.bounds_min))
        self.finding_radius = finding_radius or 0.2 * span

    # ------------------------------------------------------------------
    def run(self, model: RewardModel, land: Landscape | None = None,
            previous: AuditReport | None = None, ranking: str = "priority") -> AuditReport:
        t0 = time.perf_counter()
        world = self.world
        rng = np.random.default_rng(self.seed)
        land = land if land is not None else Landscape(model, world)
        evals = 0

        # Red team, 1: sweep the grid (the landscape's cached expertness counts
        # as one evaluation per cell).
        # NaN is never above the floor: a model serving it would audit as clean.
        # Refuse it (NonFiniteReward) rather than report zero flaws.
        reward = require_finite(land.reward(), model, "reward", "grid states")
        evals += land.grid.size
        above = reward > world.floor
        # Red team, 2: dense samples around the previous cycle's flaws.
        extra = []
        if previous is not None and previous.findings:
            for f in previous.findings:
                extra.append(self._ball(rng, f.center, f.radius, self.dense_per_finding))
        # Blue team: uncertain, poorly covered background states.
        bg = world.sample_background(self.blue_samples, seed=self.seed + 1)
        dis = model.expertness.disagreement_np(bg)
        evals += len(bg)
        cover = self._novelty(model, bg)
        steer = dis * np.minimum(cover, 10.0)
        extra.append(bg[np.argsort(-steer)[: max(1, len(bg) // 10)]])
        extra_pts = np.concatenate(extra).astype(np.float32) if extra else np.zeros((0, 3), np.float32)
        extra_r = model.reward(extra_pts) if len(extra_pts) else np.zeros(0, np.float32)
        evals += len(extra_pts)
        # Flaws are judged on the landscape grid (as the authors do); off-grid
        # states above the floor only steer the search and are reported, since
        # a grid-based patch cannot act on what lies between grid points.
        cand = above
        off_grid_hits = 0
        if len(extra_pts):
            hot = extra_r > world.floor
            if hot.any() and self.use_norms:
                off_grid_hits = int((hot & world.violates(extra_pts)).sum())
        candidates = int(above.sum()) + int((extra_r > world.floor).sum())

        # Verifier.
        if self.use_norms:
            viol = world.norm_violations(land.points)
            bad = np.zeros(land.grid.size, bool)
            for v in viol.values():
                bad |= v
            bad &= cand
            priority = land.distance.copy()
            mode = "norms"
        else:
            nov = require_finite(self._novelty(model, land.points), model, "novelty", "grid states")
            bad = cand & (nov > NOVELTY_THRESHOLD)
            priority = nov
            viol = {}
            mode = "norm-free"
        # Side effects: previous flaws that no longer are, though nobody patched them.
        side = 0
        if previous is not None and previous.findings:
            prev_centres = np.array([f.center for f in previous.findings], np.float32)
            idx = self._nearest_cells(land, prev_centres)
            side = int((~bad[idx]).sum())

        uncertainty = model.expertness.disagreement_np(land.points[bad]) if bad.any() else np.zeros(0)
        evals += int(bad.sum())
        unc_full = np.zeros(land.grid.size, np.float32)
        unc_full[bad] = uncertainty
        findings, n_clusters = self._cluster(land, bad, reward, priority, unc_full, viol, ranking)
        return AuditReport(findings=findings, mode=mode, evaluations=evals,
                           seconds=time.perf_counter() - t0, candidates=candidates,
                           verified=int(bad.sum()), side_effect_suppressed=side, clusters=n_clusters,
                           off_grid_hits=off_grid_hits)

    # ------------------------------------------------------------------
    def _ball(self, rng, center, radius, n) -> np.ndarray:
        dims = 2 if self.world.is_terrain else 3
        d = rng.normal(size=(n, dims))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        r = radius * rng.uniform(0, 1, n) ** (1 / dims)
        return self.world.to_state(np.asarray(center)[:dims] + d * r[:, None])

    def _nearest_cells(self, land: Landscape, pts: np.ndarray) -> np.ndarray:
        g = land.grid
        idx = []
        for i, axis in enumerate(g.axes):
            step = axis[1] - axis[0]
            idx.append(np.clip(np.rint((pts[:, i] - axis[0]) / step).astype(int), 0, len(axis) - 1))
        return np.ravel_multi_index(tuple(idx), g.shape)

    def _novelty(self, model: RewardModel, states: np.ndarray) -> np.ndarray:
        """Distance to the nearest expert sample, in units of the samples' own
        spacing, in input space and in E_theta's representation space (max of both)."""
        net = model.expertness
        samples = model.expert_samples
        with torch.inference_mode():
            x_s = net.normalise(torch.as_tensor(samples))
            x_q = net.normalise(torch.as_tensor(np.asarray(states, np.float32)))
            z_s, z_q = net.codes(x_s), net.codes(x_q)
        out = np.zeros(len(states), np.float32)
        for a, b in ((x_s, x_q), (z_s, z_q)):
            d_ss = torch.cdist(a, a)
            d_ss.fill_diagonal_(float("inf"))
            spacing = float(torch.median(d_ss.min(dim=1).values).clamp_min(1e-6))
            out = np.maximum(out, (torch.cdist(b, a).min(dim=1).values / spacing).numpy())
        return out

    def _cluster(self, land, bad, reward, priority, unc, viol, ranking):
        """Connected regions of verified cells, each covered greedily by balls."""
        shape = land.grid.shape
        labels = _components(bad.reshape(shape)).reshape(-1)
        n_clusters = int(labels.max())
        findings: list[Finding] = []
        pts = land.points
        R = self.finding_radius
        for c in range(1, n_clusters + 1):
            cells = np.nonzero(labels == c)[0]
            key = priority[cells] if ranking == "priority" else reward[cells]
            order = cells[np.argsort(-key, kind="stable")]
            remaining = np.ones(len(order), bool)
            while remaining.any():
                head = order[np.argmax(remaining)]
                d = np.linalg.norm(pts[order] - pts[head], axis=1)
                members = order[remaining & (d <= R)]
                remaining &= d > R
                radius = float(max(np.linalg.norm(pts[members] - pts[head], axis=1).max(),
                                   0.5 * _spacing(land)))
                kind, reason = self._evidence(head, land, viol, priority)
                findings.append(Finding(
                    id=0, center=tuple(float(v) for v in pts[head]), radius=round(radius, 4),
                    score=float(reward[members].max()), kind=kind,
                    reason=f"reward {float(reward[head]):.2f} > floor {self.world.floor:g}; {reason}",
                    priority=float(priority[head]), cluster=c, cells=int(len(members)),
                    uncertainty=float(unc[members].mean())))
        key = (lambda f: f.priority) if ranking == "priority" else (lambda f: f.score)
        findings.sort(key=key, reverse=True)
        findings = [Finding(**{**f.to_dict(), "id": i + 1}) for i, f in enumerate(findings)]
        return findings, n_clusters

    def _evidence(self, cell, land, viol, priority) -> tuple[str, str]:
        if not self.use_norms:
            return "novelty", (f"{priority[cell]:.1f}x the expert samples' spacing from the nearest "
                               f"one (threshold {NOVELTY_THRESHOLD:g}x)")
        for norm in self.world.norms:
            if viol.get(norm.name) is not None and viol[norm.name][cell]:
                if norm.kind == "support_required":
                    return (f"norm:{norm.name}",
                            f"distance {land.distance[cell]:.2f} > boundary {norm.boundary:g}")
                d = float(norm.region.distance(land.points[cell:cell + 1])[0])
                return (f"norm:{norm.name}",
                        f"inside {norm.region.name} ({d:.2f} from its centre, radius {norm.region.radius:g})")
        return "norm", "violates a norm"


def _spacing(land: Landscape) -> float:
    return float(max(a[1] - a[0] for a in land.grid.axes))


def _components(mask: np.ndarray) -> np.ndarray:
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
