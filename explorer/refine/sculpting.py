"""Functional sculpting: a new psi reshapes the whole landscape; E_theta and the
patches are kept, so a landscape re-applies g_psi to its cached expertness."""
from __future__ import annotations

from explorer.model.mapping import Psi
from explorer.model.reward_model import RewardModel


def sculpt(model: RewardModel, psi: Psi) -> RewardModel:
    """Reshape g_psi; E_theta and the patches are kept."""
    child = model.next_version()
    child.psi = psi
    child.edits.append({"op": "sculpt", "from": model.psi.to_dict(), "to": psi.to_dict()})
    return child
