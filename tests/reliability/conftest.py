"""GUI reliability tests use the GUI suite's window helpers and thread-leak check."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))   # tests/: import gui.conftest

from gui.conftest import (NO_DISPLAY, NO_DISPLAY_REASON, no_leaked_threads, trained_cube,  # noqa: E402,F401
                          window)


def pytest_collection_modifyitems(config, items):
    if not NO_DISPLAY:
        return
    import pytest
    skip = pytest.mark.skip(reason=NO_DISPLAY_REASON)
    for item in items:
        if item.get_closest_marker("gui"):
            item.add_marker(skip)
