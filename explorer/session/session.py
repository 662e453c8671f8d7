"""The session: the single source of truth of the explorer.

One world, its display-grid landscape, every version of the reward model (and
which one is current), the person's flags, the triage of the last audit, and
one command history over all of it. Every edit is a command (do/undo, one
history); every change emits an event (``events.py``) that views subscribe to.
No Qt: the window is one view over this object, a script or notebook another
(the README's "Scripting from Python" shows the public names, a contract).

Long work (training, refinement, audit, applying findings) is a ``Job``
(``jobs.py``): the window runs its generator in a worker thread and calls
``finish`` in the GUI thread; the blocking methods here do both in the caller's
thread, so both paths run the same code. The flywheel's own steps live in
``explorer.flywheel.pipeline``; what a refinement or a cycle does to the
session in ``work.py``; the session directory in ``store.py``, ``persist.py``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

import worlds
from explorer.flywheel.pipeline import CycleSettings
from explorer.flywheel.triage import ReviewLog, Triage
from explorer.model.flags import FLAG_KINDS, MAX_FLAGS, Flag, check_center, check_radius, default_flag_radius
from explorer.model.landscape import Landscape
from explorer.model.learning import config_for
from explorer.model.reward_model import RewardModel
from explorer.refine import RefinementError
from worlds import World
from worlds.errors import InputError

from . import persist, readouts, work
from .commands import ChangeVersion, Command, CommandHistory, Decide, FlagEdit, SessionBusy
from .events import SessionEvents
from .jobs import Job, drive
from .versions import Versions


class Session:
    """See the module docstring. ``Session(world)`` has no model until ``reset`` (the
    window trains one in the background); the class methods return a ready session."""

    def __init__(self, world: World | str = "cube", model: RewardModel | None = None,
                 land: Landscape | None = None, label: str = "trained", kind: str = "trained"):
        self.events = SessionEvents()
        self.world: World = world if isinstance(world, World) else worlds.load(world)
        self.land: Landscape | None = None
        self.versions = Versions()
        self.current: int | None = None
        self._flags: list[Flag] = []
        self.next_flag_id = 1
        self.triage: Triage | None = None
        self.triage_serial = 0
        self.reviews = ReviewLog()
        self.commands = CommandHistory()
        self.settings = CycleSettings()
        self.ranking = "priority"
        self.reference: int | None = None          # explicit Diff target; None: the parent
        self.answered: dict = {}                   # version -> the audit it answered (feeds the next)
        self.job: str | None = None                # the running job's kind
        self.autosave = False                      # the window: store every edit as it is made
        self.autosave_dir: Path | None = None
        self.recovery: str | None = None           # what opening recovered from the journal
        self.persist_error: str | None = None
        self.last_check: dict | None = None        # the last refinement's regression check
        if model is not None:
            self.reset(self.world, model, land, label, kind)

    # ================================================================ construction
    @classmethod
    def train(cls, world: World | str = "cube", seed: int = 0, **config) -> "Session":
        """Train E_theta on a world's expert samples (a built-in name or a world file)."""
        s = cls(world)
        s.run(s.training_job(config_for(s.world, seed=seed, **config)))
        return s

    @classmethod
    def from_artifact(cls, directory: str | Path, world: World | str | None = None) -> "Session":
        world_obj, model = persist.load_artifact(directory, world)
        return cls(world_obj, model, label=f"opened {Path(directory).name}", kind="opened")

    @classmethod
    def from_model(cls, path: str | Path, world: World | str | None = None, sidecar=None) -> "Session":
        """Any reward model (an ONNX graph: states (n, 3) -> reward): audit, flags, local
        patches, regression checks and versions work on it (onnxruntime runs it)."""
        w, model = persist.import_onnx(path, world, sidecar)
        return cls(w, model, label=f"imported {Path(path).name}", kind="imported")

    @classmethod
    def open(cls, directory: str | Path, world: World | str | None = None) -> "Session":
        """Reopen a session directory: versions, current version, flags, triage, psi and
        the command history, plus whatever its journal recorded after the last save."""
        return persist.open_session(cls, directory, world)

    def replace_with(self, other: "Session") -> None:
        """Become ``other`` (a session or artifact just opened), keeping this object's
        subscribers: the window's views stay connected to the one session they know."""
        persist.adopt(self, other)
        self.events.reset.emit()

    def reset(self, world: World, model: RewardModel, land: Landscape | None = None,
              label: str = "trained", kind: str = "trained") -> None:
        """A new lineage: ``model`` becomes v1-or-its-number, the only version. Flags
        stay if the world is the same file; everything else starts afresh."""
        self.close()
        same_world = world.name == self.world.name and world.file_hash == self.world.file_hash
        self.world = world
        self.land = land if land is not None and land.model is model and land.world is world \
            else Landscape(model, world)
        self.versions = Versions()
        if not same_world:
            self._flags, self.next_flag_id = [], 1
        self.triage, self.reviews, self.answered = None, ReviewLog(), {}
        self.commands = CommandHistory()
        self.reference, self.last_check, self.recovery = None, None, None
        if not {"flaws", "basin_cells", "policy_outcome"} <= set(model.metrics):
            model.metrics.update(work.metrics_of(self.land))
        self.current = self.versions.add(model, label, kind).version
        self.events.reset.emit()

    # ================================================================ reading
    @property
    def ready(self) -> bool:
        return self.current is not None and self.land is not None

    @property
    def model(self) -> RewardModel:
        self._require()
        return self.versions.model(self.current)

    @property
    def version(self) -> int:
        self._require()
        return int(self.current)

    @property
    def flags(self) -> tuple[Flag, ...]:
        return tuple(self._flags)

    @property
    def root(self) -> Path | None:
        """The session directory (None until saved, or the first edit with autosave)."""
        return self.versions.store.root if self.versions.store is not None else None

    @property
    def dirty(self) -> bool:
        """Edits that are not on disk (a session with a directory stores every edit)."""
        return self.root is None and bool(self.commands.done)

    def title(self) -> str:
        return f"{self.world.name} v{self.current}" if self.ready else self.world.name

    def flag(self, center: Sequence[float], radius: float | None = None,
             kind: str = "spurious-high") -> Flag:
        """Mark a place as spurious: one undoable step. Returns the new flag."""
        if kind not in FLAG_KINDS:
            raise InputError("flag", "kind", "one of " + ", ".join(FLAG_KINDS), kind)
        if len(self._flags) >= MAX_FLAGS:
            raise InputError("flag", "", f"at most {MAX_FLAGS} flags", len(self._flags) + 1)
        radius = default_flag_radius(self.world) if radius is None else radius
        new = Flag(self.next_flag_id, check_center(center), check_radius(radius), kind)
        self.execute(FlagEdit(None, new, len(self._flags)))
        return new

    def move_flag(self, flag_id: int, center: Sequence[float]) -> None:
        old = self.get_flag(flag_id)
        self.execute(FlagEdit(old, Flag(old.id, check_center(center), old.radius, old.kind), self._index(flag_id)))

    def resize_flag(self, flag_id: int, radius: float) -> None:
        old = self.get_flag(flag_id)
        if abs(old.radius - float(radius)) > 1e-12:
            self.execute(FlagEdit(old, Flag(old.id, old.center, check_radius(radius), old.kind),
                                  self._index(flag_id)))

    def delete_flag(self, flag_id: int) -> None:
        self.execute(FlagEdit(self.get_flag(flag_id), None, self._index(flag_id)))

    def get_flag(self, flag_id: int) -> Flag:
        for f in self._flags:
            if f.id == flag_id:
                return f
        raise KeyError(f"no flag #{flag_id}")

    def _index(self, flag_id: int) -> int:
        return [f.id for f in self._flags].index(flag_id)

    # ================================================================ the flywheel
    def refine(self, method: str = "local", steps: int = 1000) -> int:
        """Refine the current version with the flags (blocks); returns the new version.
        Raises RefinementError if the regression check refuses the refinement."""
        return self._expect_version(self.run(self.refine_job(method, steps)))

    def refine_job(self, method: str = "local", steps: int = 1000) -> Job:
        return work.refine_job(self, method, steps)

    def audit(self) -> "object":
        """Phase 1 on the current version (blocks); the findings become the triage."""
        self.run(self.audit_job())
        return self.triage.report

    def audit_job(self) -> Job:
        return work.audit_job(self)

    def decide(self, action: str, cluster: int, radius: float | None = None) -> None:
        """accept | reject | reset | radius on a region of the triage: one undoable step."""
        t = self._require_triage()
        old, new = t.decide(action, cluster, radius)
        if old != new:
            self.execute(Decide(t.serial, {cluster: (old, new)}, t.describe(cluster, old, new)))

    def accept_all(self) -> int:
        """Accept every pending region (one undoable step); returns how many."""
        t = self._require_triage()
        changes = {r.cluster: ((r.decision, r.radius), ("accepted", r.radius))
                   for r in t.regions if r.decision == "pending"}
        if changes:
            self.execute(Decide(t.serial, changes, f"accept {len(changes)} regions"))
        return len(changes)

    def set_ranking(self, ranking: str) -> None:
        self.ranking = ranking
        if self.triage is not None:
            self.triage.rank(ranking)
            self.events.triage.emit(self.triage)

    def apply_accepted(self) -> "object":
        """Phase 3 on the accepted findings (blocks): patch, check, red team, release.
        Returns the pipeline's CycleResult."""
        return self.run(self.apply_job()).result

    def apply_job(self, findings=None) -> Job:
        return work.apply_job(self, findings)

    def cycle(self, accept: str = "all", **settings) -> "object":
        """One unattended cycle -- audit, select (all | top:K), patch, check, red team,
        release -- through the same steps the window takes. Returns the CycleResult."""
        return work.unattended_cycle(self, accept, **settings)

    def preview_psi(self, l_max: float, k: float) -> np.ndarray:
        """The landscape g_psi would give with (l_max, k): shown, not committed."""
        reward = work.psi_preview(self, l_max, k)
        self.events.preview.emit(reward)
        return reward

    def set_psi(self, l_max: float, k: float) -> int | None:
        """Commit a psi edit as a new version (one per drag); None if psi is unchanged."""
        return work.commit_psi(self, l_max, k).version

    def restore(self, version: int) -> None:
        """Make a stored version current again; refining it again starts a branch."""
        self.versions.entry(version)
        if version != self.current:
            self.execute(ChangeVersion("restore", self.version, version))

    def compare_with(self, version: int | None) -> None:
        """Before/Difference compare with ``version`` (None: the current one's parent)."""
        if version is not None:
            self.versions.entry(version)
        self.reference = version
        self.events.reference.emit(version)

    # ================================================================ undo / redo
    def execute(self, cmd: Command) -> None:
        """Do a command and record it (the one way an edit enters the session)."""
        self._allowed(cmd)
        cmd.do(self)
        self.commands.push(cmd)
        persist.record(self, "do", cmd)
        self.events.commands.emit()

    def undo(self) -> bool:
        if not self.commands.done:
            return False
        cmd = self.commands.done[-1]
        self._allowed(cmd)
        self.commands.done.pop()
        cmd.undo(self)
        self.commands.undone.append(cmd)
        persist.record(self, "undo", cmd)
        self.events.commands.emit()
        self.events.message.emit(f"Undid: {cmd.text}")
        return True

    def redo(self) -> bool:
        if not self.commands.undone:
            return False
        cmd = self.commands.undone[-1]
        self._allowed(cmd)
        self.commands.undone.pop()
        cmd.do(self)
        self.commands.done.append(cmd)
        persist.record(self, "redo", cmd)
        self.events.commands.emit()
        self.events.message.emit(f"Redid: {cmd.text}")
        return True

    def can_undo(self) -> bool:
        return bool(self.commands.done)

    def can_redo(self) -> bool:
        return bool(self.commands.undone)

    def undo_text(self) -> str:
        return self.commands.undo_text()

    def redo_text(self) -> str:
        return self.commands.redo_text()

    def _allowed(self, cmd: Command) -> None:
        if self.job is not None and cmd.model_change:
            raise SessionBusy(f"cannot {cmd.text} while {self.job} is running: wait for it or press Stop")

    # ================================================================ readouts
    def reward(self) -> np.ndarray:
        self._require()
        return self.land.reward()

    @property
    def reference_version(self) -> int | None:
        """What Before shows: the version chosen for Diff, else the current one's parent."""
        return readouts.reference_version(self)

    def reference_reward(self) -> np.ndarray | None:
        v = self.reference_version
        return None if v is None else self.versions.reward(v, self.land)

    def metrics(self) -> dict:
        """The current version's metrics: its stored version metrics, refreshed live
        (flaws, basin, flags) on the display grid. At least version, flaws, basin_cells."""
        return readouts.metrics(self)

    def readouts(self) -> dict:
        """What the window's readouts show (the metrics, the floor, the last check)."""
        return readouts.readouts(self)

    def policy_readout(self, kind: str, start=None):
        return readouts.policy(self, kind, start)

    # ================================================================ jobs and files
    def training_job(self, config=None, world: World | None = None, cache: bool = False) -> Job:
        """Training as a job; ``cache``: reuse (and keep) the trained default model in the
        user's cache directory (explorer.model.cache)."""
        return work.training_job(self, world or self.world, config, cache)

    def run(self, job: Job, on_snapshot=None):
        """Run a job to its end in this thread and let its result enter the session."""
        self.job_started(job.kind)
        try:
            result = drive(job.run(None), on_snapshot)
        finally:
            self.job_ended()
        return job.finish(result)

    def job_started(self, kind: str) -> None:
        self.job = kind
        self.events.busy.emit(kind)

    def job_ended(self) -> None:
        self.job = None
        self.events.busy.emit(None)

    def save(self, directory: str | Path) -> Path:
        """Write the session directory (or bring it up to date) and keep using it."""
        return persist.save(self, directory)

    def export(self, version: int, dest: str | Path) -> Path:
        return persist.export(self, version, dest)

    def save_artifact(self, directory: str | Path, overwrite: bool = False) -> Path:
        """The current version as a standalone artifact directory."""
        from explorer.model import artifact
        return artifact.save(self.model, directory, overwrite=overwrite)

    def export_onnx(self, path: str | Path):
        """The served reward (E_theta or the imported graph, g_psi, kernels) as one ONNX
        graph, verified against this session to 1e-5 before it is written."""
        from explorer.model.onnx_export import export_onnx
        return export_onnx(self.model, self.world, path)[1]

    def close(self) -> None:
        """A clean end: the session file takes in the journal."""
        persist.close(self)

    def _require(self) -> None:
        if not self.ready:
            raise RefinementError("no reward model yet: train one or open an artifact first")

    def _require_triage(self) -> Triage:
        if self.triage is None:
            raise RefinementError("no audit to triage: run Audit first")
        return self.triage

    @staticmethod
    def _expect_version(outcome) -> int:
        if outcome.version is None:
            raise RefinementError(outcome.message)
        return outcome.version
