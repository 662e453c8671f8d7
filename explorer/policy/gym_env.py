"""A world as a Gymnasium environment whose reward comes from a reward artifact.

Env card
--------
*Observation*: the agent's state, a 3-vector inside the world's bounds
(terrain: (x, y, h(x, y))). *Action*: a move in [-1, 1]^d (d = 3 for volume
worlds, 2 for terrain worlds, moving on the ground), scaled by ``step_size``
(default 5% of the world's size); moves are clipped to the bounds.
*Reward*: the artifact's served reward at the new state, in [0, 1]. The true
reward is never given to the agent; ``info["true_reward"]`` carries it for
evaluation only. *Start*: uniform over the world (seeded), or
``options={"start": state}``. *Episode end*: truncated after ``max_steps``; no
terminal states.

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
                 step_size: float | None = None):
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
        self._state = None
        self._t = 0

    def _obs(self) -> np.ndarray:
        lo, hi = self.observation_space.low, self.observation_space.high
        return np.clip(self._state.astype(np.float32), lo, hi)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options and "start" in options:
            pos = np.asarray(options["start"], float)[: self.dims]
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
