"""The numbers a version is judged by: one schema, written in one place.

Every version -- trained, refined by hand, sculpted, or made by a flywheel cycle
from the window, the CLI or a script -- carries ``version_metrics``, so the
History panel, the flywheel plot and ``explorer history --json`` never see gaps.

Keys (always present): cells, flaws, flaws_remaining, basin_cells,
basin_mean_reward, expert_median_reward, expert_min_reward, true_correlation,
patches, policy_outcome, policy_true_return, policy_steps, policy_blocked.
With a reference (the parent): reference_flaws, reference_basin_cells,
basin_retention, basin_worst_cell_loss. With an audit: findings, flaws_found,
audit_evaluations, audit_seconds, side_effect_suppressed. With accepted
findings: findings_accepted, flaws_patched, flaws_refused. With a patch:
kernels_added, kernels_refused. Along a lineage that confirmed spurious
regions: confirmed_findings, spurious_max_reward. From a flywheel cycle:
kernels (placed in that cycle) and, with held-out probes, certified: the same
figures between grid points with the guard band delta -- flaws (probes beyond
B + delta above the floor), basin_worst_loss (fraction 0-1 of the reward a probe
within B - delta lost against the parent), probes, delta, and more (see
``refine.probes.ProbeSet.certify``).
"""
from __future__ import annotations

import numpy as np

from explorer.model.landscape import Landscape
from explorer.model.metrics import in_flags, landscape_metrics
from explorer.policy.policies import default_policy_start, run_policy

from .audit import AuditReport, Finding


def confirmed_findings(edits: list[dict]) -> list[Finding]:
    """Every finding a person (or an unattended cycle) accepted along this model's
    lineage: the confirmed spurious regions."""
    out = []
    for e in edits:
        for d in e.get("findings", []) or []:
            try:
                out.append(Finding(**d))
            except TypeError:
                continue
    return out


def spurious_max_reward(land: Landscape, confirmed: list[Finding], reward: np.ndarray | None = None) -> float:
    """Highest learned reward left on a norm-breaking cell inside a confirmed spurious region."""
    r = land.reward() if reward is None else reward
    inside = in_flags(land.points, confirmed) & land.violates
    return float(r[inside].max()) if inside.any() else 0.0


def version_metrics(land: Landscape, reference_reward: np.ndarray | None = None,
                    audit: AuditReport | None = None, accepted: list[Finding] = (),
                    flags=(), patch=None, policy: bool = True, kernels: int | None = None,
                    certified: dict | None = None) -> dict:
    """Metrics of the model ``land`` shows (see the module docstring for the keys)."""
    m = landscape_metrics(land, reference_reward, flags)
    if kernels is not None:
        m["kernels"] = int(kernels)
    if certified is not None:
        m["certified"] = dict(certified)
    r = land.reward()
    floor = land.world.floor
    m["flaws_remaining"] = m["flaws"]
    if audit is not None:
        m.update({"findings": len(audit.findings), "flaws_found": int(audit.verified),
                  "audit_evaluations": int(audit.evaluations), "audit_seconds": round(float(audit.seconds), 4),
                  "side_effect_suppressed": int(audit.side_effect_suppressed)})
    accepted = list(accepted)
    if accepted:
        m["findings_accepted"] = len(accepted)
        if reference_reward is not None:
            targets = in_flags(land.points, accepted) & land.violates & (reference_reward > floor)
            m["flaws_patched"] = int((targets & (r <= floor)).sum())
            m["flaws_refused"] = int((targets & (r > floor)).sum())
    if patch is not None:
        m["kernels_added"] = int(patch.kernels_added)
        m["kernels_refused"] = len(patch.refused)
    confirmed = confirmed_findings(land.model.edits)
    if confirmed:
        m["spurious_max_reward"] = spurious_max_reward(land, confirmed, r)
        m["confirmed_findings"] = len(confirmed)
    if policy:
        p = run_policy("value", land.model, land.world, land, default_policy_start(land))
        m.update({"policy_true_return": p.rollout.true_return, "policy_outcome": p.rollout.outcome,
                  "policy_steps": len(p.rollout.path) - 1, "policy_blocked": p.gate["block"]})
    return m
