"""Why a refinement cannot run as asked: one error type every caller catches."""
from __future__ import annotations

import numpy as np

from explorer.model.flags import Flag


class RefinementError(ValueError):
    """A refinement that cannot be run as asked (empty flags, NaN, no effect)."""


def check_flags(flags: list[Flag]) -> None:
    if not flags:
        raise RefinementError("no flags to refine with: add a flag on a spurious region first")
    for f in flags:
        if not np.all(np.isfinite(f.center)) or not np.isfinite(f.radius) or f.radius <= 0:
            raise RefinementError(f"flag #{f.id} has a non-finite centre or a radius <= 0")
