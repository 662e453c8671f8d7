"""One turn of the Alignment Flywheel, readable top to bottom:

    audit -> select -> patch -> regression check -> red-team the patched places again -> release

``run_cycle`` is the unattended turn. The window splits the same turn at its
human step: ``audit`` runs as one job, a person triages the findings (that is
the *select* step), and ``patch_accepted`` runs the rest. ``Session.cycle``,
``explorer cycle``, ``explorer figure`` and the benchmarks all call these
functions, so the window, the CLI and a script can never disagree. The
previous cycle's audit feeds the next one (the red team samples densely
around earlier flaws).

Releasing here means *deciding* that the new version may be released: the
caller (the session) stores it. A version whose regression check fails is not
released and the caller keeps the parent.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explorer.model.flags import Flag
from explorer.model.landscape import Landscape
from explorer.model.reward_model import RewardModel
from explorer.refine import BASIN_CAP, PatchReport, RefinementError, local_patch, regression_check

from .audit import AuditReport, Auditor, Finding
from .metrics import version_metrics

ABLATIONS = ("fixed-bandwidth",)


@dataclass(frozen=True)
class CycleSettings:
    """How a cycle runs. ``ablation="fixed-bandwidth"``: one bandwidth (0.3), no
    basin cap and no regression gate, to compare against the adaptive rule."""
    use_norms: bool = True
    ablation: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.ablation is not None and self.ablation not in ABLATIONS:
            raise RefinementError(f"ablation must be one of {ABLATIONS}, got {self.ablation!r}")


@dataclass
class CycleResult:
    """What one turn did. ``model`` is the new version if ``released``, else the parent."""
    parent: RewardModel
    model: RewardModel
    released: bool
    audit: AuditReport
    accepted: list[Finding]
    patch: PatchReport | None
    check: dict
    metrics: dict
    messages: list[str] = field(default_factory=list)


def findings_to_flags(findings: list[Finding]) -> list[Flag]:
    return [Flag(i + 1, f.center, f.radius) for i, f in enumerate(findings)]


# ------------------------------------------------------------------ Phase 1
def audit(model: RewardModel, land: Landscape, previous: AuditReport | None = None,
          settings: CycleSettings = CycleSettings()) -> AuditReport:
    """Red team, verifier and blue team on the version ``land`` shows."""
    return Auditor(land.world, use_norms=settings.use_norms, seed=settings.seed).run(model, land, previous)


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
    before = land.reward()
    if not accepted:
        metrics = version_metrics(land, before, report)
        return CycleResult(model, model, False, report, [], None, {"passed": True}, metrics,
                           ["nothing accepted: no new version"])

    # Patch the verified flaw cells inside the accepted findings, not every cell a
    # finding's ball happens to cover.
    flags = findings_to_flags(accepted)
    targets = land.flaw_mask(before) if report.mode == "norms" else None
    fixed = settings.ablation == "fixed-bandwidth"
    try:
        child, patch = local_patch(model, land, flags, cap=None if fixed else BASIN_CAP,
                                   fixed_bandwidth=0.30 if fixed else None, targets=targets)
    except RefinementError as exc:
        metrics = version_metrics(land, before, report, accepted)
        return CycleResult(model, model, False, report, accepted, None, {"passed": False}, metrics, [str(exc)])
    land.set_model(child, same_expertness=True)

    # Regression check: the basin keeps its reward.
    check = regression_check(before, land)
    # Red team again: dense samples between grid points inside each accepted finding.
    check["residual_flaws_in_patched_places"] = red_team_again(child, world, accepted, settings.seed)
    metrics = version_metrics(land, before, report, accepted, flags, patch)

    # Release, or keep the parent.
    gate = not fixed
    if gate and not check["passed"]:
        land.set_model(model, same_expertness=True)
        why = (f"regression check failed: the worst basin cell would lose {check['basin_worst_cell_loss']:.1%} "
               f"of its reward (cap {BASIN_CAP:.0%}), basin {check['basin_cells_before']} -> "
               f"{check['basin_cells_after']} cells; not released, v{model.version} stays")
        return CycleResult(model, model, False, report, accepted, patch, check, metrics, [why])
    child.edits[-1].update({"cycle": True, "audit_of_version": model.version, "audit": audit_summary(report),
                            "findings": [f.to_dict() for f in accepted], "regression_check": check})
    child.metrics = metrics
    return CycleResult(model, child, True, report, accepted, patch, check, metrics)


def audit_summary(report: AuditReport) -> dict:
    return {"mode": report.mode, "evaluations": report.evaluations, "seconds": round(report.seconds, 4),
            "findings": len(report.findings), "clusters": report.clusters, "verified": report.verified}


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
    """Repeat unattended turns, each audit fed by the last; stop once nothing is released."""
    if land.model is not model:
        land.set_model(model)
    results: list[CycleResult] = []
    previous = None
    for _ in range(cycles):
        res = run_cycle(model, land, previous, accept, settings)
        results.append(res)
        if not res.released:
            break
        model, previous = res.model, res.audit
    return results
