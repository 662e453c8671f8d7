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

With off-grid *fit states* (``refine.probes.fit_states``: seeded states
between grid points, never the held-out probes) the red team also sweeps those,
and flawed fit states beyond B + 0.9 delta join the verified candidates (on
their nearest grid cell), so the flywheel removes flaws between grid points too.

Verified candidates are grouped into a handful of spatially coherent *regions*
(``triage_regions``: connected pieces of one distance band from the support and
one stretch of the expert route, at most MAX_REGIONS) -- the rows a person
triages -- and each region is covered greedily by balls (the findings). States a
previous cycle proved unremovable under the basin cap are not proposed again.
Everything is deterministic for a seed, and the report says how many model
evaluations it spent.
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
from explorer.refine.probes import ProbeSet, deep_violation

from .regions import triage_regions

NOVELTY_THRESHOLD = 3.0     # norm-free: 3x the expert samples' own spacing
OFF_GRID_BAND = 0.9         # off-grid flaws count from B + 0.9 delta: the probes beyond B + delta are
                            # held out, so the red team reports a little inside the guard band


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
    clusters: int = 0               # triage regions (Finding.cluster is the region id)
    off_grid_hits: int = 0          # sampled states between grid points that break a norm
    notes: list[str] = field(default_factory=list)
    off_grid_verified: int = 0      # flawed fit states between grid points (with fit states)
    regions: list[dict] = field(default_factory=list)   # one summary per triage region
    unremovable: list[dict] = field(default_factory=list)       # named by the patch of this audit
    unremovable_left: list[dict] = field(default_factory=list)  # named earlier, still flawed, not proposed
    verified_states: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32), repr=False)

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("findings", "verified_states")}
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
            previous: AuditReport | None = None, ranking: str = "priority",
            fit: ProbeSet | list[ProbeSet] | None = None) -> AuditReport:
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
        found = [np.zeros((0, 3), np.float32)]       # every flawed state the audit evaluated
        if len(extra_pts):
            hot = extra_r > world.floor
            if hot.any() and self.use_norms:
                hits = hot & world.violates(extra_pts)
                off_grid_hits = int(hits.sum())
                found.append(extra_pts[hits])
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

        # Red team, 3: the fit states between grid points (flawed beyond the guard band).
        off_cells, off_verified = np.zeros(land.grid.size, bool), 0
        off_reward = np.full(land.grid.size, -np.inf, np.float32)   # per cell: its flawed fit states' highest
        if fit is not None and self.use_norms:
            for one in (fit if isinstance(fit, (list, tuple)) else [fit]):
                cells, hot, hits, n_fit = self._off_grid(model, land, one, off_reward)
                off_cells |= cells
                off_verified += hot
                found.append(hits)
                evals += n_fit
        left = _still_flawed(previous, model, world) if previous is not None else []
        if left:
            blocked = self._near_cells(land, left)
            bad &= ~blocked
            off_cells &= ~blocked
        verified = int(bad.sum())
        found.append(land.points[bad])
        flagged = bad | off_cells
        uncertainty = model.expertness.disagreement_np(land.points[flagged]) if flagged.any() else np.zeros(0)
        evals += int(flagged.sum())
        unc_full = np.zeros(land.grid.size, np.float32)
        unc_full[flagged] = uncertainty
        findings, n_clusters, regions = self._cluster(land, flagged, reward, priority, unc_full, viol, ranking,
                                                      np.where(bad, reward, off_reward))
        notes = [f"{len(left)} flawed states are provably unremovable under the basin cap and are not "
                 f"proposed again"] if left else []
        return AuditReport(findings=findings, mode=mode, evaluations=evals,
                           seconds=time.perf_counter() - t0, candidates=candidates + off_verified,
                           verified=verified, side_effect_suppressed=side, clusters=n_clusters,
                           off_grid_hits=off_grid_hits, notes=notes, off_grid_verified=off_verified,
                           regions=regions, unremovable_left=left,
                           verified_states=np.concatenate(found).astype(np.float32))

    def _off_grid(self, model: RewardModel, land: Landscape, fit: ProbeSet, cell_reward: np.ndarray
                  ) -> tuple[np.ndarray, int, np.ndarray, int]:
        """Grid cells nearest to the flawed fit states beyond OFF_GRID_BAND of the guard
        band (the findings; the patch then covers fit states from B + 0.6 delta), their
        count, every flawed fit state (what the audit found), and the evaluations.
        ``cell_reward`` is raised, per cell, to the highest reward of those fit states:
        the evidence a finding quotes when its own grid cell is below the floor."""
        r = fit.reward(model)
        above = (r > self.world.floor) | ~np.isfinite(r)
        hot = deep_violation(self.world, fit.points, fit.distance, OFF_GRID_BAND * fit.delta) & above
        cells = np.zeros(land.grid.size, bool)
        if hot.any():
            nearest = self._nearest_cells(land, fit.points[hot])
            cells[nearest] = True
            np.maximum.at(cell_reward, nearest, np.nan_to_num(r[hot], nan=np.inf).astype(np.float32))
        return cells, int(hot.sum()), fit.points[fit.violates & above], len(fit)

    def _near_cells(self, land: Landscape, named: list[dict]) -> np.ndarray:
        pts = np.asarray([u["state"] for u in named], np.float32)
        out = np.zeros(land.grid.size, bool)
        out[self._nearest_cells(land, pts)] = True
        return out

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

    def _cluster(self, land, bad, reward, priority, unc, viol, ranking, evidence):
        """Triage regions of verified cells, each covered greedily by balls. ``evidence``
        is, per cell, the flawed reward it stands for: its own on the grid, or the
        highest among the flawed states between grid points nearest to it."""
        labels, regions = triage_regions(land, bad, reward)
        findings: list[Finding] = []
        pts = land.points
        R = self.finding_radius
        for reg in regions:
            c = reg["id"]
            cells = np.nonzero(labels == c)[0]
            key = priority[cells] if ranking == "priority" else reward[cells]
            order = cells[np.argsort(-key, kind="stable")]
            remaining = np.ones(len(order), bool)
            while remaining.any():
                head = order[np.argmax(remaining)]
                d = np.linalg.norm(pts[order] - pts[head], axis=1)
                members = order[remaining & (d <= R)]
                remaining &= d > R
                # At least half a cell's diagonal: the ball then holds the off-grid
                # states whose nearest cell this is.
                radius = float(max(np.linalg.norm(pts[members] - pts[head], axis=1).max(),
                                   0.5 * _spacing(land) * np.sqrt(len(land.grid.shape)) + 1e-4))
                kind, reason = self._evidence(head, land, viol, priority)
                findings.append(Finding(
                    id=0, center=tuple(float(v) for v in pts[head]), radius=float(np.ceil(radius * 1e4 + 1e-6) / 1e4),
                    score=float(reward[members].max()), kind=kind,
                    reason=f"{_reward_evidence(float(reward[head]), float(evidence[head]), self.world.floor)}; "
                           f"{reason}",
                    priority=float(priority[head]), cluster=c, cells=int(len(members)),
                    uncertainty=float(unc[members].mean())))
        key = (lambda f: f.priority) if ranking == "priority" else (lambda f: f.score)
        findings.sort(key=key, reverse=True)
        findings = [Finding(**{**f.to_dict(), "id": i + 1}) for i, f in enumerate(findings)]
        return findings, len(regions), regions

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


def _still_flawed(previous: AuditReport, model: RewardModel, world: World) -> list[dict]:
    """States named unremovable by earlier cycles that are still flaws now."""
    named = list(previous.unremovable) + list(previous.unremovable_left)
    if not named:
        return []
    pts = np.asarray([u["state"] for u in named], np.float32)
    still = world.violates(pts) & ~(model.reward(pts) <= world.floor)
    return [u for u, s in zip(named, still) if s]


def _spacing(land: Landscape) -> float:
    return float(max(a[1] - a[0] for a in land.grid.axes))




def _reward_evidence(cell: float, evidence: float, floor: float) -> str:
    """Why a finding's cell is flawed: its own reward above the floor, or (a cell found
    between grid points) the reward of the flawed state next to it."""
    if cell > floor:
        return f"reward {above(cell, floor)} > floor {floor:g}"
    return (f"reward {above(evidence, floor)} > floor {floor:g} between grid points "
            f"(at the cell itself {cell:.3f})")


def above(value: float, floor: float) -> str:
    """``value`` with as many decimals as it takes to read above ``floor`` (0.0503, not 0.05)."""
    for digits in range(2, 7):
        text = f"{value:.{digits}f}"
        if float(text) > floor:
            return text
    return f"{value:.6g}"
