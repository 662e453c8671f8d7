"""Gymnasium ids for the worlds, so any RL library can ``gymnasium.make`` one.

    import explorer.policy.registration          # registers the ids (idempotent)
    env = gymnasium.make("explorer/Cube-v0", artifact="runs/v2")            # discrete moves
    env = gymnasium.make("explorer/CubeContinuous-v0", artifact="runs/v2")  # bounded steps
    env = gymnasium.make("explorer/WorldContinuous-v0", world="my.toml", artifact="runs/m")

or, without importing anything first, ``gymnasium.make(
"explorer.policy.registration:explorer/Cube-v0", artifact=...)`` (Gymnasium
imports the module before the id). One pair of ids per built-in world (cube,
ridge, twin-goals, canyon: ``Cube``, ``Ridge``, ``TwinGoals``, ``Canyon``) and
one pair (``World``) that takes ``world=`` as a name or a path to a world file.

The reward comes from ``artifact=`` (a directory saved by the explorer; an
imported ONNX model's artifact too) or ``model=`` (a RewardModel in memory).
The artifact must have been made on that world: a different world file is
refused, as the CLI refuses it. Other keywords (``max_steps``, ``step_size``,
``start``, ``start_noise``) go to the env.
"""
from __future__ import annotations

from pathlib import Path

import gymnasium as gym

import worlds
from worlds import World
from worlds.errors import InputError

from explorer.model.reward_model import RewardModel
from explorer.policy.gym_env import GridMovesEnv, RewardWorldEnv

NAMESPACE = "explorer"
VERSION = 0
GENERIC = "World"


def id_name(world_name: str) -> str:
    """``twin-goals`` -> ``TwinGoals``: Gymnasium ids are CamelCase by convention."""
    return "".join(part[:1].upper() + part[1:] for part in world_name.replace("_", "-").split("-"))


def env_id(world_name: str, continuous: bool = False) -> str:
    return f"{NAMESPACE}/{id_name(world_name)}{'Continuous' if continuous else ''}-v{VERSION}"


def load_reward(artifact: str | Path, world: World) -> RewardModel:
    """An artifact's reward model, checked to be made on ``world`` (same file bytes)."""
    from explorer.model import artifact as artifacts
    model = artifacts.load(artifact)
    if model.world_hash != world.file_hash:
        raise InputError(str(artifact), "world", f"an artifact made on world '{world.name}' "
                         f"(sha256 {world.file_hash[:12]}...)",
                         f"world '{model.world_name}' (sha256 {model.world_hash[:12]}...)")
    return model


def make_env(world: str | Path | World | None = None, artifact: str | Path | None = None,
             model: RewardModel | None = None, continuous: bool = False,
             **env_kwargs) -> RewardWorldEnv:
    """The entry point every id shares."""
    if world is None:
        raise InputError(env_id(GENERIC, continuous), "world", "a world name or a path to a world file")
    w = world if isinstance(world, World) else worlds.load(world)
    if (artifact is None) == (model is None):
        raise InputError(env_id(w.name, continuous), "artifact",
                         "exactly one of artifact=DIR (a saved reward artifact) or model=RewardModel",
                         {"artifact": artifact, "model": None if model is None else type(model).__name__})
    if model is None:
        model = load_reward(artifact, w)
    cls = RewardWorldEnv if continuous else GridMovesEnv
    return cls(w, model, **env_kwargs)


def register_envs() -> list[str]:
    """Register every id (safe to call again: the ids are only added once)."""
    ids = []
    for name in [*worlds.available(), GENERIC]:
        for continuous in (False, True):
            eid = env_id(name, continuous)
            ids.append(eid)
            if eid in gym.envs.registry:
                continue
            kwargs = {"continuous": continuous}
            if name != GENERIC:
                kwargs["world"] = name
            gym.register(id=eid, entry_point=make_env, kwargs=kwargs)
    return ids


ENV_IDS = register_envs()
