"""Running a tour on a session: each step's actions as session calls, and Back
through the session's own undo history.

``TourRun`` knows which step is shown and, for every step entered, how long the
session's command history was before its actions ran. Entering a step runs its
actions (``perform`` is a generator: an action that is long work yields the
session ``Job`` for the caller to run -- the window in its worker thread, the
CLI at once -- and receives its outcome back). Back undoes, one command at a
time, exactly what the steps after the target did (``Session.undo``), so the
session is where it was when the target step was first shown. No Qt here.
"""
from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np

from explorer.model.learning import config_for

from .format import Action, Step, Tour


@dataclass
class StepResult:
    notes: list[str] = field(default_factory=list)      # what each action did, in words


class TourRun:
    def __init__(self, tour: Tour, session):
        self.tour = tour
        self.session = session
        self.index = -1                                # the step shown (-1: none yet)
        self.marks: dict[int, int] = {}                # step -> commands done before its actions
        self.results: dict[int, StepResult] = {}
        self.trained = False                           # the tour's training ran (Back keeps it)
        self.job_world = None                          # the world a training job yielded trains

    @property
    def step(self) -> Step | None:
        return self.tour.steps[self.index] if 0 <= self.index < len(self.tour.steps) else None

    def __len__(self) -> int:
        return len(self.tour.steps)

    # ------------------------------------------------------------------ moving
    def enter(self, index: int) -> Generator:
        """Show step ``index`` (the next one): run its actions. A generator: it yields
        each Job to run and expects that job's outcome to be sent back."""
        if not 0 <= index < len(self.tour.steps):
            raise IndexError(f"the tour has steps 1 to {len(self.tour.steps)}, not {index + 1}")
        self.index = index
        self.marks[index] = len(self.session.commands.done)
        result = StepResult()
        self.results[index] = result
        for action in self.tour.steps[index].do:
            yield from self._perform(action, result)

    def back(self) -> int:
        """Go back one step: undo what this step did; returns the step now shown."""
        if self.index <= 0:
            return self.index
        self.revert_to(self.index - 1)
        return self.index

    def revert_to(self, index: int) -> None:
        """Undo every command the steps after ``index`` made (their marks say how many)."""
        target = self.marks.get(index + 1, len(self.session.commands.done))
        while len(self.session.commands.done) > target and self.session.undo():
            pass
        for i in [k for k in self.marks if k > index]:
            self.marks.pop(i)
            self.results.pop(i, None)
        self.index = index

    def restart(self) -> None:
        """Back to the first step, every tour edit undone."""
        if self.marks:
            self.revert_to(0)
            target = self.marks.get(0, len(self.session.commands.done))
            while len(self.session.commands.done) > target and self.session.undo():
                pass
        self.index = -1
        self.marks.clear()
        self.results.clear()

    # ------------------------------------------------------------------ actions
    def _perform(self, action: Action, result: StepResult) -> Generator:
        s = self.session
        name, arg = action.name, action.arg
        if name == "train":
            if self.trained and s.ready and s.world.name == self.tour.world:
                result.notes.append("trained earlier in this tour")
                return
            world = tour_world(self.tour, s)
            self.job_world = world
            outcome = yield s.training_job(config_for(world), world=world, cache=False)
            self.trained = s.ready
            result.notes.append(_message(outcome))
            return
        if not s.ready:
            raise RuntimeError(f"the tour's action '{action}' needs a reward model: a step before it must train")
        if name == "audit":
            outcome = yield s.audit_job()
            result.notes.append(_message(outcome))
        elif name in ("accept", "reject"):
            result.notes.append(self._decide(name, arg))
        elif name == "accept-all":
            n = s.accept_all() if s.triage is not None else 0
            result.notes.append(f"accepted {n} region{'s' if n != 1 else ''}")
        elif name == "apply":
            t = s.triage
            if t is None or not t.counts()["accepted_findings"]:
                result.notes.append("nothing accepted to apply")
                return
            outcome = yield s.apply_job()
            result.notes.append(_message(outcome))
        elif name == "flag":
            centre = spurious_place(s)
            if centre is None:
                result.notes.append("no cell breaks a norm with reward above the floor: nothing to flag")
                return
            flag = s.flag(centre)
            result.notes.append(f"flag {flag.describe()}")
        elif name == "refine":
            outcome = yield s.refine_job(arg)
            result.notes.append(_message(outcome))
        elif name == "restore":
            s.restore(int(arg))
            result.notes.append(f"restored v{arg}")

    def _decide(self, name: str, arg: str) -> str:
        t = self.session.triage
        if t is None:
            return f"no audit to {name} from"
        regions = t.regions
        if arg == "last":
            pending = [r for r in regions if r.decision == "pending"]
            if not pending:
                return f"no pending region left to {name}"
            region = pending[-1]
        else:
            n = int(arg)
            if n > len(regions):
                return (f"the audit found {len(regions)} region{'s' if len(regions) != 1 else ''}: "
                        f"no region {n} to {name}")
            region = regions[n - 1]
        if name == "reject" and region.decision == "accepted":
            return f"region {t.number(region.cluster)} is accepted already: none left to reject"
        self.session.decide(name, region.cluster)
        n = len(region.members)
        verb = "accepted" if name == "accept" else "rejected (reviewed, fine)"
        return f"region {t.number(region.cluster)} {verb}: {n} finding{'s' if n != 1 else ''}"


def tour_world(tour: Tour, session):
    """The tour's world: the session's if it is that world, else loaded by name or path."""
    if session.world.name == tour.world or session.world.source == tour.world:
        return session.world
    import worlds
    return worlds.load(tour.world)


def _message(outcome) -> str:
    return getattr(outcome, "message", "") or "done"


def spurious_place(session) -> tuple[float, float, float] | None:
    """The clearest spurious extrapolation: the flawed cell with the highest
    reward x distance from the expert support."""
    land = session.land
    r = session.reward()
    score = r * land.flaw_mask(r) * land.distance
    if not np.any(score > 0):
        return None
    return tuple(float(v) for v in land.points[int(np.argmax(score))])
