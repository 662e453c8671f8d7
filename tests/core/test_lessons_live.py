"""The lessons' streamed runs (``collapse_live``, ``afd_live``): results arrive in
steps, and the complete one has the very numbers of the plain runs."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from explorer.lessons import afd, afd_live, collapse, collapse_live


def _drain(gen):
    steps = []
    while True:
        try:
            steps.append(next(gen))
        except StopIteration as end:
            return steps, end.value


def test_iter_world_is_run_world_step_by_step(cube):
    steps, result = _drain(collapse.iter_world(cube, "myopic", rounds=25, seed=1, every=10,
                                               snapshot_rounds=(0, 10, 25)))
    assert [s["round"] for s in steps] == [0, 10, 20, 25]
    assert [len(s["true_utility"]) for s in steps] == [1, 11, 21, 26]
    assert [len(s["landscapes"]) for s in steps] == [1, 2, 2, 3]
    plain = collapse.run_world(cube, "myopic", rounds=25, seed=1, snapshot_rounds=(0, 10, 25))
    for key in ("true_utility", "proxy_reward", "noise_norm", "positions", "landscapes"):
        assert np.array_equal(result[key], plain[key]), key
    assert np.array_equal(steps[-1]["true_utility"], plain["true_utility"])


def test_collapse_stream_draws_seed_0_live_then_fills_in_the_mean(cube):
    steps, result = _drain(collapse_live.stream("cube", 20, 2, threading.Event(), every=10))
    assert result.complete and not any(s.complete for s in steps)
    first = steps[0].arms["myopic"]
    assert first.seeds == 0 and first.last_round == 0 and first.landscapes.shape[0] == 1
    assert [s.step for s in steps] == sorted(s.step for s in steps) and result.step == result.steps
    snaps = collapse_live.snapshot_rounds(20)
    for arm in collapse.ARMS:
        runs = [collapse.run_world(cube, arm, rounds=20, seed=s, snapshot_rounds=snaps if s == 0 else [20])
                for s in range(2)]
        got = result.arms[arm]
        assert got.seeds == 2 and len(got.seed_utility) == 2
        assert np.array_equal(got.true_utility, np.mean([r["true_utility"] for r in runs], axis=0))
        assert np.array_equal(got.landscapes, runs[0]["landscapes"])
        assert np.array_equal(got.positions, runs[0]["positions"])


def test_collapse_stream_linear_is_the_published_run():
    steps, result = _drain(collapse_live.stream("linear", 300, 3, threading.Event(), every=50))
    assert len(steps) == 7 and "iteration 300" in steps[-1].text
    assert result.published == collapse.PUBLISHED_LINEAR and result.seeds == 1
    for arm in collapse.ARMS:
        assert np.array_equal(result.arms[arm].true_utility, collapse.run_linear(arm)["true_utility"])


def test_a_stopped_stream_returns_none():
    stop = threading.Event()
    gen = collapse_live.stream("linear", 300, 1, stop)
    next(gen)
    stop.set()
    assert _drain(gen)[1] is None


def test_bad_stream_arguments_are_refused():
    with pytest.raises(ValueError, match="arm"):
        next(collapse_live.stream("cube", 10, 1, threading.Event(), arms=("greedy",)))
    with pytest.raises(ValueError, match="rounds"):
        next(collapse_live.stream("cube", 0, 1, threading.Event()))
    with pytest.raises(ValueError, match="reward models"):
        next(afd_live.stream("cube", 0, threading.Event(), order=("demo-demo",)))


def test_afd_stream_routes_first_then_each_model(cube):
    steps, result = _drain(afd_live.stream("cube", 0, threading.Event(), order=("closed-form",)))
    assert len(steps) == 1 and steps[0].runs == {} and steps[0].candidates.shape[0] == max(afd.BON_NS)
    assert result.complete and set(result.runs) == {"closed-form"}
    st = afd.setup(cube, 0)
    plain = afd.run_afd(cube, "closed-form", afd.BON_NS, 0, st)
    assert result.runs["closed-form"]["best_of_n"] == plain["best_of_n"]
    assert result.oracle == {row["n"]: row["oracle"] for row in plain["best_of_n"]}
    assert result.landscapes["closed-form"].shape == (cube.grid().size,)
