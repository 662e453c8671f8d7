"""A hypothesis state machine drives random sequences of what a person does:
add / move / delete a flag, change its radius, undo, redo, refine (local or
data-driven), stop a refinement early, save and reload. After every step:

* undo then redo is the identity on the flag list;
* a saved artifact reloads to exactly the same reward;
* reward on the expert samples stays within the anchor tolerance (>= 0.9);
* no NaN anywhere in the landscape.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import worlds
from explorer.model import artifact
from explorer.refine.data_patch import DataDrivenPatch
from explorer.model.flags import FlagSet
from explorer.model.landscape import Landscape
from explorer.model.learning import config_for, train
from explorer.refine import RefinementError, local_patch

WORLD = worlds.load("cube")
BASE = train(WORLD, config_for(WORLD, steps=1500))
RESOLUTION = 8                     # a coarse grid keeps a thousand sequences fast
STATS = {"sequences": 0, "steps": 0, "refinements": 0, "refused": 0, "saves": 0}
coord = st.floats(-1.0, 1.0, allow_nan=False)
centers = st.tuples(coord, coord, coord)
radii = st.floats(0.05, 1.2, allow_nan=False)


class FlaggingSession(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        STATS["sequences"] += 1
        self.flags = FlagSet()
        self.model = BASE
        self.land = Landscape(BASE, WORLD, RESOLUTION)
        self.dir = Path(tempfile.mkdtemp(prefix="stateful-"))

    def teardown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def _step(self):
        STATS["steps"] += 1

    @rule(center=centers, radius=radii)
    def add(self, center, radius):
        self._step()
        self.flags.add(center, radius)

    @precondition(lambda self: len(self.flags) > 0)
    @rule(data=st.data(), center=centers)
    def move(self, data, center):
        self._step()
        f = data.draw(st.sampled_from(self.flags.snapshot()))
        self.flags.move(f.id, center)

    @precondition(lambda self: len(self.flags) > 0)
    @rule(data=st.data(), radius=radii)
    def resize(self, data, radius):
        self._step()
        f = data.draw(st.sampled_from(self.flags.snapshot()))
        self.flags.set_radius(f.id, radius)

    @precondition(lambda self: len(self.flags) > 0)
    @rule(data=st.data())
    def delete(self, data):
        self._step()
        self.flags.delete(data.draw(st.sampled_from(self.flags.snapshot())).id)

    @rule()
    def undo_redo(self):
        self._step()
        before = self.flags.snapshot()
        if self.flags.undo():
            self.flags.redo()
        assert self.flags.snapshot() == before

    @rule()
    def undo(self):
        self._step()
        self.flags.undo()

    @rule()
    def redo(self):
        self._step()
        self.flags.redo()

    @precondition(lambda self: len(self.flags) > 0)
    @rule(method=st.sampled_from(["local", "data"]), stop_after=st.integers(1, 3))
    def refine(self, method, stop_after):
        self._step()
        STATS["refinements"] += 1
        try:
            if method == "local":
                self.model, _ = local_patch(self.model, self.land, self.flags.snapshot())
                self.land.set_model(self.model, same_expertness=True)
            else:
                job = DataDrivenPatch(self.model, self.land, self.flags.snapshot(), steps=30)
                steps = job.steps(report_every=10)
                for _ in range(stop_after):            # Stop pressed after a few reports
                    if next(steps, None) is None:
                        break
                steps.close()
                self.model = job.result()
                self.land.set_model(self.model)
        except RefinementError:
            STATS["refused"] += 1                      # a clear refusal: the model is unchanged

    @rule()
    def save_and_reload(self):
        self._step()
        STATS["saves"] += 1
        path = artifact.save(self.model, self.dir / f"v{STATS['saves']}")
        back = artifact.load(path)
        pts = self.land.points
        assert np.array_equal(back.reward(pts), self.model.reward(pts))
        self.model = back
        self.land.set_model(back)

    @invariant()
    def landscape_is_finite_and_expert_keeps_reward(self):
        r = self.land.reward()
        assert np.isfinite(r).all() and (r >= 0).all() and (r <= 1).all()
        assert self.model.reward(WORLD.expert_samples()).min() >= 0.9


TestFlaggingSession = FlaggingSession.TestCase
TestFlaggingSession.settings = settings(max_examples=1000, stateful_step_count=8, deadline=None,
                                        suppress_health_check=list(HealthCheck))


def test_report_stateful_figures():
    """Runs after the state machine (file order); prints what was exercised."""
    print(f"\nstateful: {STATS}")
