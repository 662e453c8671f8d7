"""What each kind of work does to a session: build its job, and let its result in.

A refinement (local patch, data-driven patching), a psi edit and a flywheel cycle
all end the same way, in ``release``: the regression check on the session's
landscape, the one metrics schema (``flywheel.metrics.version_metrics``), a new
version in the graph (and its artifact on disk when the session has a
directory), and one undoable command that makes it current. A refused
refinement leaves the session exactly as it was and says why.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from explorer.flywheel import pipeline
from explorer.flywheel.metrics import version_metrics
from explorer.flywheel.triage import Triage
from explorer.model.errors import ModelError
from explorer.model.landscape import Landscape
from explorer.model.mapping import Psi
from explorer.model.reward_model import RewardModel
from explorer.refine import BASIN_CAP, RefinementError, regression_check, sculpt
from explorer.refine.sculpting import refusals

from . import jobs
from .commands import ChangeVersion, SetAudit
from .jobs import METHOD_NAMES, METHODS, Job

if TYPE_CHECKING:
    from .session import Session


NO_CHANGE = 1e-4          # reward units: a "refinement" that changes less made no version


@dataclass
class Outcome:
    """How a piece of work ended: the new current version (None: nothing released)."""
    version: int | None
    message: str
    check: dict | None = None
    result: Any = None
    severe: bool = False          # the window shows it in a dialog, not only the status bar


def metrics_of(land: Landscape, reference=None, **kw) -> dict:
    return version_metrics(land, reference, **kw)


def same_expertness(a: RewardModel, b: RewardModel) -> bool:
    """Whether two models share E_theta (then the cached L(grid) still holds)."""
    if a.expertness is b.expertness:
        return True
    if type(a.expertness) is not type(b.expertness) or a.architecture != b.architecture:
        return False
    sa, sb = a.expertness.state_dict(), b.expertness.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ------------------------------------------------------------------ releasing
def release(s: "Session", child: RewardModel, kind: str, label: str, same: bool, flags=(), patch=None,
            audit=None, accepted=(), gate: bool = True, check: dict | None = None,
            fork: Landscape | None = None) -> Outcome:
    """Check ``child`` against the current version and make it current, or refuse it."""
    parent = s.model
    before = s.land.reward().copy()
    try:
        if fork is not None and fork.model is child:
            parent_land = s.land.fork()
            s.land.adopt(fork)                               # the worker proved and summed it already
        else:
            parent_land = None
            s.land.set_model(child, same_expertness=same)   # proves the new reward finite on the grid
    except ModelError as exc:
        s.land.set_model(parent, same_expertness=same)
        msg = (f"{label}: rolled back, the result would serve non-finite rewards ({exc}); "
               f"v{parent.version} stays")
        s.events.message.emit(msg)
        return Outcome(None, msg, severe=True)
    change = float(np.max(np.abs(s.land.reward() - before))) if len(before) else 0.0
    if change <= NO_CHANGE:
        _back(s, parent, same, parent_land)
        msg = (f"{label}: no grid cell's reward changed by more than {NO_CHANGE:g} (largest change "
               f"{change:.1e}); no new version, v{parent.version} stays")
        s.events.message.emit(msg)
        return Outcome(None, msg)
    # Both ways, on the grid and between grid points: the basin keeps its reward and
    # no flaw appears outside the flags.
    if check is None:       # a psi edit (and any job that did not check): on the grid, here
        check = regression_check(before, s.land, flagged=list(flags) or None, before_model=parent)
    if gate and not check["passed"]:
        _back(s, parent, same, parent_land)
        reasons = "; ".join(check.get("reasons", [])[:2]) or (
            f"the worst basin cell would lose {check['basin_worst_cell_loss']:.1%} of its reward "
            f"(cap {BASIN_CAP:.0%})")
        msg = f"{label}: refused by the regression check: {reasons}; v{parent.version} stays"
        s.events.message.emit(msg)
        return Outcome(None, msg, check)
    if child.edits:
        child.edits[-1]["regression_check"] = check
    child.parent = parent.version
    try:
        child.metrics = metrics_of(s.land, before, audit=audit, accepted=accepted, flags=flags, patch=patch,
                                   kernels=None if patch is None else int(patch.kernels_added),
                                   certified=check.get("certified"))
        entry = s.versions.add(child, label, kind)           # its artifact on disk first
    except BaseException:
        _back(s, parent, same, parent_land)                  # e.g. the disk is full: nothing changed
        raise
    s.execute(ChangeVersion(kind, parent.version, entry.version))
    s.last_check = check
    verdict = "passed" if check["passed"] else "FAILED (a psi edit is kept: it reshapes on purpose)"
    msg = (f"{label} -> v{entry.version}: flaws {check['flaws_before']:,} -> {check['flaws_after']:,}, "
           f"basin retention {check['basin_retention']:.1%}, regression check {verdict}")
    s.events.message.emit(msg)
    return Outcome(entry.version, msg, check)


# ------------------------------------------------------------------ refinement
def _back(s: "Session", parent: RewardModel, same: bool, parent_land: Landscape | None) -> None:
    if parent_land is not None:
        s.land.adopt(parent_land)
    else:
        s.land.set_model(parent, same_expertness=same)


def refine_job(s: "Session", method: str, steps: int) -> Job:
    s._require()
    if method not in METHODS:
        raise RefinementError(f"unknown refinement method {method!r}; use one of {METHODS}")
    flags = list(s.flags)
    if not flags:
        raise RefinementError("no flags to refine with: add a flag on a spurious region first")
    model, land, settings = s.model, s.land.fork(), s.settings
    if method == "local":
        def run(stop):
            return jobs.local(model, land, flags, settings)
    else:
        why = refusals(model).get("data_patch")
        if why:
            raise RefinementError(why)
        if not hasattr(model.expertness, "enc_w"):
            raise RefinementError("data-driven patching trains a new expert of E_theta, a mixture-of-experts "
                                  "autoencoder; this reward model is another kind: use a local patch")

        def run(stop):
            return jobs.data_driven(model, land, flags, steps, stop)

    def finish(result: jobs.Refined) -> Outcome:
        name = METHOD_NAMES[method]
        if result.model is None:
            msg = f"{name}: {result.report.get('message', 'nothing changed')}; no new version"
            s.events.message.emit(msg)
            return Outcome(None, msg)
        stopped = " (stopped early: last good state)" if result.stopped else ""
        label = f"{name}: {len(flags)} flag{'s' if len(flags) != 1 else ''}{stopped}"
        out = release(s, result.model, method, label, result.same_expertness, flags=flags,
                      patch=SimpleNamespace(**result.report) if method == "local" else None, check=result.check,
                      fork=result.land)
        out.result = result
        return out

    return Job(method, f"Refining v{model.version} with {METHOD_NAMES[method]}", run, finish)


def psi_preview(s: "Session", l_max: float, k: float):
    return s.land.reward_with(psi=_psi(s.model, l_max, k))


def commit_psi(s: "Session", l_max: float, k: float) -> Outcome:
    model = s.model
    psi = _psi(model, l_max, k)
    s.events.preview.emit(None)
    if psi == model.psi:
        return Outcome(None, "psi unchanged: no new version")
    child = sculpt(model, psi)
    return release(s, child, "psi", f"psi edit: l_max {psi.l_max:.3f}, k {psi.k:.2f}", True, gate=False)


def _psi(model: RewardModel, l_max: float, k: float) -> Psi:
    base = model.psi
    return Psi(base.l_min, max(float(l_max), base.l_min * 1.001 + 1e-9), float(k))


# ------------------------------------------------------------------ the flywheel
def audit_job(s: "Session") -> Job:
    s._require()
    model, land = s.model, s.land.fork()
    previous, settings = s.answered.get(model.version), s.settings

    def finish(a: jobs.Audited) -> Outcome:
        t = Triage(a.report, a.version, s.reviews.for_version(a.version), s.ranking)
        s.triage_serial += 1
        t.serial = s.triage_serial
        s.execute(SetAudit(s.triage, t))
        c = t.counts()
        hidden = f"; {c['hidden']} reviewed fine earlier, not proposed again" if c["hidden"] else ""
        # The whole job (with the off-grid states the red team samples) and the search itself,
        # named apart: the findings panel shows the search time.
        msg = (f"Audit of v{a.version} in {a.seconds:.2f} s (search {a.report.seconds:.2f} s): "
               f"{c['findings']} findings in {c['regions']} "
               f"region{'s' if c['regions'] != 1 else ''}, {a.report.verified:,} flawed cells{hidden}")
        s.events.message.emit(msg)
        return Outcome(s.current, msg, result=a)

    return Job("audit", f"Auditing v{model.version}: red team, verifier, blue team",
               lambda stop: jobs.auditing(model, land, previous, settings), finish)


def apply_job(s: "Session", findings=None) -> Job:
    s._require()
    t = s.triage
    if t is None:
        raise RefinementError("no audit to apply: run Audit first")
    accepted = list(t.accepted_findings() if findings is None else findings)
    if not accepted:
        raise RefinementError("no accepted findings: accept a region first (Accept or Accept all)")
    model, land, settings = s.model, s.land.fork(), s.settings

    def finish(result: pipeline.CycleResult) -> Outcome:
        if not result.released:
            msg = result.messages[0] if result.messages else "not released"
            s.events.message.emit(msg)
            return Outcome(None, msg, result.check, result)
        counts = t.counts()
        label = (f"cycle: {len(accepted)} findings ({counts['accepted']} of {counts['regions']} regions accepted)"
                 if findings is None else f"cycle: {len(accepted)} findings accepted")
        parent = s.model
        # What the person decided travels with the version: the regions reviewed fine.
        result.model.edits[-1].update({"reviewed_fine": [r.to_dict() for r in t.reviewed()],
                                       "hidden_as_reviewed": len(t.hidden)})
        entry = s.versions.add(result.model, label, "cycle")
        s.land.adopt(land)                       # the fork shows the released version: no recompute
        s.execute(ChangeVersion("cycle", parent.version, entry.version, triage_old=t, triage_new=None))
        s.answered[entry.version] = result.audit
        s.last_check = result.check
        chk = result.check
        msg = (f"Cycle released v{entry.version}: flaws {chk['flaws_before']:,} -> {chk['flaws_after']:,}, "
               f"basin {chk['basin_cells_before']} -> {chk['basin_cells_after']} cells (retention "
               f"{chk['basin_retention']:.1%}); the red team found {chk['residual_flaws_in_patched_places']} "
               f"flawed states between grid points in the patched places")
        s.events.message.emit(msg)
        return Outcome(entry.version, msg, chk, result)

    return Job("cycle", f"Applying {len(accepted)} accepted findings to v{model.version}",
               lambda stop: jobs.applying(model, land, t.report, accepted, settings), finish)


def unattended_cycle(s: "Session", accept: str, **settings) -> pipeline.CycleResult:
    if settings:
        s.settings = pipeline.CycleSettings(**{**s.settings.__dict__, **settings})
    report = s.audit()
    accepted = pipeline.select(report, accept)
    if not accepted:
        s.events.message.emit("the audit found nothing to patch: no new version")
        return pipeline.CycleResult(s.model, s.model, False, report, [], None, {"passed": True},
                                    s.metrics(), ["the audit found nothing to patch: no new version"])
    return s.run(apply_job(s, accepted)).result


def training_job(s: "Session", world, config, cache: bool = False) -> Job:
    """Train E_theta on ``world``; with ``cache`` the trained default model comes from
    (and goes to) the user's cache directory (``explorer.model.cache``)."""
    from explorer.model.learning import config_for
    config = config or config_for(world)

    def finish(t: jobs.Trained) -> Outcome:
        if t.model is None:
            msg = "Training stopped; the previous model stays"
            s.events.message.emit(msg)
            return Outcome(s.current, msg)
        if not t.cached:
            t.model.metrics["train_seconds"] = round(t.seconds, 3)
        s.reset(t.world, t.model, t.land, "trained", "trained")
        flaws = s.model.metrics.get('flaws', 0)
        msg = (f"Loaded the trained model of '{t.world.name}' from the cache in {t.seconds:.1f} s (same world "
               f"file, seed and training settings): {flaws:,} flaws to audit" if t.cached else
               f"Trained on '{t.world.name}' in {t.seconds:.1f} s: {flaws:,} flaws to audit")
        s.events.message.emit(msg)
        return Outcome(s.current, msg)

    return Job("train", f"Training E_theta on the expert samples of '{world.name}'",
               lambda stop: jobs.training(world, config, stop, cache=cache), finish)
