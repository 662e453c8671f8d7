"""The explorer's working state, kept free of Qt so the desktop window holds no
learning logic and everything it does can be driven from a script or a test.

A ``Session`` holds one world, the current reward model and its landscape, the
person's flags (with undo), the model *before* the last refinement and its grid
reward (for the Before/After and Difference views), a dirty flag and the path
of the artifact it came from or was saved to.

Long work (training, refinement) is written as plain generators
(``training_job``, ``Session.refinement_job``) that yield small immutable
``Snapshot``s and return a ``JobResult``: the GUI runs them in a worker thread
and applies snapshots in its own thread; a script just iterates them. A job
reads the session's model and landscape but never writes them:
``Session.apply`` (called by the owner of the session, once the job is over) is
the only place a result enters the session.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generator

import numpy as np

import worlds
from worlds import World

from . import artifact as artifact_io
from .data_patch import DataDrivenPatch
from .flags import Flag, FlagSet
from .landscape import Landscape
from .learning import config_for, train_steps
from .mapping import Psi
from .metrics import landscape_metrics
from .refine import RefinementError, local_patch, regression_check, sculpt
from .reward_model import RewardModel, TrainingConfig

METHODS = ("local", "data")          # local patch | data-driven patching of E_theta
METHOD_NAMES = {"local": "local patch", "data": "data-driven"}


@dataclass(frozen=True)
class Snapshot:
    """One progress report of a job; ``reward`` (when present) is the working
    model's reward on the landscape grid, a private read-only array."""
    stage: str                        # "train" | "local" | "data"
    step: int
    total: int
    loss: float = float("nan")
    reward: np.ndarray | None = None
    message: str = ""


@dataclass
class JobResult:
    stage: str
    model: RewardModel
    world: World
    land: Landscape | None = None     # training builds the landscape in the worker
    same_expertness: bool = False     # E_theta untouched: the cached L(grid) still holds
    report: dict = field(default_factory=dict)
    stopped: bool = False
    seconds: float = 0.0


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float32, copy=True)
    a.setflags(write=False)
    return a


# ------------------------------------------------------------------ jobs
def training_job(world: World, config: TrainingConfig | None = None,
                 stop: threading.Event | None = None,
                 report_every: int = 100) -> Generator[Snapshot, None, JobResult | None]:
    """Train E_theta on the world's expert samples; returns None if stopped."""
    t0 = time.perf_counter()
    config = config or config_for(world)
    model = None
    for step, loss, model in train_steps(world, config, report_every=report_every):
        if stop is not None and stop.is_set():
            return None
        yield Snapshot("train", step, config.steps, loss)
    assert model is not None
    land = Landscape(model, world)
    model.metrics.update(landscape_metrics(land))
    return JobResult("train", model, world, land=land, seconds=time.perf_counter() - t0)


def _local_job(model: RewardModel, land: Landscape, flags: list[Flag]
               ) -> Generator[Snapshot, None, JobResult]:
    t0 = time.perf_counter()
    yield Snapshot("local", 0, 1, message="placing suppression kernels")
    child, report = local_patch(model, land, flags)
    yield Snapshot("local", 1, 1, reward=_frozen(child.reward(land.points)),
                   message=f"{report.kernels_added} kernels")
    return JobResult("local", child, land.world, same_expertness=True, report=report.to_dict(),
                     seconds=time.perf_counter() - t0)


def _data_job(model: RewardModel, land: Landscape, flags: list[Flag], steps: int,
              stop: threading.Event | None, frame_s: float
              ) -> Generator[Snapshot, None, JobResult]:
    t0 = time.perf_counter()
    job = DataDrivenPatch(model, land, flags, steps=steps)
    gen = job.steps()
    last_eval = 0.0
    stopped = False
    last = None
    try:
        for st in gen:
            last = st
            if stop is not None and stop.is_set():
                stopped = True
                break
            now = time.perf_counter()
            reward = None
            # The grid is re-evaluated with the working E_theta at most once a frame.
            if st.done or now - last_eval >= frame_s:
                reward = _frozen(job.child.reward(land.points))
                last_eval = time.perf_counter()
            yield Snapshot("data", st.step, st.total_steps, st.loss, reward,
                           f"flagged max reward {st.negatives_max_reward:.2f}, "
                           f"{st.negatives_above_floor} flagged states above the floor")
            if stop is not None and stop.is_set():
                stopped = True
                break
    finally:
        gen.close()
    child = job.result()                 # the last good state, also after a stop
    if stopped:
        child.edits[-1]["stopped"] = True
        child.edits[-1]["message"] = (f"stopped by the user at step {job._stopped_at}; "
                                      "kept the last good state")
    report = {"steps": int(job._stopped_at), "negatives": int(len(job.negatives)),
              "message": child.edits[-1]["message"],
              "flagged_max_reward": float(last.negatives_max_reward) if last else float("nan")}
    return JobResult("data", child, land.world, same_expertness=False, report=report,
                     stopped=stopped, seconds=time.perf_counter() - t0)


# --------------------------------------------------------------- session
class Session:
    """One world, its current reward model and everything the window shows."""

    def __init__(self, world: World, model: RewardModel | None = None,
                 land: Landscape | None = None, artifact_path: str | Path | None = None):
        self.world = world
        self.model: RewardModel | None = None
        self.land: Landscape | None = None
        self.flags = FlagSet()
        self.before_model: RewardModel | None = None
        self.before_reward: np.ndarray | None = None
        self.dirty = False
        self.artifact_path: Path | None = None
        self.last_check: dict | None = None
        self.last_report: dict | None = None
        self._sculpt_base: tuple[RewardModel, np.ndarray] | None = None
        if model is not None:
            self.set_model(model, land, artifact_path=artifact_path)

    # ---- worlds and models ---------------------------------------------
    @staticmethod
    def load_world(name_or_path: str | Path) -> World:
        """Load a world without touching any session (raises WorldError)."""
        return worlds.load(name_or_path)

    @property
    def ready(self) -> bool:
        return self.model is not None and self.land is not None

    def open(self, world: World, model: RewardModel, land: Landscape | None = None,
             artifact_path: str | Path | None = None) -> None:
        """Replace everything: a new world (or the same one) with a new model.
        Flags are kept only when the world stays the same."""
        if world is not self.world and (world.name != self.world.name
                                        or world.file_hash != self.world.file_hash):
            self.flags = FlagSet()
        self.world = world
        self.set_model(model, land, artifact_path=artifact_path)

    def set_model(self, model: RewardModel, land: Landscape | None = None,
                  artifact_path: str | Path | None = None) -> None:
        """Show a freshly trained or loaded model. A trained model is reproducible
        from the world file (fixed seed), so it does not count as unsaved work."""
        if land is None or land.model is not model or land.world is not self.world:
            land = Landscape(model, self.world)
        self.model = model
        self.land = land
        self.before_model = None
        self.before_reward = None
        self.last_check = None
        self.last_report = None
        self._sculpt_base = None
        self.dirty = False
        self.artifact_path = Path(artifact_path) if artifact_path else None

    def open_artifact(self, directory: str | Path) -> tuple[World, RewardModel]:
        """Load an artifact and the world it was trained on (built-in by name, or the
        session's current world if it is the same file). Raises InputError."""
        model = artifact_io.load(directory)
        if model.world_name == self.world.name and model.world_hash == self.world.file_hash:
            world = self.world
        elif model.world_name in worlds.available():
            world = worlds.load(model.world_name)
        else:
            raise artifact_io.ArtifactError(
                str(directory), "world.name", f"a built-in world or the open world "
                f"'{self.world.name}' (open the world file '{model.world_name}' first)",
                model.world_name)
        if world.file_hash != model.world_hash:
            raise artifact_io.ArtifactError(
                str(directory), "world.sha256", f"the sha256 of world '{world.name}' "
                f"({world.file_hash[:12]}...): the world file changed since training",
                model.world_hash[:12] + "...")
        return world, model

    def save_artifact(self, directory: str | Path, overwrite: bool = False) -> Path:
        self._require()
        model = self.model
        model.metrics.update(landscape_metrics(self.land, self.before_reward, self.flags.snapshot()))
        out = artifact_io.save(model, directory, overwrite=overwrite)
        self.artifact_path = Path(out)
        self.dirty = False
        return out

    # ---- refinement -----------------------------------------------------
    def refinement_job(self, method: str, stop: threading.Event | None = None,
                       steps: int = 1000, frame_s: float = 1 / 30
                       ) -> Generator[Snapshot, None, JobResult]:
        """A job refining the current model with the current flags (taken now).
        Raises RefinementError at once if there is nothing to refine with."""
        self._require()
        if method not in METHODS:
            raise RefinementError(f"unknown refinement method {method!r}; use one of {METHODS}")
        flags = self.flags.snapshot()
        if not flags:
            raise RefinementError("no flags to refine with: add a flag on a spurious region first")
        if method == "local":
            return _local_job(self.model, self.land, flags)
        return _data_job(self.model, self.land, flags, steps, stop, frame_s)

    def apply(self, result: JobResult) -> dict:
        """Let a refinement's result become the current model; returns the regression check."""
        self._require()
        self.before_model = self.model
        self.before_reward = self.land.reward().copy()
        self.model = result.model
        self.land.set_model(result.model, same_expertness=result.same_expertness)
        check = regression_check(self.before_reward, self.land)
        self.last_check = check
        self.last_report = dict(result.report)
        if result.model.edits:
            result.model.edits[-1]["regression_check"] = check
        self.dirty = True
        return check

    # ---- functional sculpting (live psi) ------------------------------------
    def begin_sculpt(self) -> None:
        self._require()
        if self._sculpt_base is None:
            self._sculpt_base = (self.model, self.land.reward().copy())

    def sculpt_to(self, l_max: float, k: float) -> np.ndarray:
        """Show g_psi with a new (l_max, k) on the cached expertness; returns the grid reward.
        The version is one past the model the drag started from, however long the drag."""
        self.begin_sculpt()
        base, _ = self._sculpt_base
        psi = Psi(base.psi.l_min, max(float(l_max), base.psi.l_min * 1.001 + 1e-9), float(k))
        child = sculpt(base, psi)
        self.model = child
        self.land.set_model(child, same_expertness=True)
        return self.land.reward()

    def end_sculpt(self) -> bool:
        """Commit the sculpted psi as a new version (or drop it if psi did not change)."""
        if self._sculpt_base is None:
            return False
        base, base_reward = self._sculpt_base
        self._sculpt_base = None
        if self.model.psi == base.psi:
            self.model = base
            self.land.set_model(base, same_expertness=True)
            return False
        self.before_model, self.before_reward = base, base_reward
        self.last_check = regression_check(base_reward, self.land)
        self.model.edits[-1]["regression_check"] = self.last_check
        self.last_report = {"psi": self.model.psi.to_dict()}
        self.dirty = True
        return True

    @property
    def sculpting(self) -> bool:
        return self._sculpt_base is not None

    # ---- readouts -----------------------------------------------------------
    def reward(self) -> np.ndarray:
        self._require()
        return self.land.reward()

    def difference(self) -> np.ndarray | None:
        """Reward after - before the last refinement (None if there was none)."""
        if self.before_reward is None:
            return None
        return self.land.reward() - self.before_reward

    def visible_mask(self, reward: np.ndarray) -> np.ndarray:
        """Which grid cells the view draws: for a volume, those above the floor."""
        if self.world.is_terrain:
            return np.ones(len(reward), dtype=bool)
        return np.asarray(reward) > self.world.floor

    def readouts(self) -> dict:
        self._require()
        m = landscape_metrics(self.land, self.before_reward, self.flags.snapshot())
        m["version"] = self.model.version
        m["floor"] = self.world.floor
        if self.last_check is not None:
            m["regression_check"] = self.last_check
        return m

    def title(self) -> str:
        v = f" v{self.model.version}" if self.model is not None else ""
        return f"{self.world.name}{v}"

    def _require(self) -> None:
        if self.model is None or self.land is None:
            raise RefinementError("no reward model yet: train one or open an artifact first")
