"""Shared fixtures. Core tests import no Qt at all (napari-style)."""
from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
import torch

torch.set_num_threads(1)
# The window saves released versions under the user's data directory when no
# session was chosen: tests must never write into the real home directory.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="explorer-test-data-")


@pytest.fixture(scope="session")
def cube():
    import worlds
    return worlds.load("cube")


@pytest.fixture(scope="session")
def cube_model(cube):
    from explorer.model.learning import config_for, train
    return train(cube, config_for(cube))


@pytest.fixture(scope="session")
def spurious_center(cube, cube_model):
    """The flaw with the highest reward x distance: the clearest spurious extrapolation."""
    from explorer.model.landscape import Landscape
    land = Landscape(cube_model, cube)
    r = land.reward()
    score = r * land.flaw_mask(r) * land.distance
    return tuple(float(v) for v in land.points[int(np.argmax(score))])
