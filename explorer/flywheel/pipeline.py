"""One turn of the Alignment Flywheel, readable top to bottom:

    audit -> select -> patch -> regression check -> red-team the patched places again -> release

``run_cycle`` is the unattended turn. The window splits the same turn at its
human step: ``audit`` runs as one job, a person triages the findings (that is
the *select* step), and ``patch_accepted`` runs the rest. ``Session.cycle``,
``explorer cycle``, ``explorer figure`` and the benchmarks all call these
functions, so the window, the CLI and a script can never disagree. The
previous cycle's audit feeds the next one (the red team samples densely
around earlier flaws).

Every figure comes twice: on the landscape grid, and *certified* on a held-out
probe set between grid points with the guard band delta (``refine.probes``).
The patch covers flaws between grid points too (it fits to off-grid states
the probes never share), within ``kernel_budget`` kernels, and the regression
check holds the cap on the probes as well as on the grid.

Releasing here means *deciding* that the new version may be released: the
caller (the session) stores it. A version whose regression check fails is not
released and the caller keeps the parent. Flaws that no kernel can remove
without breaking the cap are named (``CycleResult.unremovable``), and the next
audit does not propose them again, so a cycle never repeats itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explorer.model.flags import Flag
from explorer.model.landscape import Landscape
from explorer.model.reward_model import RewardModel
from explorer.refine import BASIN_CAP, PatchReport, RefinementError, local_patch, regression_check
from explorer.refine.local import NoPatch
from explorer.refine.probes import ProbeSet, fit_states, fresh_shell, guard_band, probe_set

from .audit import AuditReport, Auditor, Finding
from .metrics import version_metrics

AUTHORS = "authors-fixed-bandwidth"
FIXED_03 = "fixed-bandwidth-0.3"
ABLATIONS = (AUTHORS, FIXED_03)
ALIASES = {"fixed-bandwidth": FIXED_03}
AUTHORS_BUDGET = 60          # kernels per iteration in the authors' flywheel
ABLATION_BANDWIDTH = {AUTHORS: 0.05, FIXED_03: 0.30}
CAUTION = (1.0, 2.0, 4.0)    # a refused patch is placed again with what off-grid basin states may lose halved


@dataclass(frozen=True)
class CycleSettings:
    """How a cycle runs.

    ``kernel_budget``: at most this many kernels per cycle (None: as many as the
    flaws need). ``guard_band``: delta for the certified figures (None: the
    world's, else half the grid spacing). ``probe_states``: uniform held-out
    probes (plus a grid twice as fine and 0.6x as many shell states); 0 measures
    on the grid only and fits to grid cells only. ``off_grid``: the red team and
    the patch also use off-grid fit states (a fixed seeded set and a fresh shell
    per version, never the probes; with probes).

    Ablations: ``"authors-fixed-bandwidth"`` is the authors' own: bandwidth 0.05,
    60 kernels per iteration, each batch checked against the cap per patch only
    (no cumulative cap), released without a gate. ``"fixed-bandwidth-0.3"`` (alias
    ``"fixed-bandwidth"``): bandwidth 0.3, no basin cap and no regression gate."""
    use_norms: bool = True
    ablation: str | None = None
    seed: int = 0
    kernel_budget: int | None = None
    guard_band: float | None = None
    probe_states: int = 100_000
    off_grid: bool = True

    def __post_init__(self) -> None:
        ab = ALIASES.get(self.ablation, self.ablation)
        if ab is not None and ab not in ABLATIONS:
            raise RefinementError(f"ablation must be one of {ABLATIONS + tuple(ALIASES)}, got {self.ablation!r}")
        object.__setattr__(self, "ablation", ab)
        kb = self.kernel_budget
        if kb is not None and (isinstance(kb, bool) or not isinstance(kb, (int, np.integer)) or kb < 1):
            raise RefinementError(f"kernel_budget: expected a whole number >= 1 or None, got {kb!r}")
        if self.guard_band is not None and not (np.isfinite(self.guard_band) and self.guard_band >= 0):
            raise RefinementError(f"guard_band: expected a finite number >= 0 or None, got {self.guard_band!r}")
        if isinstance(self.probe_states, bool) or not isinstance(self.probe_states, (int, np.integer)) \
                or self.probe_states < 0:
            raise RefinementError(f"probe_states: expected a whole number >= 0, got {self.probe_states!r}")

    @property
    def budget(self) -> int | None:
        """Kernels per cycle: the setting, or the authors' 60 for their ablation."""
        if self.kernel_budget is not None:
            return int(self.kernel_budget)
        return AUTHORS_BUDGET if self.ablation == AUTHORS else None


@dataclass
class CycleResult:
    """What one turn did. ``model`` is the new version if ``released``, else the parent.

    ``kernels``: kernels placed this cycle. ``certified``: the figures on the
    held-out probes (flaws beyond B + delta, basin_worst_loss within B - delta as
    a fraction, probes, delta; None without probes). ``unremovable``: flawed
    states no kernel can remove under the cap (each with its state, distance, the
    blocking basin state and the reason), for the window to draw. ``stalled``:
    nothing removable was left to do."""
    parent: RewardModel
    model: RewardModel
    released: bool
    audit: AuditReport
    accepted: list[Finding]
    patch: PatchReport | None
    check: dict
    metrics: dict
    messages: list[str] = field(default_factory=list)
    kernels: int = 0
    certified: dict | None = None
    unremovable: list[dict] = field(default_factory=list)
    stalled: bool = False


def findings_to_flags(findings: list[Finding]) -> list[Flag]:
    return [Flag(i + 1, f.center, f.radius) for i, f in enumerate(findings)]


def probes_for(world, settings: CycleSettings = CycleSettings()) -> ProbeSet | None:
    """The held-out probes a cycle measures on (cached per world), or None."""
    if settings.probe_states <= 0:
        return None
    n = int(settings.probe_states)
    return probe_set(world, settings.seed, settings.guard_band, uniform=n, shell=int(0.6 * n))


def fit_for(world, settings: CycleSettings = CycleSettings(), version: int | None = None) -> list[ProbeSet] | None:
    """Off-grid states the red team and the patch use (never the probes), or None:
    a fixed seeded set, plus, for a model version, a fresh look at the boundary
    shell (so a flaw that slipped between the fixed states is found next cycle)."""
    if settings.probe_states <= 0 or not settings.off_grid or settings.ablation is not None \
            or not world.norms or not settings.use_norms:
        return None
    out = [fit_states(world, settings.seed, settings.guard_band)]
    if version is not None:
        out.append(fresh_shell(world, settings.seed, version, settings.guard_band))
    return out


# ------------------------------------------------------------------ Phase 1
def audit(model: RewardModel, land: Landscape, previous: AuditReport | None = None,
          settings: CycleSettings = CycleSettings()) -> AuditReport:
    """Red team, verifier and blue team on the version ``land`` shows (off the grid too)."""
    return Auditor(land.world, use_norms=settings.use_norms, seed=settings.seed).run(
        model, land, previous, fit=fit_for(land.world, settings, model.version))


# ------------------------------------------------------------------ Phase 2 (unattended)
def select(report: AuditReport, accept: str) -> list[Finding]:
    """``all`` or ``top:K`` findings by the audit's ranking: the unattended triage."""
    if accept == "all":
        return list(report.findings)
    if isinstance(accept, str) and accept.startswith("top:"):
        try:
            k = int(accept.split(":", 1)[1])
        except ValueError:
            raise RefinementError(f"accept: expected all or top:K with K a whole number, got {accept!r}") from None
        if k < 1:
            raise RefinementError(f"accept: K must be >= 1, got {k}")
        return list(report.findings[:k])
    raise RefinementError(f"accept: expected all or top:K, got {accept!r}")


# ------------------------------------------------------------------ Phase 3
def patch_accepted(model: RewardModel, land: Landscape, report: AuditReport, accepted: list[Finding],
                   settings: CycleSettings = CycleSettings()) -> CycleResult:
    """Patch the accepted findings, check, red-team again, and decide the release.

    ``land`` must show ``model``; afterwards it shows the released version, or
    ``model`` again if nothing was released."""
    world = land.world
    before = land.reward().copy()
    probes = probes_for(world, settings)
    if not accepted:
        metrics = _metrics(land, before, report, probes, model, model)
        msg = "nothing accepted: no new version"
        if report.unremovable_left:
            msg += (f"; {len(report.unremovable_left)} flawed states are provably unremovable under the "
                    f"{BASIN_CAP:.0%} cap (named in the previous cycle)")
        return CycleResult(model, model, False, report, [], None, {"passed": True}, metrics, [msg],
                           certified=metrics.get("certified"), unremovable=list(report.unremovable_left),
                           stalled=bool(report.unremovable_left))

    # Patch the verified flaws inside the accepted findings (grid cells and, off
    # the grid, the red team's states), not every state a finding's ball covers.
    flags = findings_to_flags(accepted)
    targets = land.flaw_mask(before) if report.mode == "norms" else None
    ab = settings.ablation
    fit = fit_for(world, settings, model.version)
    messages: list[str] = []
    for caution in CAUTION:
        try:
            child, patch = local_patch(model, land, flags, cap=None if ab == FIXED_03 else BASIN_CAP,
                                       fixed_bandwidth=ABLATION_BANDWIDTH.get(ab), targets=targets,
                                       kernel_budget=settings.budget, fit=fit, cumulative=ab is None,
                                       caution=caution)
        except NoPatch as exc:
            metrics = _metrics(land, before, report, probes, model, model, accepted)
            stuck = exc.report.unremovable
            report.unremovable = stuck
            msg = str(exc)
            if stuck:
                msg = (f"stalled: {len(stuck)} flawed states are provably unremovable under the "
                       f"{BASIN_CAP:.0%} cap (the nearest: {stuck[0]['reason']}); the cycle ends here")
            return CycleResult(model, model, False, report, accepted, exc.report, {"passed": False}, metrics,
                               messages + [msg], certified=metrics.get("certified"), unremovable=stuck,
                               stalled=True)
        except RefinementError as exc:
            metrics = _metrics(land, before, report, probes, model, model, accepted)
            return CycleResult(model, model, False, report, accepted, None, {"passed": False}, metrics,
                               messages + [str(exc)], certified=metrics.get("certified"))
        report.unremovable = list(patch.unremovable)
        land.set_model(child, same_expertness=True)
        # Regression check, both ways, on the grid and between grid points.
        check = regression_check(before, land, BASIN_CAP, flagged=accepted, probes=probes, before_model=model,
                                 cumulative=ab is None)
        if check["passed"] or ab is not None or fit is None or caution == CAUTION[-1]:
            break
        # Refused: the basin between the fit states lost too much. Patch again, more cautiously.
        messages.append(f"regression check refused the patch ({check['reasons'][0]}); patching again with "
                        f"{2 * caution:g}x the caution")
        land.set_model(model, same_expertness=True)
    # Red team again: dense samples between grid points inside each accepted finding.
    check["residual_flaws_in_patched_places"] = red_team_again(child, world, accepted, settings.seed)
    released = ab is not None or check["passed"]
    if released:
        # Before the metrics: the findings this cycle confirms count in spurious_max_reward.
        child.edits[-1].update({"cycle": True, "audit_of_version": model.version, "audit": audit_summary(report),
                                "findings": [f.to_dict() for f in accepted], "regression_check": check,
                                **({"ablation": ab} if ab else {})})
    metrics = _metrics(land, before, report, probes, model, child, accepted, flags, patch, check)
    messages += list(patch.messages)
    if patch.unremovable:
        messages.append(f"{len(patch.unremovable)} flawed states are provably unremovable under the "
                        f"{BASIN_CAP:.0%} cap; they are named and not proposed again")

    # Release, or keep the parent (the ablations release without a gate).
    if not released:
        land.set_model(model, same_expertness=True)
        why = ("regression check failed: " + "; ".join(check["reasons"][:3])
               + f"; not released, v{model.version} stays")
        return CycleResult(model, model, False, report, accepted, patch, check, metrics, [why] + messages,
                           kernels=0, certified=check.get("certified"), unremovable=list(patch.unremovable))
    child.metrics = metrics
    return CycleResult(model, child, True, report, accepted, patch, check, metrics, messages,
                       kernels=patch.kernels_added, certified=check.get("certified"),
                       unremovable=list(patch.unremovable))


def _metrics(land, before, report, probes, parent, model, accepted=(), flags=(), patch=None, check=None) -> dict:
    """The version metrics, with the kernels of this cycle and the certified figures."""
    certified = None
    if check is not None and "certified" in check:
        certified = check["certified"]
    elif probes is not None:
        r = probes.reward(model)            # nothing patched: model is parent, evaluate once
        certified = probes.certify(r, r if model is parent else probes.reward(parent), cap=BASIN_CAP)
    return version_metrics(land, before, report, accepted, flags, patch,
                           kernels=0 if patch is None else int(patch.kernels_added), certified=certified)


def audit_summary(report: AuditReport) -> dict:
    return {"mode": report.mode, "evaluations": report.evaluations, "seconds": round(report.seconds, 4),
            "findings": len(report.findings), "clusters": report.clusters, "verified": report.verified,
            "off_grid_verified": report.off_grid_verified}


def red_team_again(model: RewardModel, world, findings: list[Finding], seed: int, n: int = 64) -> int:
    """States between grid points, inside the patched findings, still above the floor
    although they break a norm."""
    rng = np.random.default_rng(seed + 7)
    dims = 2 if world.is_terrain else 3
    pts = []
    for f in findings:
        d = rng.normal(size=(n, dims))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        r = f.radius * rng.uniform(0, 1, n) ** (1 / dims)
        pts.append(world.to_state(np.asarray(f.center)[:dims] + d * r[:, None]))
    states = np.concatenate(pts).astype(np.float32)
    return int((world.violates(states) & (model.reward(states) > world.floor)).sum())


# ------------------------------------------------------------------ the unattended turn
def run_cycle(model: RewardModel, land: Landscape, previous: AuditReport | None = None,
              accept: str = "all", settings: CycleSettings = CycleSettings()) -> CycleResult:
    """audit -> select -> patch -> check -> red team -> release, with no person in the loop."""
    report = audit(model, land, previous, settings)
    accepted = select(report, accept)
    return patch_accepted(model, land, report, accepted, settings)


def run_cycles(model: RewardModel, land: Landscape, cycles: int, accept: str = "all",
               settings: CycleSettings = CycleSettings()) -> list[CycleResult]:
    """Repeat unattended turns, each audit fed by the last; stop once nothing is
    released or only unremovable flaws are left."""
    if land.model is not model:
        land.set_model(model)
    results: list[CycleResult] = []
    previous = None
    for _ in range(cycles):
        res = run_cycle(model, land, previous, accept, settings)
        results.append(res)
        if not res.released or res.stalled:
            break
        model, previous = res.model, res.audit
    return results


__all__ = ["ABLATIONS", "AUTHORS", "FIXED_03", "CycleSettings", "CycleResult", "audit", "select",
           "patch_accepted", "run_cycle", "run_cycles", "findings_to_flags", "red_team_again",
           "probes_for", "fit_for", "guard_band"]
