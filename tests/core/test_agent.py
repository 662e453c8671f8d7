"""Gymnasium ids, the batched env PPO trains in, the PPO job and its labels.
The long experiment (PPO on ridge v1 vs refined over 3 seeds) is marked slow."""
from __future__ import annotations

import threading

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

pytest.importorskip("stable_baselines3")

import explorer.policy.registration as registration  # noqa: E402 (registers the ids)
from explorer.model import artifact  # noqa: E402
from explorer.policy.agent import (ENDS, AgentConfig, RewardVecEnv, label_path, ppo_job,  # noqa: E402
                                   start_state, summary, train_agent)
from worlds.errors import InputError  # noqa: E402

FAST = AgentConfig(n_envs=4, n_steps=128, batch_size=128, n_epochs=2, episode_steps=32, chunk=512)


def test_every_builtin_world_has_a_discrete_and_a_continuous_id():
    import worlds
    for name in worlds.available():
        for continuous in (False, True):
            assert registration.env_id(name, continuous) in gym.envs.registry
    assert registration.env_id("twin-goals", True) == "explorer/TwinGoalsContinuous-v0"


@pytest.mark.parametrize("eid", ["explorer/Cube-v0", "explorer/CubeContinuous-v0"])
def test_registered_envs_pass_the_env_checker(eid, tmp_path, cube_model):
    path = artifact.save(cube_model, tmp_path / "a")
    env = gym.make(eid, artifact=str(path), max_steps=20)
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    _, r, term, trunc, info = env.step(env.action_space.sample())
    assert 0.0 <= r <= 1.0 and not term and "true_reward" in info
    env.close()


def test_generic_id_takes_a_world_file_and_refuses_a_mismatched_artifact(tmp_path, cube_model):
    import worlds
    env = gym.make("explorer/WorldContinuous-v0", world=str(worlds.builtin_path("cube")), model=cube_model)
    assert env.unwrapped.world.name == "cube"
    path = artifact.save(cube_model, tmp_path / "a")
    with pytest.raises(InputError, match="made on world 'ridge'"):
        gym.make("explorer/RidgeContinuous-v0", artifact=str(path))
    with pytest.raises(InputError, match="exactly one of artifact"):
        gym.make("explorer/Cube-v0")


def test_discrete_moves_step_one_axis_at_a_time(cube, cube_model):
    from explorer.policy.gym_env import GridMovesEnv
    env = GridMovesEnv(cube, cube_model, start=np.zeros(3))
    obs, _ = env.reset(seed=1)
    assert np.allclose(obs, 0.0)                       # start_noise 0: exactly the start
    obs, *_ = env.step(2)                              # +y
    assert np.allclose(obs, [0.0, env.step_size, 0.0])
    obs, *_ = env.step(6)                              # stay
    assert np.allclose(obs, [0.0, env.step_size, 0.0])


def test_batched_env_serves_the_model_reward_and_resets_at_the_episode_end(cube, cube_model):
    cfg = AgentConfig(n_envs=3, episode_steps=2, start=(0.0, 0.0, 0.0), start_noise=0.1)
    env = RewardVecEnv(cube, cube_model, cfg, seed=0)
    obs = env.reset()
    assert obs.shape == (3, 3) and np.all(np.linalg.norm(obs, axis=1) <= 0.1 * 2 + 1e-6)
    env.step_async(np.ones((3, 3), np.float32))
    obs1, r1, done1, _ = env.step_wait()
    assert np.allclose(r1, cube_model.reward(obs1)) and not done1.any()
    env.step_async(np.full((3, 3), -5.0, np.float32))  # clipped to -1 per axis
    obs2, r2, done2, infos = env.step_wait()
    assert done2.all() and all(i["TimeLimit.truncated"] for i in infos)
    last = np.stack([i["terminal_observation"] for i in infos])
    assert np.allclose(last, obs1 - env.step_size, atol=1e-6)
    assert np.allclose(r2, cube_model.reward(last))


def test_labels_use_the_worlds_truth_only_to_judge_a_path():
    import worlds
    ridge = worlds.load("ridge")
    summit = ridge.to_state(np.array([[0.9, -0.9], [0.7, -0.4], [0.61, -0.22]]))
    goal = ridge.to_state(np.array([[0.3, 0.3], [0.2, 0.2], [0.09, 0.17]]))
    end, ret, visits = label_path(ridge, summit, np.array([0.0, 0.5, 0.9]))
    assert end == "spurious" and ret == pytest.approx(float(ridge.true_reward(summit[1:]).sum()))
    assert visits["spurious"] > 0
    end, ret, _ = label_path(ridge, goal, np.array([0.0, 0.9, 1.0]))
    assert end == "goal" and ret > 1.0
    assert label_path(ridge, summit, np.array([0.0, 0.0, 0.0]))[0] == "elsewhere"   # below the floor


def test_start_is_the_scenario_start_or_the_farthest_cell(cube):
    import worlds
    ridge = worlds.load("ridge")
    assert np.allclose(start_state(ridge)[:2], [0.9, -0.9])
    tg = worlds.load("twin-goals")
    s = start_state(tg)
    pts = tg.grid().points
    assert tg.distance_to_support(s[None])[0] == pytest.approx(tg.distance_to_support(pts).max())
    with pytest.raises(InputError, match="start"):
        start_state(cube, AgentConfig(start=(0.0, float("nan"), 0.0)))


def test_ppo_job_yields_trajectories_and_stops_between_chunks(cube, cube_model):
    stop = threading.Event()
    job = ppo_job(cube_model, cube, steps=4096, seed=0, stop=stop, config=FAST)
    first = next(job)
    assert first.step >= 512 and first.trajectory.shape == (FAST.episode_steps + 1, 3)
    assert first.end in ENDS and np.isfinite(first.mean_reward)
    stop.set()
    with pytest.raises(StopIteration) as fin:
        next(job)
    res = fin.value.value
    assert res.stopped and res.steps < 4096 and res.end in ENDS
    assert res.trajectory.shape == (FAST.episode_steps + 1, 3)
    assert res.true_return == pytest.approx(float(cube.true_reward(res.trajectory[1:]).sum()))
    d = res.to_dict()
    assert set(d) >= {"seed", "end", "true_return"}


def test_train_agent_is_deterministic_for_a_seed(cube, cube_model):
    a = train_agent(cube_model, cube, 1024, 3, FAST)
    b = train_agent(cube_model, cube, 1024, 3, FAST)
    assert np.array_equal(a.trajectory, b.trajectory) and a.end == b.end
    s = summary([a, b])
    assert s["agents"] == 2 and sum(s["ends"].values()) == 2 and s["seconds_per_10k_steps"] > 0


@pytest.mark.slow
def test_ppo_falls_for_the_spurious_summit_on_ridge_v1_and_not_after_a_cycle():
    """The README's experiment, small: 3 seeds x 30,000 steps on each version
    (about 3 minutes on one core)."""
    import worlds
    from explorer.flywheel.pipeline import run_cycles
    from explorer.model.landscape import Landscape
    from explorer.model.learning import config_for, train
    ridge = worlds.load("ridge")
    v1 = train(ridge, config_for(ridge))
    refined = [r for r in run_cycles(v1, Landscape(v1, ridge), 3) if r.released][-1].model
    before = [train_agent(v1, ridge, 30_000, s) for s in range(3)]
    after = [train_agent(refined, ridge, 30_000, s) for s in range(3)]
    assert sum(r.end == "spurious" for r in before) >= 2
    assert all(r.end != "spurious" for r in after)
    assert np.mean([r.true_return for r in after]) > np.mean([r.true_return for r in before])
