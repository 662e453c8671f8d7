"""A real RL agent on a learned reward: Stable-Baselines3 PPO, then a teacher's label.

Why: a reward model's spurious peak matters because an optimiser finds it. PPO
is trained on the *served* reward only (the continuous env of ``gym_env``); the
world's true reward and norms are read afterwards, to label where the trained
policy ends (``classify``: goal, basin, spurious, elsewhere) and to sum its true
return. Nothing the agent learns from ever touches them.

The environments are batched (``RewardVecEnv``): all parallel episodes step in
one numpy pass and one reward-model call, so a step costs one small batched
evaluation instead of one per episode.

``ppo_job`` is a generator for a GUI worker: it trains in chunks, yields
``AgentProgress`` (with the current greedy trajectory, a numpy array, for
drawing) between chunks, stops early when ``stop`` is set, and returns an
``AgentResult``. ``train_agent`` and ``run_seeds`` run it to the end.

Needs the optional extra: ``pip install -e ".[rl]"``.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Generator

import numpy as np
import torch

from worlds import World
from worlds.errors import InputError

from explorer.generators import drive
from explorer.model.reward_model import RewardModel
from explorer.policy.policies import classify

try:                                    # optional extra [rl]
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecEnv
except ImportError:                     # pragma: no cover - exercised only without the extra
    PPO = None
    VecEnv = object

ENDS = ("goal", "basin", "spurious", "elsewhere")
# Where an episode starts on the built-in worlds: beyond the far end of the
# expert's route, where nothing was demonstrated. On ridge it is the corner past
# the second summit (the start of the value-iteration lesson); on cube it is the
# edge below the route's middle, next to the shoulder the model extrapolates.
# Any other world starts at the grid cell farthest from the expert support.
SCENARIO_STARTS = {"ridge": (0.9, -0.9), "cube": (0.0, 1.0, -1.0)}


def require_sb3() -> None:
    if PPO is None:
        raise InputError("stable-baselines3", "", "the optional RL extra: pip install -e \".[rl]\"",
                         "not installed", has_got=False)


@dataclass(frozen=True)
class AgentConfig:
    """Env and PPO settings. Defaults were chosen on ridge and cube (see the
    README's agent table); ``episode_steps`` x ``step_fraction`` lets an episode
    cross the world about three times."""
    episode_steps: int = 64
    step_fraction: float = 0.05        # one step: this fraction of the world's largest span
    start: tuple[float, ...] | None = None   # None: the world's scenario start
    start_noise: float = 0.1           # training starts spread over a ball of this fraction of the span
    n_envs: int = 8
    n_steps: int = 128                 # per env and rollout: 1024 transitions per update
    batch_size: int = 256
    n_epochs: int = 10
    learning_rate: float = 3e-4
    gamma: float = 0.98
    gae_lambda: float = 0.95
    ent_coef: float = 0.0
    effort_cost: float = 0.0           # per step: this x mean(action^2), a control cost (0: none)
    net_arch: tuple[int, ...] = (64, 64)
    chunk: int = 2048                  # steps between progress reports / stop checks

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class AgentProgress:
    seed: int
    step: int
    total: int
    mean_reward: float                 # mean served reward per step in the last rollout
    trajectory: np.ndarray             # (T, 3) greedy path from the start, for drawing
    end: str                           # where that path ends now (teacher's label)


@dataclass
class AgentResult:
    seed: int
    end: str                           # goal | basin | spurious | elsewhere
    true_return: float                 # sum of the world's true reward along the greedy path
    learned_return: float              # sum of the served reward along it (what PPO maximised)
    final_state: np.ndarray
    trajectory: np.ndarray             # (T + 1, 3)
    steps: int
    seconds: float
    stopped: bool = False
    visits: dict = field(default_factory=dict)   # share of path states per label
    reached_goal: bool = False         # the path entered a goal region at some step

    def to_dict(self) -> dict:
        return {"seed": self.seed, "end": self.end, "true_return": self.true_return,
                "learned_return": self.learned_return,
                "final_state": [float(v) for v in self.final_state], "steps": self.steps,
                "seconds": self.seconds, "stopped": self.stopped, "visits": self.visits,
                "reached_goal": self.reached_goal}


# ------------------------------------------------------------------ the env
class RewardVecEnv(VecEnv):
    """``n`` episodes of the continuous env stepped together (SB3's VecEnv API).

    Same rules as ``gym_env.RewardWorldEnv``: actions in [-1, 1]^d scaled by the
    step size, clipped to the bounds (terrain: moves on the ground), reward = the
    served reward of the new state, truncated after ``episode_steps``."""

    def __init__(self, world: World, model: RewardModel, config: AgentConfig, seed: int):
        from gymnasium import spaces
        self.world, self.model, self.config = world, model, config
        self.dims = 2 if world.is_terrain else 3
        span = float(np.max(world.bounds_max - world.bounds_min))
        self.step_size = config.step_fraction * span
        self.start = start_state(world, config)[: self.dims]
        self.noise = config.start_noise * span
        obs_space = spaces.Box(world.bounds_min.astype(np.float32), world.bounds_max.astype(np.float32),
                               dtype=np.float32)
        act_space = spaces.Box(-1.0, 1.0, shape=(self.dims,), dtype=np.float32)
        self.render_mode = None
        super().__init__(config.n_envs, obs_space, act_space)
        self.rng = np.random.default_rng(seed)
        self.pos = np.zeros((self.num_envs, self.dims))
        self.t = np.zeros(self.num_envs, int)
        self.actions = np.zeros((self.num_envs, self.dims))
        self.last_rewards = np.zeros(self.num_envs)

    def _starts(self, n: int) -> np.ndarray:
        d = self.rng.normal(size=(n, self.dims))
        d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
        r = self.noise * self.rng.uniform(size=(n, 1)) ** (1.0 / self.dims)
        return self.world.to_state(self.start + d * r)[:, : self.dims]

    def _obs(self, pos: np.ndarray) -> np.ndarray:
        return self.world.to_state(pos).astype(np.float32)

    def reset(self) -> np.ndarray:
        self.pos = self._starts(self.num_envs)
        self.t[:] = 0
        return self._obs(self.pos)

    def step_async(self, actions: np.ndarray) -> None:
        self.actions = np.clip(np.asarray(actions, float).reshape(self.num_envs, self.dims), -1.0, 1.0)

    def step_wait(self):
        moved = self.world.to_state(self.pos + self.step_size * self.actions)
        self.pos = moved[:, : self.dims]
        states = moved.astype(np.float32)
        self.t += 1
        served = self.model.reward(states).astype(np.float32)
        self.last_rewards = served
        rewards = served - np.float32(self.config.effort_cost) * np.mean(self.actions ** 2, axis=1,
                                                                           dtype=np.float32)
        done = self.t >= self.config.episode_steps
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        obs = states.copy()
        if done.any():
            idx = np.nonzero(done)[0]
            for i in idx:
                infos[i] = {"terminal_observation": states[i], "TimeLimit.truncated": True}
            self.pos[idx] = self._starts(len(idx))
            self.t[idx] = 0
            obs[idx] = self._obs(self.pos[idx])
        return obs, rewards, done, infos

    def close(self) -> None:
        pass

    def get_attr(self, attr_name, indices=None):
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name, value, indices=None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name, *method_args, indices=None, **method_kwargs):
        return [getattr(self, method_name)(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None):
        return [False for _ in self._get_indices(indices)]

    def seed(self, seed: int | None = None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        return [seed] * self.num_envs


def start_state(world: World, config: AgentConfig | None = None) -> np.ndarray:
    """The episode start: the config's, the world's scenario start, or the grid
    cell farthest from the expert support (as the value-iteration tour starts)."""
    start = config.start if config is not None else None
    if start is None:
        start = SCENARIO_STARTS.get(world.name)
    if start is None:
        pts = world.grid().points
        return pts[int(np.argmax(world.distance_to_support(pts)))].astype(float)
    dims = 2 if world.is_terrain else 3
    s = np.asarray(start, float).reshape(-1)
    if len(s) < dims or not np.all(np.isfinite(s)):
        raise InputError("agent", "start", f"{dims} finite coordinates inside the world", list(start))
    return world.to_state(s[:dims])


# ------------------------------------------------------------------ evaluation
def greedy_path(policy, world: World, model: RewardModel, config: AgentConfig) -> tuple[np.ndarray, np.ndarray]:
    """The deterministic (mean-action) path from the start: states (T + 1, 3) and
    the served reward at each."""
    dims = 2 if world.is_terrain else 3
    span = float(np.max(world.bounds_max - world.bounds_min))
    pos = start_state(world, config)[:dims]
    path = [world.to_state(pos)]
    for _ in range(config.episode_steps):
        action, _ = policy.predict(path[-1].astype(np.float32)[None], deterministic=True)
        a = np.clip(np.asarray(action, float).reshape(dims), -1.0, 1.0)
        pos = world.to_state(pos + config.step_fraction * span * a)[:dims]
        path.append(world.to_state(pos))
    states = np.asarray(path, np.float32)
    return states, model.reward(states)


def label_path(world: World, states: np.ndarray, rewards: np.ndarray) -> tuple[str, float, dict]:
    """Teacher's view of a path: where it ends, its true return (the start state
    not counted: it was not the agent's choice), and the share of states per label."""
    end = classify(world, states[-1], float(rewards[-1]))
    true_return = float(world.true_reward(states[1:]).sum())
    labels = [classify(world, s, float(r)) for s, r in zip(states[1:], rewards[1:])]
    visits = {k: round(labels.count(k) / len(labels), 4) for k in ENDS}
    return end, true_return, visits


# ------------------------------------------------------------------ training
def ppo_job(model: RewardModel, world: World, steps: int, seed: int,
            stop: threading.Event | None = None, config: AgentConfig | None = None
            ) -> Generator[AgentProgress, None, AgentResult]:
    """Train PPO on the served reward in chunks; yield progress between chunks;
    return the labelled result. Setting ``stop`` ends training after the current
    chunk and still returns a result for the policy as it is."""
    require_sb3()
    config = config or AgentConfig()
    if steps < 1:
        raise InputError("agent", "steps", "a whole number >= 1", steps)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    env = RewardVecEnv(world, model, config, seed)
    algo = PPO("MlpPolicy", env, learning_rate=config.learning_rate, n_steps=config.n_steps,
               batch_size=config.batch_size, n_epochs=config.n_epochs, gamma=config.gamma,
               gae_lambda=config.gae_lambda, ent_coef=config.ent_coef, seed=seed, device="cpu",
               policy_kwargs={"net_arch": list(config.net_arch)}, verbose=0)
    done, stopped = 0, False
    chunk = max(config.chunk, config.n_steps * config.n_envs)
    while done < steps:
        if stop is not None and stop.is_set():
            stopped = True
            break
        n = min(chunk, steps - done)
        algo.learn(total_timesteps=n, reset_num_timesteps=False)
        done = int(algo.num_timesteps)
        states, rewards = greedy_path(algo.policy, world, model, config)
        yield AgentProgress(seed, min(done, steps), steps, float(np.mean(env.last_rewards)), states,
                            classify(world, states[-1], float(rewards[-1])))
    states, rewards = greedy_path(algo.policy, world, model, config)
    end, true_return, visits = label_path(world, states, rewards)
    return AgentResult(seed=seed, end=end, true_return=true_return,
                       learned_return=float(rewards[1:].sum()), final_state=states[-1].astype(float),
                       trajectory=states, steps=done, seconds=time.perf_counter() - t0,
                       stopped=stopped, visits=visits, reached_goal=visits["goal"] > 0)


def train_agent(model: RewardModel, world: World, steps: int, seed: int,
                config: AgentConfig | None = None,
                progress: Callable[[AgentProgress], None] | None = None,
                stop: threading.Event | None = None) -> AgentResult:
    return drive(ppo_job(model, world, steps, seed, stop, config), progress)


def run_seeds(model: RewardModel, world: World, steps: int, seeds: int | list[int],
              config: AgentConfig | None = None,
              progress: Callable[[AgentProgress], None] | None = None) -> list[AgentResult]:
    """One PPO agent per seed (0..seeds-1, or the seeds listed)."""
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    return [train_agent(model, world, steps, s, config, progress) for s in seed_list]


def summary(results: list[AgentResult]) -> dict:
    """Counts per end label and the mean true return: the README's table row."""
    ends = {k: sum(r.end == k for r in results) for k in ENDS}
    return {"agents": len(results), "ends": ends,
            "majority": max(ENDS, key=lambda k: ends[k]) if results else None,
            "mean_true_return": float(np.mean([r.true_return for r in results])) if results else 0.0,
            "seconds_per_10k_steps": (float(sum(r.seconds for r in results) / max(sum(r.steps for r in results), 1)
                                            * 1e4) if results else 0.0)}


def with_overrides(config: AgentConfig, **kw) -> AgentConfig:
    """A copy of ``config`` with the given fields replaced (None values ignored)."""
    return replace(config, **{k: v for k, v in kw.items() if v is not None})
