"""What a session's current version looks like in numbers (the window's readouts,
``Session.metrics``) and what a policy does on it."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from explorer.model.metrics import landscape_metrics

if TYPE_CHECKING:
    from .session import Session


def reference_version(s: "Session") -> int | None:
    """What Before shows: the version chosen for Diff, else the current one's parent."""
    if not s.ready:
        return None
    if s.reference is not None:
        return s.reference
    parent = s.versions.entry(s.current).parent
    return parent if parent in s.versions else None


def metrics(s: "Session") -> dict:
    """The stored version metrics, with the display grid's figures refreshed live."""
    s._require()
    m = dict(s.model.metrics)
    m.update(landscape_metrics(s.land, s.reference_reward(), s.flags))
    m["flaws_remaining"] = m["flaws"]
    m["version"] = s.version
    return m


def readouts(s: "Session") -> dict:
    m = metrics(s)
    m["floor"] = s.world.floor
    if s.last_check is not None:
        m["regression_check"] = s.last_check
    return m


def policy(s: "Session", kind: str, start=None):
    from explorer.policy.policies import default_policy_start, run_policy
    s._require()
    start = default_policy_start(s.land) if start is None else np.asarray(start, float)
    return run_policy(kind, s.model, s.world, s.land if kind == "value" else None, start)
