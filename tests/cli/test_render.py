"""Off-screen rendering (no X server needed): the PNG is a real picture that
shows the landscape in the paper's colours."""
from __future__ import annotations

import numpy as np
import pytest

from explorer.model.landscape import Landscape

pytestmark = pytest.mark.render


def test_render_writes_a_non_trivial_png(tmp_path, cube, cube_model):
    import imageio.v3 as iio
    from explorer.viz.figure import render_landscape
    land = Landscape(cube_model, cube)
    out = render_landscape(cube, land.points, [("cube", land.reward(), [])], tmp_path / "cube.png",
                           size=(500, 450))
    img = iio.imread(out)
    assert img.shape[0] == 450 and img.shape[1] == 500
    rgb = img[..., :3].reshape(-1, 3).astype(int)
    assert len(np.unique(rgb, axis=0)) > 200                     # not a blank or flat image
    purple = (rgb[:, 0] < 110) & (rgb[:, 1] < 60) & (rgb[:, 2] > 60)        # viridis' dark end
    yellow = (rgb[:, 0] > 200) & (rgb[:, 1] > 200) & (rgb[:, 2] < 100)
    assert purple.sum() > 200 and yellow.sum() > 200
