"""One turn of the Alignment Flywheel: audit -> triage -> refine -> release.

``run_cycle`` is the unattended version (``explorer cycle``): it accepts all
findings, or the top K by priority, turns them into flags, patches them, runs
the regression check, red-teams the patched places again, and returns the new
version with everything that led to it recorded in its edits and metrics. A
version whose regression check fails is not released (``released=False``): the
caller keeps the parent.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from worlds import World

from explorer.flywheel.audit import AuditReport, Auditor, Finding
from explorer.model.flags import Flag
from explorer.model.landscape import Landscape
from explorer.model.metrics import landscape_metrics
from explorer.refine import BASIN_CAP, PatchReport, RefinementError, local_patch, regression_check
from explorer.model.reward_model import RewardModel


@dataclass
class CycleResult:
    model: RewardModel              # the new version (or the parent if nothing was released)
    released: bool
    audit: AuditReport
    accepted: list[Finding]
    patch: PatchReport | None
    check: dict
    metrics: dict
    messages: list[str] = field(default_factory=list)


def findings_to_flags(findings: list[Finding]) -> list[Flag]:
    return [Flag(i + 1, f.center, f.radius) for i, f in enumerate(findings)]


def select(audit: AuditReport, accept: str) -> list[Finding]:
    """``all`` or ``top:K`` (by the audit's ranking)."""
    if accept == "all":
        return list(audit.findings)
    if accept.startswith("top:"):
        try:
            k = int(accept.split(":", 1)[1])
        except ValueError:
            raise RefinementError(f"--accept: expected all or top:K with K a whole number, got {accept!r}") from None
        if k < 1:
            raise RefinementError(f"--accept: K must be >= 1, got {k}")
        return list(audit.findings[:k])
    raise RefinementError(f"--accept: expected all or top:K, got {accept!r}")


def run_cycle(model: RewardModel, world: World, land: Landscape | None = None,
              accept: str = "all", previous: AuditReport | None = None, use_norms: bool = True,
              adaptive: bool = True, regression: bool = True, seed: int = 0) -> CycleResult:
    land = land if land is not None else Landscape(model, world)
    if land.model is not model:
        land.set_model(model)
    before = land.reward()
    audit = Auditor(world, use_norms=use_norms, seed=seed).run(model, land, previous)
    accepted = select(audit, accept)
    if not accepted:
        metrics = landscape_metrics(land, before)
        metrics.update(_audit_metrics(audit, 0))
        return CycleResult(model, False, audit, [], None, {"passed": True}, metrics,
                           ["the audit found nothing to patch: no new version"])
    flags = findings_to_flags(accepted)
    # Patch the verified flaw cells inside the accepted findings, not every cell
    # the finding's ball happens to cover.
    targets = land.flaw_mask(before) if audit.mode == "norms" else None
    try:
        if adaptive:
            new, patch = local_patch(model, land, flags, cap=BASIN_CAP, targets=targets)
        else:
            # The ablation: one wide bandwidth, no basin cap, no regression gate.
            new, patch = local_patch(model, land, flags, cap=None, fixed_bandwidth=0.30, targets=targets)
    except RefinementError as exc:
        metrics = landscape_metrics(land, before)
        metrics.update(_audit_metrics(audit, len(accepted)))
        return CycleResult(model, False, audit, accepted, None, {"passed": False}, metrics, [str(exc)])
    land.set_model(new, same_expertness=True)
    check = regression_check(before, land)
    # Red-team the patched places again: dense samples inside each accepted finding.
    residual = _residual(new, world, accepted, seed)
    check["residual_flaws_in_patched_places"] = residual
    released = check["passed"] or not regression
    metrics = landscape_metrics(land, before, flags)
    metrics.update(_audit_metrics(audit, len(accepted)))
    metrics["kernels_refused"] = len(patch.refused)
    if not released:
        land.set_model(model, same_expertness=True)
        return CycleResult(model, False, audit, accepted, patch, check, metrics,
                           ["regression check failed: version not released"])
    new.edits[-1].update({"cycle": True, "audit": _audit_summary(audit),
                          "findings": [f.to_dict() for f in accepted], "regression_check": check})
    new.metrics = metrics
    return CycleResult(new, True, audit, accepted, patch, check, metrics)


def _audit_metrics(audit: AuditReport, accepted: int) -> dict:
    return {"findings": len(audit.findings), "findings_accepted": accepted,
            "audit_evaluations": audit.evaluations, "audit_verified_cells": audit.verified,
            "side_effect_suppressed": audit.side_effect_suppressed}


def _audit_summary(audit: AuditReport) -> dict:
    return {"mode": audit.mode, "evaluations": audit.evaluations, "seconds": round(audit.seconds, 4),
            "findings": len(audit.findings), "clusters": audit.clusters, "verified": audit.verified}


def _residual(model: RewardModel, world: World, findings: list[Finding], seed: int, n: int = 64) -> int:
    rng = np.random.default_rng(seed + 7)
    pts = []
    dims = 2 if world.is_terrain else 3
    for f in findings:
        d = rng.normal(size=(n, dims))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        r = f.radius * rng.uniform(0, 1, n) ** (1 / dims)
        pts.append(world.to_state(np.asarray(f.center)[:dims] + d * r[:, None]))
    states = np.concatenate(pts).astype(np.float32)
    bad = world.violates(states) & (model.reward(states) > world.floor)
    return int(bad.sum())


def run_cycles(model: RewardModel, world: World, cycles: int, **kw) -> list[CycleResult]:
    """Repeat unattended cycles; stop early once a cycle finds nothing."""
    land = Landscape(model, world)
    results: list[CycleResult] = []
    previous = None
    for _ in range(cycles):
        res = run_cycle(model, world, land, previous=previous, **kw)
        results.append(res)
        if not res.accepted:
            break
        model, previous = res.model, res.audit
        land.set_model(model, same_expertness=True)
    return results
