"""RL agent benchmarks: PPO training time per 10,000 steps, and what batching
the episodes buys (one reward-model call per step for all of them) against
Stable-Baselines3's DummyVecEnv stepping one Gymnasium env at a time, in one run."""
from __future__ import annotations

import time

import numpy as np

import worlds
from explorer.model.learning import config_for, train

from .common import timeit


def ppo_speed(smoke: bool) -> dict:
    from stable_baselines3.common.vec_env import DummyVecEnv

    from explorer.policy.agent import AgentConfig, RewardVecEnv, train_agent
    from explorer.policy.gym_env import RewardWorldEnv

    ridge = worlds.load("ridge")
    model = train(ridge, config_for(ridge, steps=300 if smoke else 3000))
    config = AgentConfig()
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (64, config.n_envs, 2)).astype(np.float32)
    batched = RewardVecEnv(ridge, model, config, seed=0)
    one_by_one = DummyVecEnv([lambda: RewardWorldEnv(ridge, model, max_steps=config.episode_steps)
                              for _ in range(config.n_envs)])

    def roll(env):
        env.reset()
        for a in actions:
            env.step(a)
    t_batched = timeit(lambda: roll(batched), repeats=3 if smoke else 5)
    t_dummy = timeit(lambda: roll(one_by_one), repeats=3 if smoke else 5)
    transitions = len(actions) * config.n_envs
    steps = 2048 if smoke else 10_000
    t0 = time.perf_counter()
    res = train_agent(model, ridge, steps, 0, config)
    seconds = time.perf_counter() - t0
    return {"envs": config.n_envs, "batched_us_per_transition": t_batched["median_s"] / transitions * 1e6,
            "dummy_vec_env_us_per_transition": t_dummy["median_s"] / transitions * 1e6,
            "batching_speedup": t_dummy["median_s"] / t_batched["median_s"],
            "ppo_steps": res.steps, "ppo_seconds": seconds, "ppo_seconds_per_10k_steps": seconds / res.steps * 1e4}


def report(res: dict) -> list[str]:
    return [f"\n9. PPO on a learned reward (ridge, {res['envs']} episodes batched): "
            f"{res['ppo_seconds_per_10k_steps']:.1f} s per 10,000 steps; env step "
            f"{res['batched_us_per_transition']:.0f} us per transition vs "
            f"{res['dummy_vec_env_us_per_transition']:.0f} us "
            f"with SB3's DummyVecEnv -> {res['batching_speedup']:.1f}x"]
