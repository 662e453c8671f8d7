"""Training shows the landscape as it forms, the trained default model is kept in
the user's cache (and a damaged entry is never trusted), and data-driven
patching ends at once when the flags hold nothing to learn and keeps each
negative once."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.model import cache
from explorer.model.landscape import Landscape
from explorer.model.learning import config_for, train, train_steps
from explorer.refine import RefinementError
from explorer.refine.data_patch import DataDrivenPatch, data_patch, merge_negatives
from explorer.session import Session
from explorer.session.jobs import training


def test_training_yields_previews_that_are_frozen_copies_and_ends_with_the_same_model(cube):
    cfg = config_for(cube, steps=300)
    items = list(train_steps(cube, cfg, report_every=50, preview_every=100))
    previews = [m for _, _, m in items[:-1] if m is not None]
    assert [p.metrics["preview_step"] for p in previews] == [100, 200]
    final = items[-1][2]
    assert not final.metrics.get("preview") and items[-1][0] == 300
    # the previews are snapshots: training went on with another object
    assert all(p.expertness is not final.expertness for p in previews)
    assert not torch.equal(previews[0].expertness.enc_w, final.expertness.enc_w)
    # previews change nothing about what training produces
    plain = train(cube, cfg)
    for a, b in zip(plain.expertness.state_dict().values(), final.expertness.state_dict().values()):
        assert torch.equal(a, b)


def test_the_training_job_draws_the_landscape_forming(cube):
    cfg = config_for(cube, steps=400)
    gen = training(cube, cfg, preview_every=100)
    rewards = []
    while True:
        try:
            snap = next(gen)
        except StopIteration as end:
            result = end.value
            break
        if snap.reward is not None:
            rewards.append(snap.reward)
    assert len(rewards) == 3 and all(r.shape == (cube.grid().size,) and np.isfinite(r).all() for r in rewards)
    assert not rewards[0].flags.writeable
    assert not np.allclose(rewards[0], rewards[-1])            # it changed while it learned
    assert result.land.model is result.model and not result.cached


def test_the_trained_model_is_cached_by_world_seed_and_config(cube, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    cfg = config_for(cube, steps=200)
    s = Session(cube)
    first = s.run(s.training_job(cfg, cache=True))
    assert "Trained on 'cube'" in first.message
    entry = cache.entry(cube, cfg)
    assert (entry / "artifact.json").is_file()
    again = Session(cube)
    out = again.run(again.training_job(cfg, cache=True))
    assert "from the cache" in out.message
    assert np.array_equal(again.reward(), s.reward())
    # another seed or step count is another entry
    assert cache.entry(cube, config_for(cube, steps=200, seed=1)) != entry
    assert cache.load(cube, config_for(cube, steps=201)) is None
    # a damaged entry is removed and training runs again
    (entry / "weights.safetensors").write_bytes(b"garbage")
    assert cache.load(cube, cfg) is None and not entry.exists()
    monkeypatch.setenv("EXPLORER_CACHE_DIR", "off")
    assert cache.entry(cube, cfg) is None and cache.store(cube, cfg, s.model) is None


def test_flags_with_nothing_to_learn_end_data_driven_patching_at_once(cube, cube_model):
    from explorer.model.flags import Flag
    land = Landscape(cube_model, cube)
    r = land.reward()
    candidates = np.nonzero((r <= cube.floor) & (land.distance > cube.boundary + 0.3))[0]
    job = flag = None
    for i in candidates[:50]:            # a ball whose every state is below the floor
        flag = Flag(1, tuple(float(v) for v in land.points[i]), 0.12)
        job = DataDrivenPatch(cube_model, land, [flag])
        if job.nothing_to_learn:
            break
    assert job is not None and "nothing to learn" in job.nothing_to_learn
    with pytest.raises(RefinementError, match="nothing to learn"):
        data_patch(cube_model, land, [flag])
    s = Session(cube, cube_model.clone())
    s.flag(flag.center, flag.radius)
    out = s.run(s.refine_job("data"))
    assert out.version is None and "nothing to learn" in out.message and s.version == 1


def test_patching_again_with_the_same_flags_keeps_each_negative_once(cube, cube_model, spurious_center):
    land = Landscape(cube_model, cube)
    from explorer.model.flags import Flag
    flags = [Flag(1, spurious_center, 0.4)]
    once = data_patch(cube_model, land, flags, steps=30)
    land.set_model(once)
    twice = data_patch(once, land, flags, steps=30)
    assert len(np.unique(twice.negatives, axis=0)) == len(twice.negatives)
    assert len(twice.negatives) < 2 * len(once.negatives)
    a = np.array([[0, 0, 0], [1, 1, 1]], np.float32)
    assert merge_negatives(a, np.array([[1, 1, 1], [2, 2, 2]], np.float32)).tolist() == [[0, 0, 0], [1, 1, 1],
                                                                                        [2, 2, 2]]
