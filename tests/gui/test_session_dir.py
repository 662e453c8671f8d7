"""`explorer gui --session DIR`: a new directory becomes the session (created at
the first flag), an existing one is reopened with its versions and flags."""
from __future__ import annotations

import pytest

from .conftest import open_window, settle

pytestmark = pytest.mark.gui


def test_a_new_session_directory_is_used_and_reopened(qtbot, trained_cube, tmp_path):
    world, model = trained_cube
    root = tmp_path / "my-session"
    w = open_window(qtbot, world, model, session_dir=str(root))
    w.session.flag((0.5, 0.5, -0.9), 0.3)
    settle(qtbot, w)
    assert (root / "session.json").exists()            # created where the person asked
    w.close()
    again = open_window(qtbot, world, session_dir=str(root))
    assert [f.center for f in again.session.flags] == [(0.5, 0.5, -0.9)]
    assert again.session.root == root and again.session.version == 1
    again.close()
