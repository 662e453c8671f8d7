"""Phase 3 refinement: the paper's editing operations on a reward model.

* ``sculpt``           -- functional sculpting: a new psi, E_theta untouched;
* ``local_patch``      -- flags become Gaussian suppression kernels;
* ``DataDrivenPatch``  -- flagged states join D_neg and E_theta grows an expert.

Every operation returns a *new* model version (the input is never changed), is
recorded in ``model.edits``, and is followed by ``regression_check``.
"""
from .errors import RefinementError, check_flags
from .local import PatchReport, bandwidth_for, local_patch
from .regression import BASIN_CAP, regression_check
from .sculpting import sculpt

__all__ = ["RefinementError", "check_flags", "PatchReport", "bandwidth_for", "local_patch", "BASIN_CAP",
           "regression_check", "sculpt"]
