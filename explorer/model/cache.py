"""The trained default model of a world, kept in the user's cache directory.

Training E_theta takes seconds to tens of seconds on a laptop CPU; a lecturer
who opens the same world twice should see its trained landscape at once. The
model is stored as an ordinary reward artifact (``artifact.py``: JSON and
safetensors, sha256-checked, refused if it could serve NaN), in
``platformdirs.user_cache_dir``, under a key made of everything the result
depends on: the world file's sha256, the whole training configuration (seed
included) and ``CACHE_SCHEMA`` (raised whenever training itself changes).
A damaged or foreign entry is ignored (and removed), never trusted: the caller
then trains as if there were no cache.

``EXPLORER_CACHE_DIR`` moves the cache (tests point it at a temporary
directory); ``EXPLORER_CACHE_DIR=off`` switches it off.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from explorer.model import artifact
from explorer.model.errors import ModelError
from explorer.model.reward_model import RewardModel, TrainingConfig
from worlds import World

APP_DIR_NAME = "reward-landscape-explorer"   # as the session directories (persist.py)
CACHE_SCHEMA = 1          # raise when training (learning.py) changes what a config produces
KEEP_ENTRIES = 32         # oldest entries beyond this are removed when one is stored


def cache_root() -> Path | None:
    """The models cache directory, or None when the cache is switched off."""
    env = os.environ.get("EXPLORER_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env) / "models"
    import platformdirs
    return Path(platformdirs.user_cache_dir(APP_DIR_NAME)) / "models"


def key(world: World, config: TrainingConfig) -> str:
    """What a trained model depends on, hashed: world file, training config, schema."""
    text = json.dumps({"schema": CACHE_SCHEMA, "world": world.name, "world_sha256": world.file_hash,
                       "training": config.to_dict()}, sort_keys=True)
    return f"{world.name}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"


def entry(world: World, config: TrainingConfig) -> Path | None:
    root = cache_root()
    return None if root is None else root / key(world, config)


def load(world: World, config: TrainingConfig) -> RewardModel | None:
    """The cached trained model for (world, config), or None (no entry, cache off,
    or an entry that fails the artifact checks: then it is removed)."""
    d = entry(world, config)
    if d is None or not (d / artifact.META_FILE).is_file():
        return None
    try:
        model = artifact.load(d, world)
    except (ModelError, OSError, ValueError):
        shutil.rmtree(d, ignore_errors=True)
        return None
    if model.world_hash != world.file_hash or model.config.to_dict() != config.to_dict():
        shutil.rmtree(d, ignore_errors=True)
        return None
    model.source = ""                 # a fresh v1, not "opened from" the cache
    model.metrics["from_cache"] = True
    try:
        os.utime(d)                   # recently used: kept longest
    except OSError:
        pass
    return model


def store(world: World, config: TrainingConfig, model: RewardModel) -> Path | None:
    """Keep a freshly trained model (best effort: a full or read-only disk only
    means the next launch trains again). Returns the entry or None."""
    d = entry(world, config)
    if d is None:
        return None
    try:
        d.parent.mkdir(parents=True, exist_ok=True)
        artifact.save(model, d, overwrite=True)
        _trim(d.parent)
    except (ModelError, OSError):
        return None
    return d


def _trim(root: Path) -> None:
    entries = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime)
    for old in entries[:-KEEP_ENTRIES]:
        shutil.rmtree(old, ignore_errors=True)
