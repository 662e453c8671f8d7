"""Alignment collapse, part 2: the same loop in our 3D worlds.

The linear environment's structure, carried into a world (``worlds.load(name)``):

- **Action.** a = (p, z): p the position the policy controls (x, y, z in a volume world,
  ground x, y in a terrain world; ``world.to_state`` clips or lifts it), z in R^K
  (K = 8) *distractor* features, the paper's "noise" coordinates.
- **Hidden utility** (the teacher's oracle, never shown to the RM except as labels):
  U(a) = 10 exp(-0.3 D(a)^2), D(a)^2 = (d_goal(p) / l)^2 + |z|^2, with d_goal the
  distance of the state to the nearest goal centre. This is the paper's utility with the
  three signal coordinates replaced by the world position: the distractors earn nothing
  and any amount of them costs utility, as the paper's noise coordinates do. The length
  l puts the start where the paper's y0 sits: l = d_goal(start) / sqrt(12), so
  D(start) = |y0 - y*| = sqrt(12) and U(start) = 10 e^-3.6 = 0.27 in every world (cube:
  l = 0.82; canyon 0.51, ridge 0.38, twin-goals 0.46). We do not use
  ``world.true_reward`` as the label because it is flat (zero) away from the goal and
  the route, so a reward model fit where the policy stands would get no signal;
  ``world_reward`` (the world's own ground truth at the policy) is logged for display.
- **Reward model.** A small MLP (state normalised to [-1, 1]^3, plus z; 32 tanh units).
  It starts from a warm start on the *initial policy's* data: 256 states around the
  start (spread 0.3 l) whose distractors happen to correlate with utility along one
  random direction v (z = (U_pos / 10) v + N(0, 0.05^2)), the way longer answers
  happen to be better ones in preference data. That is the blind spot: the RM credits
  v-distractors with reward.
- **One round.** One forward-difference step of the policy mean on the FPO objective
  (eps 0.05, step 0.02, distractor cost 0.1 |z|^2: the paper's numbers; the position is
  bounded by the world, so it pays no cost), then 8 samples N(mean, 0.05^2) from the
  policy are labelled by U and pushed into a FIFO buffer (64), and the RM takes one
  squared-loss SGD step (lr 0.005, decoupled decay 1e-4, the paper's numbers) on the
  buffer. The RM only ever sees the policy's own samples.
- **Why it collapses.** Along the policy's own path, position and distractors change
  together, so the samples cannot tell the RM which of the two made utility rise; the
  retrained RM keeps (early on, reinforces) the distractor slope, and the policy keeps
  pushing distractors after it has reached the goal: true utility peaks, then falls,
  while the proxy at the policy stays close to the truth there. The loop does the
  damage: with the same warm start frozen (``rm_lr=0``) the cube's myopic policy ends
  at 9.0, retrained on its own samples at 6.5. FPO-relaxed's penalty
  sees that retraining would correct the RM's overrating and steers away from it.
- **An optional guard** (``WorldLoop.cap_relaxed``, off by default so that the
  relaxed penalty is the paper's formula in both environments). The relaxed penalty is
  first order: it expects retraining to move the score at a by lambda |grad_phi r|^2
  times the RM's error. The MLP's |grad_phi r|^2 is 10-30 everywhere (its hidden units
  alone contribute |h|^2), where the linear RM's |y|^2 starts at 0; with
  lambda |grad_phi r|^2 > 1 the expected correction overshoots the label, and where the
  RM *under*rates, the policy is paid for making |grad_phi r|^2 large by pushing
  distractors. At lambda = 0.1 this stays harmless in the built-in worlds (relaxed ends
  at 9.86-9.93), but at lambda = 0.3 it runs away on a terrain test world (mean final
  7.5). The cap clamps lambda |grad_phi r|^2 at 1: retraining is expected to move the
  score at most to U, never past it (then 9.97). Where the cap binds, the relaxed
  objective is U itself.

Start: the first expert route's start (the cube: (-1, -1, -0.2)), distractors 0.
"""
from __future__ import annotations

import collections
from dataclasses import asdict, dataclass
from typing import Generator, Sequence

import numpy as np
import torch
from torch import nn

from explorer.generators import drive
from explorer.lessons.collapse_linear import (LAMBDA, check_arm, forward_difference, fpo_objective,
                              param_grad_sq_norm, rm_sgd_step, steering_penalty)


@dataclass(frozen=True)
class WorldLoop:
    """The 3D loop's settings (paper numbers where the paper has one)."""
    distractors: int = 8
    hidden: int = 32
    fd_eps: float = 0.05
    policy_step: float = 0.02
    distractor_cost: float = 0.1
    policy_sigma: float = 0.05
    samples: int = 8                # policy samples labelled per round
    buffer: int = 64                # FIFO capacity (samples)
    rm_lr: float = 0.005
    rm_decay: float = 1e-4
    rm_steps: int = 1
    seed_samples: int = 256         # warm start: the initial policy's data
    seed_spread: float = 0.3        # x the world's length scale
    spurious: float = 1.0           # distractor/utility correlation in the warm-start data
    pretrain_steps: int = 400
    pretrain_lr: float = 0.01
    cap_relaxed: bool = False       # clamp lambda |grad_phi r|^2 at 1 in the relaxed penalty

    def to_dict(self) -> dict:
        return asdict(self)


START_DISTANCE = float(np.sqrt(12.0))     # |y0 - y*| in the linear environment


class HiddenUtility:
    """U(a) = 10 exp(-0.3 D(a)^2); see the module docstring."""

    def __init__(self, world, start: np.ndarray | None = None, scale: float | None = None) -> None:
        if not world.goals:
            raise ValueError(f"world {world.name!r} has no goal: the collapse lesson needs one")
        self.world = world
        self.ctrl = 2 if world.is_terrain else 3
        self.lo = np.asarray(world.bounds_min, dtype=float)
        self.hi = np.asarray(world.bounds_max, dtype=float)
        if scale is None:
            p0 = start_position(world) if start is None else np.asarray(start, float)[: self.ctrl]
            scale = float(self.goal_distance(self.states(p0[None, :]))[0]) / START_DISTANCE
        if not scale > 1e-9:          # a start on the goal: fall back to the world's half-extent
            scale = float(np.mean((self.hi - self.lo)[: self.ctrl]) / 2.0)
        self.scale = float(scale)

    def states(self, pos: np.ndarray) -> np.ndarray:
        return self.world.to_state(pos[..., : self.ctrl])

    def goal_distance(self, states: np.ndarray) -> np.ndarray:
        return np.min([g.distance(states) for g in self.world.goals], axis=0)

    def distance(self, actions: np.ndarray) -> np.ndarray:
        """D(a): distance to the optimum (nearest goal, no distractors), in U's units."""
        d = self.goal_distance(self.states(actions)) / self.scale
        return np.sqrt(d ** 2 + np.sum(actions[:, self.ctrl:] ** 2, axis=1))

    def __call__(self, actions: np.ndarray) -> np.ndarray:
        return 10.0 * np.exp(-0.3 * self.distance(actions) ** 2)

    def features(self, actions: np.ndarray) -> np.ndarray:
        """What the RM sees: the state normalised to [-1, 1]^3, then the distractors."""
        s = self.states(actions)
        return np.concatenate([2 * (s - self.lo) / (self.hi - self.lo) - 1, actions[:, self.ctrl:]], axis=1)

    def state_features(self, states: np.ndarray, z: np.ndarray) -> np.ndarray:
        s = np.asarray(states, dtype=float)
        zz = np.broadcast_to(np.asarray(z, dtype=float), (len(s), len(z)))
        return np.concatenate([2 * (s - self.lo) / (self.hi - self.lo) - 1, zz], axis=1)


def make_reward_model(distractors: int, hidden: int, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(3 + distractors, hidden), nn.Tanh(),
                             nn.Linear(hidden, 1)).double()


def start_position(world) -> np.ndarray:
    ctrl = 2 if world.is_terrain else 3
    if world.routes:
        return np.asarray(world.routes[0].path(np.array([0.0])), dtype=float)[0, :ctrl]
    return (np.asarray(world.bounds_min, float) + np.asarray(world.bounds_max, float))[:ctrl] / 2


def warm_start(rm: nn.Module, util: HiddenUtility, start: np.ndarray, cfg: WorldLoop,
               rng: np.random.Generator) -> None:
    """Fit the RM to the initial policy's data, whose distractors correlate with utility."""
    k, n = cfg.distractors, cfg.seed_samples
    v = rng.normal(size=k)
    v /= np.linalg.norm(v)
    pos = start + cfg.seed_spread * util.scale * rng.normal(size=(n, util.ctrl))
    pos = np.clip(pos, util.lo[: util.ctrl], util.hi[: util.ctrl])
    u_pos = util(np.concatenate([pos, np.zeros((n, k))], axis=1))
    z = cfg.spurious * (u_pos / 10.0)[:, None] * v[None, :] + rng.normal(0.0, 0.05, size=(n, k))
    acts = np.concatenate([pos, z], axis=1)
    x, y = torch.as_tensor(util.features(acts)), torch.as_tensor(util(acts))
    opt = torch.optim.Adam(rm.parameters(), lr=cfg.pretrain_lr)
    for _ in range(cfg.pretrain_steps):
        opt.zero_grad(set_to_none=True)
        (rm(x).reshape(-1) - y).pow(2).mean().backward()
        opt.step()


_WARM: dict = {}


def _warm_started(world, util: HiddenUtility, seed: int, cfg: WorldLoop, p0: np.ndarray) -> tuple:
    """The warm-started RM and the generator after it; the arms of one seed share them
    (cached, so comparing arms pays for the warm start once)."""
    key = (world.name, world.file_hash, seed, cfg, tuple(np.round(p0, 12)))
    rm = make_reward_model(cfg.distractors, cfg.hidden, seed)
    rng = np.random.default_rng(seed)
    if key in _WARM:
        weights, rng_state = _WARM[key]
        rm.load_state_dict(weights)
        rng.bit_generator.state = rng_state
        return rm, rng
    warm_start(rm, util, p0, cfg, rng)
    if len(_WARM) >= 64:
        _WARM.clear()
    _WARM[key] = ({k: v.clone() for k, v in rm.state_dict().items()}, rng.bit_generator.state)
    return rm, rng


def _distractor_slope(rm: nn.Module, x: torch.Tensor) -> float:
    """|grad_z r| at one feature row: how much the RM pays for distractors there."""
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(rm(x).sum(), x)
    return float(g[0, 3:].norm())


def _landscape(rm: nn.Module, util: HiddenUtility, points: np.ndarray, z: np.ndarray) -> tuple:
    x = torch.as_tensor(util.state_features(points, z))
    with torch.no_grad():
        r = rm(x).reshape(-1).numpy()
    d = util.goal_distance(np.asarray(points, float)) / util.scale
    u = 10.0 * np.exp(-0.3 * (d ** 2 + float(np.sum(z ** 2))))
    return r.astype(np.float32), u.astype(np.float32)


def run_world(world, arm: str, rounds: int = 300, seed: int = 0, lam: float = LAMBDA,
              config: WorldLoop | None = None, snapshot_rounds: Sequence[int] | None = None,
              grid_resolution: int | None = None, start: Sequence[float] | None = None) -> dict:
    """One run of iterative RLHF in ``world``; per-round arrays have ``rounds + 1`` entries.

    ``proxy_reward`` is the RM's score of the policy mean before the RM is retrained on
    that round's samples; ``positions`` are the policy mean's world states (rounds + 1, 3);
    ``landscapes[i]`` is the RM's reward on ``world.grid(grid_resolution).points`` after
    round ``landscape_rounds[i]`` (distractors held at the policy's values then), and
    ``utility_landscapes[i]`` the hidden utility on the same slice.
    """
    return drive(iter_world(world, arm, rounds, seed, lam, config, snapshot_rounds, grid_resolution,
                             start, every=0))


def iter_world(world, arm: str, rounds: int = 300, seed: int = 0, lam: float = LAMBDA,
               config: WorldLoop | None = None, snapshot_rounds: Sequence[int] | None = None,
               grid_resolution: int | None = None, start: Sequence[float] | None = None,
               every: int = 10) -> Generator[dict, None, dict]:
    """``run_world`` step by step, so a lesson can draw the run while it is computed: yields
    the run so far (``partial``) after round 0 and every ``every`` rounds (never when
    ``every`` is 0), returns ``run_world``'s result. The numbers are the same: the loop is one."""
    check_arm(arm)
    cfg = config or WorldLoop()
    util = HiddenUtility(world, start)
    ctrl, k = util.ctrl, cfg.distractors
    p0 = np.asarray(start, dtype=float)[:ctrl] if start is not None else start_position(world)
    rm, rng = _warm_started(world, util, seed, cfg, p0)
    lo, hi = util.lo[:ctrl], util.hi[:ctrl]

    cap = 1.0 / lam if cfg.cap_relaxed and lam > 0 else None

    def cost(x: torch.Tensor) -> torch.Tensor:
        return cfg.distractor_cost * x[:, 3:].pow(2).sum(-1)

    def objective(acts: torch.Tensor) -> torch.Tensor:
        a = acts.numpy()
        return fpo_objective(rm, torch.as_tensor(util.features(a)), arm, lam,
                             lambda _x: torch.as_tensor(util(a)), cost, cap)

    snaps = sorted({int(r) for r in (snapshot_rounds if snapshot_rounds is not None
                                     else (0, rounds // 3, rounds)) if 0 <= int(r) <= rounds})
    grid = world.grid(grid_resolution).points
    keys = ("true_utility", "proxy_reward", "noise_norm", "distance", "goal_distance",
            "world_reward", "rm_noise_norm", "penalty", "steering")
    out: dict[str, list] = {key: [] for key in keys}
    positions, landscapes, utility_landscapes = [], [], []

    def log(m: np.ndarray) -> None:
        a = m[None, :]
        x = torch.as_tensor(util.features(a))
        with torch.no_grad():
            proxy = rm(x).reshape(-1)
        u = util(a)
        g = param_grad_sq_norm(rm, x)
        pen = steering_penalty(arm, proxy, torch.as_tensor(u), g, cap)
        s = util.states(a)
        out["true_utility"].append(float(u[0]))
        out["proxy_reward"].append(float(proxy[0]))
        out["noise_norm"].append(float(np.linalg.norm(m[ctrl:])))
        out["distance"].append(float(util.distance(a)[0]))
        out["goal_distance"].append(float(util.goal_distance(s)[0]))
        out["world_reward"].append(float(world.true_reward(s)[0]))
        out["rm_noise_norm"].append(_distractor_slope(rm, x))
        out["penalty"].append(float(pen[0]))
        out["steering"].append(float(g[0]))
        positions.append(s[0])

    def snapshot(t: int, m: np.ndarray) -> None:
        if t in snaps:
            r, u = _landscape(rm, util, grid, m[ctrl:])
            landscapes.append(r)
            utility_landscapes.append(u)

    def partial(t: int) -> dict:
        # Fresh arrays (the lists keep growing in this thread); the landscapes are never
        # written after they are appended, so a tuple of them is safe to hand over.
        return {"round": t, "positions": np.asarray(positions),
                "landscape_rounds": np.asarray(snaps[: len(landscapes)], int),
                "landscapes": tuple(landscapes),
                **{key: np.asarray(out[key]) for key in ("true_utility", "proxy_reward", "noise_norm")}}

    m = np.concatenate([p0, np.zeros(k)])
    buffer: collections.deque = collections.deque(maxlen=cfg.buffer)
    log(m)
    snapshot(0, m)
    if every:
        yield partial(0)
    for t in range(1, rounds + 1):
        m = m + cfg.policy_step * forward_difference(objective, torch.as_tensor(m), cfg.fd_eps).numpy()
        m[:ctrl] = np.clip(m[:ctrl], lo, hi)
        log(m)
        acts = m + cfg.policy_sigma * rng.normal(size=(cfg.samples, ctrl + k))
        acts[:, :ctrl] = np.clip(acts[:, :ctrl], lo, hi)
        buffer.extend(zip(util.features(acts), util(acts)))
        x = torch.as_tensor(np.stack([b[0] for b in buffer]))
        y = torch.as_tensor(np.array([b[1] for b in buffer]))
        for _ in range(cfg.rm_steps):
            rm_sgd_step(rm, x, y, cfg.rm_lr, cfg.rm_decay)
        snapshot(t, m)
        if every and (t % every == 0 or t == rounds):
            yield partial(t)

    result = {key: np.asarray(v) for key, v in out.items()}
    result.update(
        arm=arm, seed=seed, lam=lam, rounds=rounds, world=world.name, config=cfg.to_dict(),
        start=p0.copy(), utility_scale=util.scale,
        positions=np.asarray(positions), final_distractors=m[ctrl:].copy(),
        landscape_rounds=np.asarray(snaps), landscapes=np.asarray(landscapes),
        utility_landscapes=np.asarray(utility_landscapes),
        rm_state={name: p.detach().numpy().copy() for name, p in rm.state_dict().items()})
    return result


def reward_on(world, run: dict, points: np.ndarray, distractors: np.ndarray | None = None) -> np.ndarray:
    """The run's final RM on world states ``points`` (N, 3), distractors held at the
    policy's final values unless given. Works on a run reloaded from JSON too."""
    cfg = WorldLoop(**run["config"])
    rm = make_reward_model(cfg.distractors, cfg.hidden, 0)
    rm.load_state_dict({k: torch.as_tensor(np.asarray(v, dtype=np.float64))
                        for k, v in run["rm_state"].items()})
    z = np.asarray(run["final_distractors"] if distractors is None else distractors, dtype=float)
    util = HiddenUtility(world, scale=float(run["utility_scale"]))
    return _landscape(rm, util, np.asarray(points, float), z)[0]
