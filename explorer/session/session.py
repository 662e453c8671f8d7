"""The explorer's working state, kept free of Qt so the desktop window holds no
learning logic and everything it does can be driven from a script or a test.

A ``Session`` holds one world, the current reward model and its landscape, the
person's flags (with undo), the model *before* the last refinement and its grid
reward (for the Before/After and Difference views), a dirty flag and the path
of the artifact it came from or was saved to.

The flywheel lives here too: ``Session.audit_job`` (Phase 1), the person's
decisions on its findings (``Session.triage``, rules in ``triage.py``),
``Session.cycle_job`` + ``finish_cycle`` (patch the accepted findings, check,
release), and the versions: every refinement that passes its regression check
is released into a ``History`` in a session directory (created at the first
flag edit, triage decision or release, under ``sessions_root()`` unless the
person chose one), which can be listed, previewed, diffed, restored, exported
and reopened. Flag edits and triage decisions are journalled there as they are
made (``journal.py``) and replayed when the directory is reopened.

Long work (training, refinement, audit) is written as plain generators
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
from worlds.errors import InputError

from explorer.model import artifact as artifact_io
from explorer.flywheel.audit import AuditReport, Auditor, Finding
from explorer.refine.data_patch import DataDrivenPatch
from explorer.model.flags import Flag, FlagSet, load_flags
from explorer.flywheel.pipeline import _residual, findings_to_flags
from explorer.session.store import History, SessionError, VersionEntry
from explorer.session.journal import Journal, JournalState
from explorer.model.landscape import Landscape
from explorer.model.learning import config_for, train_steps
from explorer.model.mapping import Psi
from explorer.model.metrics import landscape_metrics
from explorer.policy.policies import GradientAscentPolicy, Rollout, RuntimeGate, ValueIterationPolicy
from explorer.refine import BASIN_CAP, RefinementError, local_patch, regression_check, sculpt
from explorer.model.reward_model import RewardModel, TrainingConfig
from explorer.flywheel.triage import ReviewLog, Triage, confirmed_findings, flywheel_metrics, spurious_max_reward

METHODS = ("local", "data")          # local patch | data-driven patching of E_theta
METHOD_NAMES = {"local": "local patch", "data": "data-driven", "audit": "audit", "cycle": "flywheel cycle"}
CYCLE_KEYS = ("findings", "flaws_found", "flaws_patched", "flaws_refused", "flaws_remaining",
              "spurious_max_reward", "policy_true_return", "policy_outcome")
POLICIES = ("value", "gradient")
POLICY_NAMES = {"value": "value iteration", "gradient": "gradient ascent"}
APP_DIR_NAME = "reward-landscape-explorer"
AUDIT_SEED = 0          # one audit per version is reproducible, so a rejection hides exactly what it saw


def sessions_root() -> Path:
    """Where automatic session directories go (platformdirs' user data dir)."""
    import platformdirs
    return Path(platformdirs.user_data_dir(APP_DIR_NAME)) / "sessions"


def auto_session_dir(world_name: str) -> Path:
    """A fresh ``<world>-<timestamp>`` directory name under ``sessions_root()``."""
    base = sessions_root() / f"{world_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = base, 2
    while path.exists():
        path, i = base.with_name(f"{base.name}-{i}"), i + 1
    return path


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


def _local_job(model: RewardModel, land: Landscape, flags: list[Flag],
               targets: np.ndarray | None = None, stage: str = "local"
               ) -> Generator[Snapshot, None, JobResult]:
    t0 = time.perf_counter()
    yield Snapshot(stage, 0, 1, message="placing suppression kernels")
    child, report = local_patch(model, land, flags, cap=BASIN_CAP, targets=targets)
    yield Snapshot(stage, 1, 1, reward=_frozen(child.reward(land.points)),
                   message=f"{report.kernels_added} kernels")
    return JobResult(stage, child, land.world, same_expertness=True, report=report.to_dict(),
                     seconds=time.perf_counter() - t0)


@dataclass
class AuditResult:
    report: AuditReport
    version: int                      # the model version that was audited
    seconds: float


@dataclass
class CycleOutcome:
    """What ``Session.finish_cycle`` did: released a new version, or kept the parent."""
    released: bool
    version: int                      # the current version afterwards
    check: dict
    metrics: dict
    accepted: list[Finding]
    messages: list[str] = field(default_factory=list)
    entry: VersionEntry | None = None


@dataclass
class PolicyReadout:
    """A policy's rollout on the current reward and the runtime gate's verdict on it."""
    kind: str                         # "value" | "gradient"
    rollout: Rollout
    start: np.ndarray
    gate: dict                        # allow / escalate / block -> number of path states
    end_reward: float

    def describe(self) -> str:
        r = self.rollout
        stalled = " (stalled: no reward to climb there)" if self.end_reward <= 0.0 and len(r.path) <= 2 else ""
        return (f"{POLICY_NAMES[self.kind]}: {r.outcome} after {len(r.path) - 1} steps{stalled}, "
                f"true return {r.true_return:.2f}")

    def describe_gate(self) -> str:
        n = sum(self.gate.values())
        return (f"{self.gate.get('block', 0)} of {n} path states blocked, "
                f"{self.gate.get('escalate', 0)} escalated")


def default_policy_start(land: Landscape) -> np.ndarray:
    """The grid cell farthest from the expert support: where spurious reward can lure."""
    return land.points[int(np.argmax(land.distance))].astype(float)


def run_policy(kind: str, model: RewardModel, world: World, land: Landscape | None,
               start: np.ndarray) -> PolicyReadout:
    """Roll a policy out on ``model`` (value iteration needs ``land`` showing it) and
    gate its path: block below the floor, escalate where E_theta's experts disagree
    more than on any expert sample."""
    if kind == "value":
        if land is None:
            raise ValueError("value iteration needs the landscape")
        rollout = ValueIterationPolicy(land).rollout(np.asarray(start, float))
    elif kind == "gradient":
        rollout = GradientAscentPolicy(model, world).rollout(np.asarray(start, float))
    else:
        raise ValueError(f"policy must be one of {POLICIES}, got {kind!r}")
    limit = float(model.expertness.disagreement_np(model.expert_samples).max())
    verdict = RuntimeGate(model, min_reward=world.floor, max_uncertainty=limit).check(rollout.path)
    gate = {k: int((verdict == k).sum()) for k in ("allow", "escalate", "block")}
    return PolicyReadout(kind, rollout, np.asarray(start, float), gate, float(rollout.rewards[-1]))


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
        # One undo history over flag edits and triage decisions, in the order made.
        self._edit_log: list[str] = []
        self._redo_log: list[str] = []
        self._replaying = False
        # Crash safety: every flag edit and triage decision is journalled in the
        # session directory as it is made (journal.py). The directory is created at
        # the first flag edit or triage decision (not only at the first release).
        self.journal: Journal | None = None
        self.recovery: JournalState | None = None        # what open_session recovered, until shown
        self._pending_decisions: dict[int, dict] = {}   # recovered decisions, applied at that version's audit
        self._journal_op: str | None = None
        self.restored_decisions = 0                       # applied by the last set_audit
        self.flags = FlagSet()
        self.before_model: RewardModel | None = None
        self.before_reward: np.ndarray | None = None
        self.dirty = False
        self.artifact_path: Path | None = None
        self.last_check: dict | None = None
        self.last_report: dict | None = None
        self._sculpt_base: tuple[RewardModel, np.ndarray] | None = None
        # The flywheel: versions, the audit being triaged, reviewed-fine regions.
        self.history: History | None = None
        self.reviews = ReviewLog()
        self.triage: Triage | None = None
        self.ranking = "priority"
        self.reference_version: int | None = None
        self.policy_start_override: np.ndarray | None = None
        self.persist_error: str | None = None
        self._base: RewardModel | None = None        # the last released version (or the root)
        self._base_label = "trained"
        self._answered: dict[int, AuditReport] = {}  # version -> the audit it answered
        self._models: dict[int, RewardModel] = {}
        self._rewards: dict[int, np.ndarray] = {}
        if model is not None:
            self.open(world, model, land, artifact_path=artifact_path)

    # ---- flags (one undo history with the triage) -----------------------------
    @property
    def flags(self) -> FlagSet:
        return self._flags

    @flags.setter
    def flags(self, fs: FlagSet) -> None:
        self._flags = fs
        self.watch_flags(*[fn for fn in fs.listeners if fn != self._on_flag_edit])

    def watch_flags(self, *listeners) -> None:
        """Let ``listeners`` (e.g. the window) hear flag changes, after the session does."""
        self._flags.listeners[:] = [self._on_flag_edit, *listeners]

    def _on_flag_edit(self) -> None:
        fs = self._flags
        if not self._replaying:
            self._edit_log.append("flags")
            self._redo_log.clear()
            op = "flag." + fs._undo[-1][0] if fs.can_undo() else "flag.edit"
            what = fs.undo_text().removeprefix("Undo: ")
        else:
            op = self._journal_op or "flag.edit"
            what = op
        self._journal("flags", op, what)

    # ---- the journal (crash safety of flags and decisions) ---------------------
    def _decision_state(self) -> dict[int, dict]:
        out = {v: dict(d) for v, d in self._pending_decisions.items()}
        t = self.triage
        if t is not None:
            out[t.version] = {r.cluster: (r.decision, r.radius) for r in t.regions if r.decision != "pending"}
        return {v: d for v, d in out.items() if d}

    def _journal(self, kind: str, op: str, what: str) -> None:
        """Append one fsync'd line for a flag edit or a triage decision (creating the
        session directory first if there is none yet and a model to store)."""
        try:
            if self.journal is None:
                if self.model is None or self.land is None:
                    return
                self._ensure_history()           # its compaction already holds this step
                return
            if kind == "flags":
                self.journal.log_flags(op, what, self._flags.snapshot())
            else:
                t = self.triage
                self.journal.log_decisions(op, what, t.version, self._decision_state().get(t.version, {}))
            self.persist_error = None
        except (OSError, InputError) as exc:
            self.persist_error = f"could not journal the {kind} edit: {exc}"

    def _attach_journal(self, root: Path, journal: Journal | None = None) -> None:
        """Start journalling into ``root`` (``journal``: one already read there)."""
        self._detach_journal(compact=False)
        if journal is None:
            journal = Journal(root)
            journal.read()                       # continue its sequence numbers
        self.journal = journal

    def compact_journal(self) -> None:
        """Fold the journal into its snapshot (a release, a clean save, a clean close)."""
        if self.journal is None:
            return
        try:
            self.journal.compact(self._flags.snapshot(), self._decision_state())
        except OSError as exc:
            self.persist_error = f"could not compact the journal: {exc}"

    def _detach_journal(self, compact: bool = True) -> None:
        if self.journal is not None:
            if compact:
                self.compact_journal()
            self.journal.close()
            self.journal = None

    def close(self) -> None:
        """A clean end: compact the journal and close it."""
        self._detach_journal(compact=True)

    def recovery_message(self) -> str | None:
        st = self.recovery
        if st is None or not (st.recovered or st.torn):
            return None
        n_flags = len(st.flags or []) if st.flag_steps else 0
        n_dec = st.decision_count()
        msg = (f"Recovered {n_flags} flag{'s' if n_flags != 1 else ''} and {n_dec} triage decision"
               f"{'s' if n_dec != 1 else ''} from an interrupted session")
        if n_dec:
            msg += " (decisions come back when that version is audited again)"
        if st.torn:
            msg += "; the step in flight when it stopped was incomplete and is lost"
        return msg

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
        # A model from outside (trained, opened) starts a new lineage: a new session
        # directory is made at its first flag, decision or release (or chosen with new_session).
        self._detach_journal()
        self._pending_decisions = {}
        self.history = None
        self.reviews = ReviewLog()
        self._answered = {}
        self._models, self._rewards = {}, {}
        self.policy_start_override = None
        self._base_label = f"opened {Path(artifact_path).name}" if artifact_path else "trained"
        self.set_model(model, land, artifact_path=artifact_path)
        self._base = model
        model.metrics.update(self._version_metrics())

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
        self.reference_version = None
        self.last_check = None
        self.last_report = None
        self._sculpt_base = None
        self.triage = None
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
        self.compact_journal()
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
        self.reference_version = None
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
        self.reference_version = None
        self.last_check = regression_check(base_reward, self.land)
        self.model.edits[-1]["regression_check"] = self.last_check
        self.last_report = {"psi": self.model.psi.to_dict()}
        self.dirty = True
        return True

    @property
    def sculpting(self) -> bool:
        return self._sculpt_base is not None

    # ---- the flywheel: audit -> triage -> cycle --------------------------------
    def audit_job(self, stop: threading.Event | None = None) -> Generator[Snapshot, None, AuditResult]:
        """Phase 1 on the current version (in a worker); ``set_audit`` shows the result."""
        self._require()
        model, land, world = self.model, self.land, self.world
        previous = self._answered.get(model.version)

        def job():
            t0 = time.perf_counter()
            yield Snapshot("audit", 0, 1, message="red team sweeping the grid, verifier checking the norms")
            report = Auditor(world, seed=AUDIT_SEED).run(model, land, previous, ranking="priority")
            yield Snapshot("audit", 1, 1, message=f"{len(report.findings)} findings")
            return AuditResult(report, model.version, time.perf_counter() - t0)
        return job()

    def set_audit(self, result: AuditResult) -> Triage:
        """Start triaging an audit; regions reviewed fine for that version stay hidden."""
        self.triage = Triage(result.report, result.version, self.reviews.for_version(result.version),
                             self.ranking)
        self.restored_decisions = self._restore_decisions(self.triage)
        return self.triage

    def _restore_decisions(self, t: Triage) -> int:
        """Apply decisions recovered from the journal to a new audit of that version
        (audits are reproducible: AUDIT_SEED). Returns how many were applied."""
        pending = self._pending_decisions.pop(t.version, None)
        if not pending:
            return 0
        n = 0
        for cluster, (decision, radius) in sorted(pending.items()):
            try:
                t.region(cluster)
            except KeyError:
                continue                         # e.g. rejected: hidden as reviewed already
            changed = t.accept(cluster, radius) if decision == "accepted" else \
                t.reject(cluster) if decision == "rejected" else False
            if changed:
                self._edit_log.append("triage")
                n += 1
        if n:
            self._redo_log.clear()
            self._journal("triage", "triage.restore", f"restored {n} decisions")
            self._sync_reviews()
        return n

    def set_ranking(self, ranking: str) -> None:
        self.ranking = ranking
        if self.triage is not None:
            self.triage.rank(ranking)

    def decide(self, action: str, cluster: int, radius: float | None = None) -> None:
        """accept | reject | reset | radius on a region of the current triage (one undo step)."""
        t = self._require_triage()
        if action == "accept":
            changed = t.accept(cluster, radius)
        elif action == "reject":
            changed = t.reject(cluster)
        elif action == "reset":
            changed = t.reset(cluster)
        elif action == "radius":
            changed = t.set_radius(cluster, radius)
        else:
            raise ValueError(f"unknown triage action {action!r}")
        if changed:
            self._edit_log.append("triage")
            self._redo_log.clear()
            self._journal("triage", f"triage.{action}", t.undo_text().removeprefix("Undo: "))
        self._sync_reviews()

    def accept_all(self) -> int:
        t = self._require_triage()
        n = 0
        for r in t.regions:
            if r.decision == "pending":
                self.decide("accept", r.cluster)
                n += 1
        return n

    def _sync_reviews(self) -> None:
        """Rejections are stored at once (a re-audit of the version must not propose them)."""
        t = self.triage
        if t is None:
            return
        reviewed = t.reviewed()
        if reviewed == self.reviews.for_version(t.version):
            return
        self.reviews.set_version(t.version, reviewed)
        try:
            if reviewed:
                self._ensure_history()
            if self.history is not None:
                self.reviews.save(self.history.root)
            self.persist_error = None
        except (OSError, InputError) as exc:
            # The decision holds in memory; the owner says that it could not be stored.
            self.persist_error = f"could not store the triage decisions: {exc}"

    def cycle_job(self, stop: threading.Event | None = None) -> Generator[Snapshot, None, JobResult]:
        """Patch the accepted findings' verified flaw cells (local patch, E_theta untouched).
        Raises RefinementError at once if there is nothing accepted."""
        self._require()
        t = self._require_triage()
        accepted = t.accepted_findings()
        if not accepted:
            raise RefinementError("no accepted findings: accept a region first (Accept or Accept all)")
        flags = findings_to_flags(accepted)
        # Patch the verified flaw cells inside the accepted findings, not every cell a ball covers.
        targets = self.land.flaw_mask(self.land.reward()) if t.report.mode == "norms" else None
        inner = _local_job(self.model, self.land, flags, targets=targets, stage="cycle")

        def job():
            result = yield from inner
            result.report.update({"accepted": accepted, "triage": t, "flags": flags})
            return result
        return job()

    def finish_cycle(self, result: JobResult) -> CycleOutcome:
        """Regression check, red-team the patched places again, and release the new
        version -- or keep the parent and say why."""
        t: Triage = result.report["triage"]
        accepted: list[Finding] = result.report["accepted"]
        flags: list[Flag] = result.report["flags"]
        was_dirty = self.dirty
        check = self.apply(result)
        check["residual_flaws_in_patched_places"] = _residual(self.model, self.world, accepted, AUDIT_SEED)
        if not check["passed"]:
            parent = self.before_model
            self.model = parent
            self.land.set_model(parent, same_expertness=True)
            self.before_model = self.before_reward = None
            self.dirty = was_dirty
            why = (f"regression check failed: the worst basin cell would lose "
                   f"{check['basin_worst_cell_loss']:.1%} of its reward (cap {BASIN_CAP:.0%}), basin "
                   f"{check['basin_cells_before']} -> {check['basin_cells_after']} cells; "
                   f"not released, v{parent.version} stays")
            return CycleOutcome(False, parent.version, check, dict(parent.metrics), accepted, [why])
        model = self.model
        model.edits[-1].update({
            "cycle": True, "audit_of_version": t.version,
            "audit": {"mode": t.report.mode, "evaluations": t.report.evaluations,
                      "seconds": round(t.report.seconds, 4), "findings": len(t.report.findings),
                      "clusters": t.report.clusters, "verified": t.report.verified,
                      "hidden_as_reviewed": len(t.hidden)},
            "findings": [f.to_dict() for f in accepted],
            "reviewed_fine": [r.to_dict() for r in t.reviewed()],
            "regression_check": check})
        metrics = self._version_metrics(self.before_reward, t.report, accepted, flags)
        counts = t.counts()
        entry = self.release(f"cycle: {len(accepted)} findings ({counts['accepted']} of {counts['regions']} "
                             f"regions accepted)", metrics)
        self._answered[model.version] = t.report
        self.triage = None
        self._pending_decisions.pop(t.version, None)
        self.compact_journal()                   # the answered triage's decisions are done with
        return CycleOutcome(True, model.version, check, metrics, accepted, [], entry)

    # ---- versions ----------------------------------------------------------------
    @property
    def released_version(self) -> int | None:
        """The newest released version on the current branch (None before the first release)."""
        return self._base.version if self.history is not None and self._base is not None else None

    @property
    def released(self) -> bool:
        """Whether the current model is a version stored in the session's history."""
        return self.history is not None and self.model is self._base

    def release(self, label: str, metrics: dict | None = None) -> VersionEntry | None:
        """Store the current model as a new version if its regression check passed
        (a model that failed stays a draft: shown, savable, never in the history)."""
        self._require()
        check = self.last_check
        if check is None or not check.get("passed"):
            return None
        model = self.model
        h = self._ensure_history()
        if model is self._base:
            return h.entry(model.version)
        if self._base is not None and model.parent != self._base.version:
            label += f" (via unreleased v{model.parent})"
            model.parent = self._base.version
        model.metrics = metrics if metrics is not None else self._version_metrics(self.before_reward)
        h.add(model, label)                      # renumbers the model if its number is taken
        self._base = model
        self._models[model.version] = model
        self._rewards[model.version] = self.land.reward().copy()
        self.flags.save(h.root / "flags.json", self.world.name)
        self.compact_journal()
        return h.entry(model.version)

    def _ensure_history(self) -> History:
        if self.history is None:
            hint = getattr(self, "session_root_hint", None)
            root = hint if hint is not None and not (hint / "session.json").exists() \
                else auto_session_dir(self.world.name)
            self._start_history(root, self._base or self.model, self._base_label)
        return self.history

    def _start_history(self, root: Path, model: RewardModel, label: str) -> None:
        self.history = History.create(root, model, label=label)
        self._base = model
        self._models[model.version] = model
        self.reviews.save(root)
        self._attach_journal(root)
        self.compact_journal()                   # the flags and decisions made so far

    def new_session(self, root: str | Path) -> Path:
        """Start a session directory with the current model as its first version."""
        self._require()
        root = Path(root)
        if (root / "session.json").exists():
            raise SessionError(str(root), "", "a new directory (a session already lives here: open it)",
                               str(root / "session.json"))
        keep = self.reviews.for_version(self.model.version)
        self.reviews = ReviewLog({self.model.version: keep} if keep else {})
        self._models, self._rewards, self._answered = {}, {}, {}
        if not self.model.metrics.get("policy_outcome"):
            self.model.metrics.update(self._version_metrics())
        self._start_history(root, self.model, f"start (from {self._base_label})")
        return root

    def open_session(self, root: str | Path) -> RewardModel:
        """Reopen a session directory at its current version. Raises InputError."""
        root = Path(root)
        h = History.open(root)
        if not h.entries:
            raise SessionError(str(root), "versions", "at least one version", 0)
        if h.world_name == self.world.name and h.world_hash == self.world.file_hash:
            world = self.world
        elif h.world_name in worlds.available():
            world = worlds.load(h.world_name)
        else:
            raise SessionError(str(root), "world.name", f"a built-in world or the open world "
                               f"'{self.world.name}' (open the world file '{h.world_name}' first)", h.world_name)
        if world.file_hash != h.world_hash:
            raise SessionError(str(root), "world.sha256", f"the sha256 of world '{world.name}': the world "
                               "file changed since this session", h.world_hash[:12] + "...")
        current = h.current if h.current is not None else h.entries[-1].version
        model = h.load(current)
        reviews = ReviewLog.load(root)
        flags_path = root / "flags.json"
        flags = load_flags(flags_path)[0] if flags_path.exists() else None
        journal = Journal(root)
        state = journal.read()                   # a damaged snapshot fails here, before anything changes
        self.open(world, model)
        self.history, self.reviews = h, reviews
        self._base, self._base_label = model, h.entry(current).label
        self._models[current] = model
        if flags is not None:
            self.flags = FlagSet(flags)
        # Replay the journal after its snapshot: flags and decisions of an interrupted run.
        self._attach_journal(root, journal)
        if state.flags is not None:
            self.flags = FlagSet(state.flags)
        self._pending_decisions = {v: dict(d) for v, d in state.decisions.items() if d}
        self.recovery = state if (state.recovered or state.torn) else None
        if self.recovery is not None:
            self.compact_journal()               # recovered once; later opens start clean
        return model

    def restore(self, version: int) -> RewardModel:
        """Make a stored version current again (later refinements branch from it)."""
        h = self._require_history()
        model = h.restore(version)
        self.land.set_model(model)               # E_theta may differ (data-driven versions)
        self.set_model(model, self.land)
        self._base = model
        self._models[version] = model
        return model

    def export(self, version: int, dest: str | Path) -> Path:
        return self._require_history().export(version, dest)

    def version_model(self, version: int) -> RewardModel:
        if self.model is not None and version == self.model.version and (self.released or self.history is None):
            return self.model
        if version not in self._models:
            self._models[version] = self._require_history().load(version)
        return self._models[version]

    def version_reward(self, version: int) -> np.ndarray:
        """A stored version's reward on the landscape grid (cached; read-only)."""
        self._require()
        if version == self.model.version and (self.released or self.history is None):
            return self.land.reward()
        if version not in self._rewards:
            model = self.version_model(version)
            pts = self.land.points
            out = np.concatenate([model.reward(pts[i:i + 65536]) for i in range(0, len(pts), 65536)])
            out = _frozen(out)
            self._rewards[version] = out
        return self._rewards[version]

    def set_reference(self, version: int) -> None:
        """Compare against a stored version: Before shows it, Difference = now - it."""
        self.before_model = self.version_model(version)
        self.before_reward = np.array(self.version_reward(version), copy=True)
        self.reference_version = version

    def lineage(self, version: int | None = None) -> list[VersionEntry]:
        """The chain of stored versions that led to ``version`` (root first)."""
        h = self.history
        if h is None:
            return []
        v = (self._base.version if self._base is not None else h.current) if version is None else version
        known = {e.version: e for e in h.entries}
        out = []
        while v in known and len(out) <= len(known):
            out.append(known[v])
            v = known[v].parent
        return out[::-1]

    def flywheel_series(self) -> list[tuple[int, dict]]:
        """(version, metrics) along the current lineage: what the flywheel plot draws."""
        if self.history is None:
            base = self._base or self.model
            return [(base.version, dict(base.metrics))] if base is not None else []
        return [(e.version, e.metrics) for e in self.lineage()]

    def _version_metrics(self, reference: np.ndarray | None = None, audit: AuditReport | None = None,
                         accepted: list[Finding] = (), flags=()) -> dict:
        m = flywheel_metrics(self.land, reference, audit, accepted, confirmed_findings(self.model.edits),
                             flags)
        p = run_policy("value", self.model, self.world, self.land, default_policy_start(self.land))
        m.update({"policy_true_return": p.rollout.true_return, "policy_outcome": p.rollout.outcome,
                  "policy_steps": len(p.rollout.path) - 1, "policy_blocked": p.gate["block"]})
        return m

    # ---- policies -----------------------------------------------------------------
    def policy_start(self) -> np.ndarray:
        self._require()
        if self.policy_start_override is not None:
            return self.policy_start_override
        return default_policy_start(self.land)

    def set_policy_start(self, point=None) -> None:
        self.policy_start_override = None if point is None else np.asarray(point, float)

    def policy_readout(self, kind: str) -> PolicyReadout:
        """Roll the policy out on the current reward (value iteration reads the landscape:
        call it from the thread that owns the session)."""
        self._require()
        return run_policy(kind, self.model, self.world, self.land if kind == "value" else None,
                          self.policy_start())

    # ---- undo over flags and triage ---------------------------------------------
    def _undo_source(self, log: list[str], can) -> str | None:
        while log:
            src = log[-1]
            if can(src):
                return src
            log.pop()                            # e.g. decisions of a triage that is gone
        for src in ("flags", "triage"):
            if can(src):
                return src
        return None

    def _can_undo(self, src: str) -> bool:
        return self.flags.can_undo() if src == "flags" else bool(self.triage and self.triage.can_undo())

    def _can_redo(self, src: str) -> bool:
        return self.flags.can_redo() if src == "flags" else bool(self.triage and self.triage.can_redo())

    def can_undo(self) -> bool:
        return self._undo_source(list(self._edit_log), self._can_undo) is not None

    def can_redo(self) -> bool:
        return self._undo_source(list(self._redo_log), self._can_redo) is not None

    def undo_text(self) -> str:
        src = self._undo_source(list(self._edit_log), self._can_undo)
        if src is None:
            return "Nothing to undo"
        return self.flags.undo_text() if src == "flags" else self.triage.undo_text()

    def redo_text(self) -> str:
        src = self._undo_source(list(self._redo_log), self._can_redo)
        if src is None:
            return "Nothing to redo"
        return self.flags.redo_text() if src == "flags" else self.triage.redo_text()

    def undo(self) -> bool:
        src = self._undo_source(self._edit_log, self._can_undo)
        if src is None:
            return False
        if self._edit_log:
            self._edit_log.pop()
        self._redo_log.append(src)
        self._replay(lambda: self.flags.undo() if src == "flags" else self.triage.undo(),
                     "flag.undo" if src == "flags" else "triage.undo")
        return True

    def redo(self) -> bool:
        src = self._undo_source(self._redo_log, self._can_redo)
        if src is None:
            return False
        if self._redo_log:
            self._redo_log.pop()
        self._edit_log.append(src)
        self._replay(lambda: self.flags.redo() if src == "flags" else self.triage.redo(),
                     "flag.redo" if src == "flags" else "triage.redo")
        return True

    def _replay(self, fn, op: str = "") -> None:
        self._replaying = True
        self._journal_op = op
        try:
            fn()
        finally:
            self._replaying = False
            self._journal_op = None
        if op.startswith("triage") and self.triage is not None:
            self._journal("triage", op, op)
        self._sync_reviews()

    def _require_triage(self) -> Triage:
        if self.triage is None:
            raise RefinementError("no audit to triage: run Audit first")
        return self.triage

    def _require_history(self) -> History:
        if self.history is None:
            raise SessionError("session", "", "a session directory (nothing released yet)", None)
        return self.history

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
        m["released"] = None if self.history is None and self.model is self._base else self.released
        # Per-version metrics hold for the version they were computed for (a draft
        # child still carries its parent's); the remaining flaws are always live.
        own = self.model is self._base
        m["cycle"] = {k: self.model.metrics[k] for k in CYCLE_KEYS if own and k in self.model.metrics}
        m["cycle"]["flaws_remaining"] = m["flaws"]
        confirmed = confirmed_findings(self.model.edits)
        if confirmed:
            m["cycle"]["spurious_max_reward"] = spurious_max_reward(self.land, confirmed)
        return m

    def title(self) -> str:
        v = f" v{self.model.version}" if self.model is not None else ""
        return f"{self.world.name}{v}"

    def _require(self) -> None:
        if self.model is None or self.land is None:
            raise RefinementError("no reward model yet: train one or open an artifact first")
