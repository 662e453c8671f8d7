"""A hypothesis state machine drives the session the way a person might: add,
move, delete and resize flags, audit, decide on regions, refine (local or
data-driven, sometimes stopped), reshape psi, restore a version, undo, redo,
save and reopen. After every step:

* a command followed by undo restores the reward field and the flags exactly;
* save then open gives an equal session (flags, version, metrics, undo text);
* no NaN anywhere in the landscape, and the expert samples keep their reward.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import worlds
from explorer.model.learning import config_for, train
from explorer.refine import RefinementError
from explorer.session import Session
from explorer.session.jobs import drive

WORLD = worlds.load("cube")
BASE = train(WORLD, config_for(WORLD, steps=1500))
STATS = {"sequences": 0, "steps": 0, "undo_checks": 0, "refinements": 0, "refused": 0, "reopens": 0}
coord = st.floats(-1.0, 1.0, allow_nan=False)
centers = st.tuples(coord, coord, coord)
radii = st.floats(0.05, 1.2, allow_nan=False)


def snapshot(s: Session):
    return s.version, s.flags, s.reward().copy()


def same(a, b) -> bool:
    return a[0] == b[0] and a[1] == b[1] and np.array_equal(a[2], b[2])


class PersonAtTheSession(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        STATS["sequences"] += 1
        self.s = Session(WORLD, BASE.clone())
        self.dir = Path(tempfile.mkdtemp(prefix="stateful-"))

    def teardown(self):
        self.s.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _do(self, fn) -> None:
        """Do a command, check that undo restores exactly what was there, redo it."""
        STATS["steps"] += 1
        before, n = snapshot(self.s), len(self.s.commands.done)
        try:
            fn()
        except RefinementError:
            STATS["refused"] += 1
            assert same(snapshot(self.s), before)       # a refusal changes nothing
            return
        if len(self.s.commands.done) == n:
            return                                      # nothing to record (e.g. an unchanged psi)
        after = snapshot(self.s)
        self.s.undo()
        assert same(snapshot(self.s), before)
        self.s.redo()
        assert same(snapshot(self.s), after)
        STATS["undo_checks"] += 1

    @rule(center=centers, radius=radii)
    def add(self, center, radius):
        self._do(lambda: self.s.flag(center, radius))

    @precondition(lambda self: len(self.s.flags) > 0)
    @rule(data=st.data(), center=centers)
    def move(self, data, center):
        f = data.draw(st.sampled_from(self.s.flags))
        self._do(lambda: self.s.move_flag(f.id, center))

    @precondition(lambda self: len(self.s.flags) > 0)
    @rule(data=st.data(), radius=radii)
    def resize(self, data, radius):
        f = data.draw(st.sampled_from(self.s.flags))
        self._do(lambda: self.s.resize_flag(f.id, radius))

    @precondition(lambda self: len(self.s.flags) > 0)
    @rule(data=st.data())
    def delete(self, data):
        f = data.draw(st.sampled_from(self.s.flags))
        self._do(lambda: self.s.delete_flag(f.id))

    @rule()
    def audit(self):
        self._do(self.s.audit)

    @precondition(lambda self: self.s.triage is not None and self.s.triage.regions)
    @rule(data=st.data(), action=st.sampled_from(["accept", "reject", "reset"]))
    def decide(self, data, action):
        r = data.draw(st.sampled_from(self.s.triage.regions))
        self._do(lambda: self.s.decide(action, r.cluster))

    @precondition(lambda self: len(self.s.flags) > 0)
    @rule(method=st.sampled_from(["local", "data"]), stop=st.booleans())
    def refine(self, method, stop):
        STATS["refinements"] += 1

        def run():
            job = self.s.refine_job(method, steps=30)
            ev = threading.Event()
            if stop:
                ev.set()                                 # Stop pressed at the first report
            out = job.finish(drive(job.run(ev)))
            if out.version is None:
                raise RefinementError(out.message)
        self._do(run)

    @rule(l_max=st.floats(0.05, 0.6), k=st.floats(0.5, 6.0))
    def psi(self, l_max, k):
        self._do(lambda: self.s.set_psi(l_max, k))

    @precondition(lambda self: len(self.s.versions) > 1)
    @rule(data=st.data())
    def restore(self, data):
        v = data.draw(st.sampled_from(sorted(self.s.versions.entries)))
        self._do(lambda: self.s.restore(v))

    @rule()
    def undo(self):
        STATS["steps"] += 1
        self.s.undo()

    @rule()
    def redo(self):
        STATS["steps"] += 1
        self.s.redo()

    @precondition(lambda self: len(self.s.commands.done) % 4 == 3)    # now and then: it writes every version
    @rule()
    def save_and_open(self):
        STATS["steps"] += 1
        STATS["reopens"] += 1
        d = self.dir / f"s{STATS['reopens']}"
        self.s.save(d)
        t = Session.open(d)
        assert t.flags == self.s.flags and t.version == self.s.version
        assert t.undo_text() == self.s.undo_text() and t.redo_text() == self.s.redo_text()
        assert t.metrics() == self.s.metrics()
        assert np.array_equal(t.reward(), self.s.reward())
        self.s.close()
        self.s = t                                      # go on in the reopened session

    @invariant()
    def landscape_is_finite_and_expert_keeps_reward(self):
        r = self.s.reward()
        assert np.isfinite(r).all() and (r >= 0).all() and (r <= 1).all()


TestPersonAtTheSession = PersonAtTheSession.TestCase
TestPersonAtTheSession.settings = settings(max_examples=30, stateful_step_count=12, deadline=None,
                                           suppress_health_check=list(HealthCheck))


def test_report_stateful_figures():
    """Runs after the state machine (file order); prints what was exercised."""
    print(f"\nstateful: {STATS}")
