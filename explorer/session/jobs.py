"""Long work as plain generators: training, refinement, audit, applying findings.

A job's generator yields small immutable ``Snapshot``s and returns its result;
it reads a *fork* of the session's landscape (its own kernel field and caches)
and the model of the moment, and never writes the session. ``Job.finish`` is
the only place its result enters the session, called by the owner of the
session in its own thread: the window's GUI thread after a worker thread ran
the generator, or a script's thread right after ``Session.run`` iterated it.
Stopping is cooperative: a job checks its ``threading.Event`` between steps and
returns its last good state.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generator

import numpy as np

from explorer.flywheel import pipeline
from explorer.generators import drive  # noqa: F401  (the session and scripts drive jobs with it)
from explorer.flywheel.audit import AuditReport, Finding
from explorer.model.flags import Flag
from explorer.model.landscape import Landscape
from explorer.model.learning import train_steps
from explorer.model.reward_model import RewardModel, TrainingConfig
from explorer.refine import BASIN_CAP, local_patch, regression_check
from explorer.refine.data_patch import DataDrivenPatch
from worlds import World

METHODS = ("local", "data")
METHOD_NAMES = {"local": "local patch", "data": "data-driven patching", "audit": "audit",
                "cycle": "flywheel cycle", "train": "training", "ppo": "PPO training"}


@dataclass(frozen=True)
class Snapshot:
    """One progress report; ``reward`` (when present) is the working model's reward on
    the landscape grid, a private read-only array the window may draw."""
    stage: str
    step: int
    total: int
    loss: float = float("nan")
    reward: np.ndarray | None = None
    message: str = ""


@dataclass
class Job:
    kind: str                                            # train | local | data | audit | cycle
    title: str                                           # what the status bar says while it runs
    run: Callable[[threading.Event | None], Generator[Snapshot, None, Any]]
    finish: Callable[[Any], Any]                         # in the session owner's thread


@dataclass
class Trained:
    model: RewardModel | None                            # None: stopped before the end
    world: World
    land: Landscape | None
    seconds: float
    cached: bool = False                                 # loaded from the user's cache, not trained


@dataclass
class Refined:
    """A refinement's candidate version (not yet checked or released)."""
    model: RewardModel | None                            # None: nothing changed
    same_expertness: bool
    report: dict = field(default_factory=dict)
    stopped: bool = False
    seconds: float = 0.0
    check: dict | None = None            # the regression check, when the job already ran it
    land: Landscape | None = None        # the fork showing ``model`` (the window adopts its caches)


@dataclass
class Audited:
    report: AuditReport
    version: int
    seconds: float


def frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float32, copy=True)
    a.setflags(write=False)
    return a


# ------------------------------------------------------------------ training
def training(world: World, config: TrainingConfig, stop: threading.Event | None = None,
             report_every: int = 100, preview_every: int | None = None,
             cache: bool = False) -> Generator[Snapshot, None, Trained]:
    """Train E_theta on the world's expert samples (and nothing else).

    Every ``preview_every`` steps (default: about 15 previews a training) the
    snapshot carries the reward of E_theta as it is at that step on the display
    grid, so the window shows the landscape forming while it trains. With
    ``cache`` a model trained before with the same world file, seed and
    configuration is loaded from the user's cache instead (one snapshot says
    so), and a newly trained one is stored there."""
    t0 = time.perf_counter()
    if cache:
        from explorer.model import cache as model_cache
        cached = model_cache.load(world, config)
        if cached is not None:
            land = Landscape(cached, world)
            yield Snapshot("train", config.steps, config.steps, reward=frozen(land.reward()),
                           message=f"loaded the trained model of '{world.name}' from the cache")
            return Trained(cached, world, land, time.perf_counter() - t0, cached=True)
    every = preview_every if preview_every is not None else max(report_every, config.steps // 15)
    model, land = None, None
    for step, loss, model in train_steps(world, config, report_every=report_every, preview_every=every):
        if stop is not None and stop.is_set():
            return Trained(None, world, None, time.perf_counter() - t0)
        reward = None
        if model is not None and model.metrics.get("preview"):
            if land is None:
                land = Landscape(model, world)
            else:
                land.set_model(model)
            reward = frozen(land.reward())
        if step < config.steps or model is None or model.metrics.get("preview"):
            yield Snapshot("train", step, config.steps, loss, reward,
                           message=f"training E_theta on the expert samples of '{world.name}'")
    assert model is not None
    if land is None:
        land = Landscape(model, world)
    else:
        land.set_model(model)
    if cache:
        from explorer.model import cache as model_cache
        model_cache.store(world, config, model)
    # The version metrics (a policy rollout among them) here, not in the window's thread.
    from explorer.flywheel.metrics import version_metrics
    model.metrics.update(version_metrics(land))
    return Trained(model, world, land, time.perf_counter() - t0)


# ------------------------------------------------------------------ refinement
def local(model: RewardModel, land: Landscape, flags: list[Flag],
          settings: pipeline.CycleSettings | None = None) -> Generator[Snapshot, None, Refined]:
    """Kernels on the flags, fitted on the grid and (with ``settings``) on off-grid
    states too; then the regression check, both ways, on the grid and the held-out
    probes -- all here in the worker, so the window only shows the result."""
    t0 = time.perf_counter()
    yield Snapshot("local", 0, 2, message="placing suppression kernels")
    fit = pipeline.fit_for(land.world, settings, model.version) if settings is not None else None
    before = land.reward().copy()
    child, report = local_patch(model, land, flags, cap=BASIN_CAP, fit=fit)
    land.set_model(child, same_expertness=True)
    yield Snapshot("local", 1, 2, reward=frozen(land.reward()),
                   message=f"{report.kernels_added} kernels; checking the basin between grid points")
    probes = pipeline.probes_for(land.world, settings) if settings is not None else None
    check = regression_check(before, land, flagged=flags, probes=probes, before_model=model)
    yield Snapshot("local", 2, 2, message="regression check " + ("passed" if check["passed"] else "failed"))
    return Refined(child, True, report.to_dict(), seconds=time.perf_counter() - t0, check=check, land=land)


def data_driven(model: RewardModel, land: Landscape, flags: list[Flag], steps: int,
                stop: threading.Event | None, frame_s: float = 0.15) -> Generator[Snapshot, None, Refined]:
    """Data-driven patching of E_theta. The grid is re-evaluated for the view at most
    every ``frame_s`` (as often as the window draws while a job runs), with the
    cached kernel field (only E_theta changed). Flags that hold nothing to learn
    (every flagged state already below the floor) end it at once, with the reason."""
    t0 = time.perf_counter()
    job = DataDrivenPatch(model, land, flags, steps=steps)
    if job.nothing_to_learn:
        return Refined(None, False, {"steps": 0, "negatives": int(len(job.negatives)),
                                     "message": job.nothing_to_learn}, False, time.perf_counter() - t0)
    gen = job.steps()
    last_eval, stopped, last = 0.0, False, None
    try:
        for st in gen:
            last = st
            if stop is not None and stop.is_set():
                stopped = True
                break
            reward = None
            if st.done or time.perf_counter() - last_eval >= frame_s:
                reward = frozen(land.reward_with(error=job.child.error(land.points)))
                last_eval = time.perf_counter()
            yield Snapshot("data", st.step, st.total_steps, st.loss, reward,
                           f"flagged max reward {st.negatives_max_reward:.2f}, "
                           f"{st.negatives_above_floor} flagged states above the floor")
            if stop is not None and stop.is_set():
                stopped = True
                break
    finally:
        gen.close()
    report = {"steps": int(job._stopped_at), "negatives": int(len(job.negatives)),
              "flagged_max_reward": float(last.negatives_max_reward) if last else float("nan")}
    if job._stopped_at == 0:
        # Stopped before a single step: E_theta is unchanged, there is no new version.
        report["message"] = "stopped before the first step: nothing changed"
        return Refined(None, False, report, stopped, time.perf_counter() - t0)
    child = job.result()                  # the last good state, also after a stop
    if stopped:
        child.edits[-1]["stopped"] = True
        child.edits[-1]["message"] = f"stopped by the user at step {job._stopped_at}; kept the last good state"
    report["message"] = child.edits[-1]["message"]
    return Refined(child, False, report, stopped, time.perf_counter() - t0)


# ------------------------------------------------------------------ the flywheel
def auditing(model: RewardModel, land: Landscape, previous: AuditReport | None,
             settings: pipeline.CycleSettings) -> Generator[Snapshot, None, Audited]:
    t0 = time.perf_counter()
    yield Snapshot("audit", 0, 1, message="red team sweeping the grid, verifier checking the norms")
    report = pipeline.audit(model, land, previous, settings)
    yield Snapshot("audit", 1, 1, message=f"{len(report.findings)} findings")
    return Audited(report, model.version, time.perf_counter() - t0)


def applying(model: RewardModel, land: Landscape, report: AuditReport, accepted: list[Finding],
             settings: pipeline.CycleSettings) -> Generator[Snapshot, None, pipeline.CycleResult]:
    yield Snapshot("cycle", 0, 1, message=f"patching {len(accepted)} accepted findings, then the "
                                          "regression check and the red team again")
    result = pipeline.patch_accepted(model, land, report, accepted, settings)
    yield Snapshot("cycle", 1, 1, reward=frozen(land.reward()),
                   message="released" if result.released else "not released")
    return result
