"""A world as a Gymnasium environment whose reward comes from a reward artifact.

Env card
--------
*Observation*: the agent's state, a 3-vector inside the world's bounds
(terrain: (x, y, h(x, y))). *Action*: a move in [-1, 1]^d (d = 3 for volume
worlds, 2 for terrain worlds, moving on the ground), scaled by ``step_size``
(default 5% of the world's size); moves are clipped to the bounds.
*Reward*: the artifact's served reward at the new state, in [0, 1]. The true
reward is never given to the agent; ``info["true_reward"]`` carries it for
evaluation only. *Start*: uniform over the world (seeded); or, with
``start=state``, that state, spread uniformly over a ball (a disc on the ground
for terrain) of radius ``start_noise``; ``options={"start": state}`` overrides
either for one episode. *Episode end*: truncated after ``max_steps``; no
terminal states.

``GridMovesEnv`` is the discrete variant: 2d + 1 actions (one step of
``step_size`` along each axis either way, or stay), the move set of the value
iteration policy, for tabular and DQN-style agents. Both are registered with
Gymnasium (``explorer.policy.registration``): ``explorer/Cube-v0`` (discrete)
and ``explorer/CubeContinuous-v0`` (continuous, for deep RL), one pair per
built-in world.

Any RL library that speaks Gymnasium can train a policy on a learned reward
artifact it had no part in making. The reward is never NaN or inf: the model's
parameters are checked when the env is made, and every served reward is checked
(a model that fails raises ``explorer.model.errors.ModelError``).
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from worlds import World

from explorer.model.errors import NonFiniteReward
from explorer.model.finite import check_parameters, source_of
from explorer.model.reward_model import RewardModel


class RewardWorldEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, world: World, model: RewardModel, max_steps: int = 200,
                 step_size: float | None = None, start: np.ndarray | None = None,
                 start_noise: float = 0.0):
        if isinstance(model, RewardModel):
            check_parameters(model)  # O(parameters): refuse a model that could serve NaN up front
        self.world = world
        self.model = model
        self.dims = 2 if world.is_terrain else 3
        self.max_steps = int(max_steps)
        self.step_size = step_size or 0.05 * float(np.max(world.bounds_max - world.bounds_min))
        self.action_space = spaces.Box(-1.0, 1.0, shape=(self.dims,), dtype=np.float32)
        self.observation_space = spaces.Box(world.bounds_min.astype(np.float32),
                                            world.bounds_max.astype(np.float32), dtype=np.float32)
        self.start = None if start is None else self._ground(start, "start")
        if not (np.isfinite(start_noise) and start_noise >= 0):
            raise ValueError(f"start_noise: expected a finite radius >= 0, got {start_noise!r}")
        self.start_noise = float(start_noise)
        self._state = None
        self._t = 0

    def _ground(self, state, what: str) -> np.ndarray:
        """The coordinates the agent moves in (x, y on terrain), checked finite."""
        pos = np.asarray(state, float).reshape(-1)
        if len(pos) < self.dims or not np.all(np.isfinite(pos[: self.dims])):
            raise ValueError(f"{what}: expected {self.dims} finite coordinates, got {state!r}")
        return pos[: self.dims].copy()

    def _obs(self) -> np.ndarray:
        lo, hi = self.observation_space.low, self.observation_space.high
        return np.clip(self._state.astype(np.float32), lo, hi)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options and "start" in options:
            pos = np.asarray(options["start"], float)[: self.dims]
        elif self.start is not None:
            d = self.np_random.normal(size=self.dims)
            d /= max(float(np.linalg.norm(d)), 1e-12)
            pos = self.start + d * self.start_noise * self.np_random.uniform() ** (1.0 / self.dims)
        else:
            pos = self.np_random.uniform(self.world.bounds_min[: self.dims], self.world.bounds_max[: self.dims])
        self._state = self.world.to_state(pos)
        self._t = 0
        return self._obs(), {}

    def step(self, action):
        a = np.clip(np.asarray(action, dtype=float).reshape(self.dims), -1.0, 1.0)
        self._state = self.world.to_state(self._state[: self.dims] + self.step_size * a)
        self._t += 1
        s = self._state[None].astype(np.float32)
        reward = float(self.model.reward(s)[0])
        if not np.isfinite(reward):  # RewardModel.reward refuses already; any other model is checked here
            raise NonFiniteReward(source_of(self.model) if isinstance(self.model, RewardModel)
                                  else type(self.model).__name__, "reward", 1, 1, "env states")
        info = {"true_reward": float(self.world.true_reward(s)[0])}
        return self._obs(), reward, False, self._t >= self.max_steps, info


class GridMovesEnv(RewardWorldEnv):
    """The discrete variant: action i < 2d moves ``step_size`` along axis i // 2
    (+ for even i, - for odd), action 2d stays. Same reward, start and episode
    rules as the continuous env."""

    def __init__(self, world: World, model: RewardModel, **kw):
        super().__init__(world, model, **kw)
        self.action_space = spaces.Discrete(2 * self.dims + 1)
        moves = np.zeros((2 * self.dims + 1, self.dims), np.float32)
        for axis in range(self.dims):
            moves[2 * axis, axis], moves[2 * axis + 1, axis] = 1.0, -1.0
        self.moves = moves

    def step(self, action):
        return super().step(self.moves[int(action)])
