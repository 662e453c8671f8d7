"""The collapse lesson's runs, streamed so a class watches them happen (no Qt here).

``stream`` computes every arm of the lesson in one world and yields a ``LessonResult``
as the numbers arrive: the arms of one seed are advanced together, ``every`` rounds at a
time, so seed 0's curves, path and landscape grow side by side from the first second;
the later seeds then fill in the seed mean. Each yielded result is a fresh object (its
arrays are copies), so the worker that computes it and the window that draws it never
share a list that is still growing. The numbers are ``run_world``'s and ``run_linear``'s
own (the same loops, see ``iter_world``).
"""
from __future__ import annotations

import threading
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from explorer.lessons import collapse
from explorer.lessons.collapse_linear import check_arm

ARM_NAMES = {"myopic": "Myopic RLHF", "relaxed": "FPO-relaxed", "practical": "FPO-practical"}
CURVES = ("true_utility", "proxy_reward", "noise_norm")


@dataclass
class ArmRun:
    """One arm as drawn: the seed mean (or, before any seed is complete, the live seed 0)
    and seed 0's path and reward-model landscapes so far."""
    arm: str
    rounds: np.ndarray                    # 0..t: the rounds the curves cover so far
    true_utility: np.ndarray
    proxy_reward: np.ndarray
    noise_norm: np.ndarray
    seeds: int                            # seeds in the mean (0: the live seed 0 alone)
    seed_utility: tuple = ()              # every seed's true utility so far (thin lines)
    positions: np.ndarray | None = None   # seed 0's policy mean (t + 1, 3)
    landscape_rounds: np.ndarray | None = None
    landscapes: np.ndarray | None = None  # seed 0's RM on the grid (snapshots, N)

    @property
    def last_round(self) -> int:
        return len(self.true_utility) - 1


@dataclass
class LessonResult:
    world_name: str
    world: object | None                  # None for "linear"
    arms: dict = field(default_factory=dict)
    published: dict | None = None
    total_rounds: int = 0                 # the rounds asked for (the plot's x range)
    seeds: int = 1                        # the seeds asked for
    step: int = 0                         # progress: steps done of ``steps``
    steps: int = 1
    text: str = ""
    complete: bool = False


def snapshot_rounds(rounds: int, count: int = 30) -> list[int]:
    """The rounds whose landscape seed 0 keeps (about ``count``, always 0 and the last)."""
    return sorted({round(r) for r in np.linspace(0, rounds, min(rounds, count) + 1)})


def _arm(arm: str, done: list[dict], live: dict | None, first: dict | None) -> ArmRun:
    """The arm as drawn from its complete seed runs ``done``, the seed running now
    (``live``, partial) and seed 0's run (complete or partial) for the path."""
    if done:
        mean = {k: np.mean([r[k] for r in done], axis=0) for k in CURVES}
    else:
        mean = {k: np.asarray(live[k], float) for k in CURVES}
    seed_u = tuple(np.asarray(r["true_utility"], float) for r in done)
    if live is not None and done:
        seed_u = seed_u + (np.asarray(live["true_utility"], float),)
    elif live is not None:
        seed_u = (np.asarray(live["true_utility"], float),)
    run = ArmRun(arm, np.arange(len(mean["true_utility"])), mean["true_utility"], mean["proxy_reward"],
                 mean["noise_norm"], len(done), seed_u)
    if first is not None and "positions" in first:
        run.positions = np.asarray(first["positions"], float)
        run.landscape_rounds = np.asarray(first["landscape_rounds"], int)
        run.landscapes = np.asarray(first["landscapes"], np.float32)
    return run


def stream(world_name: str, rounds: int, seeds: int, stop: threading.Event,
           arms: Iterable[str] | None = None, every: int = 10) -> Generator[LessonResult, None, LessonResult | None]:
    """Yields the lesson so far (a ``LessonResult``) after every ``every`` rounds of all
    arms; returns the complete result, or None when ``stop`` is set (checked between steps).

    ``world_name`` "linear" is the authors' environment (seed 0, their published run,
    whatever ``seeds`` says); any other name is a world whose arms run ``seeds`` seeds.
    """
    arms = tuple(check_arm(arm) for arm in (arms or collapse.ARMS))
    if rounds < 1:
        raise ValueError(f"rounds: expected a whole number >= 1, got {rounds!r}")
    if world_name == "linear":
        base = LessonResult("linear", None, published=collapse.PUBLISHED_LINEAR, total_rounds=rounds, seeds=1)
        plans = [{arm: collapse.iter_linear(arm, iterations=rounds, seed=0, every=every) for arm in arms}]
    else:
        import worlds
        world = worlds.load(world_name)
        if seeds < 1:
            raise ValueError(f"seeds: expected a whole number >= 1, got {seeds!r}")
        snaps = snapshot_rounds(rounds)
        base = LessonResult(world_name, world, total_rounds=rounds, seeds=seeds)
        # Generators start lazily: seed s's runs are built only when seed s begins.
        plans = [{arm: collapse.iter_world(world, arm, rounds=rounds, seed=s, every=every,
                                           snapshot_rounds=snaps if s == 0 else [rounds])
                  for arm in arms} for s in range(seeds)]
    done: dict[str, list[dict]] = {arm: [] for arm in arms}
    first: dict[str, dict] = {}
    chunks = 2 + rounds // every + (rounds % every != 0)   # next() calls per run: round 0, every, last, end
    total, step = len(plans) * len(arms) * chunks, 0
    for s, runs in enumerate(plans):
        live: dict[str, dict] = {}
        try:
            while runs:
                for arm in list(runs):
                    if stop.is_set():
                        return None
                    try:
                        live[arm] = next(runs[arm])
                    except StopIteration as end:
                        done[arm].append(end.value)
                        live.pop(arm, None)
                        del runs[arm]
                    step = min(step + 1, total - 1)
                    if s == 0:
                        first[arm] = live.get(arm) or done[arm][0]
                if not runs:
                    break
                t = max(p["round"] for p in live.values()) if live else rounds
                unit = "iteration" if world_name == "linear" else "round"
                text = (f"seed {s + 1} of {len(plans)}, {unit} {t} of {rounds}" if len(plans) > 1
                        else f"{unit} {t} of {rounds}")
                yield replace(base, arms={arm: _arm(arm, done[arm], live.get(arm), first.get(arm)) for arm in arms},
                              step=step, steps=total, text=text)
        finally:
            for gen in runs.values():
                gen.close()
    return replace(base, arms={arm: _arm(arm, done[arm], None, first.get(arm)) for arm in arms},
                   step=total, steps=total, text="done", complete=True)
