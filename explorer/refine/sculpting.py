"""Functional sculpting: a new psi reshapes the whole landscape; E_theta and the
patches are kept, so a landscape re-applies g_psi to its cached expertness."""
from __future__ import annotations

from explorer.model.mapping import Psi
from explorer.model.reward_model import RewardModel

from .errors import RefinementError


def refusals(model: RewardModel) -> dict[str, str]:
    """Refinements that do not apply to this model's kind, with the reason (an imported
    reward model whose output is a reward has no psi to sculpt)."""
    fn = getattr(model.expertness, "refusals", None)
    return fn() if fn is not None else {}


def sculpt(model: RewardModel, psi: Psi) -> RewardModel:
    """Reshape g_psi; E_theta and the patches are kept."""
    why = refusals(model).get("sculpt")
    if why:
        raise RefinementError(why)
    child = model.next_version()
    child.psi = psi
    child.edits.append({"op": "sculpt", "from": model.psi.to_dict(), "to": psi.to_dict()})
    return child
