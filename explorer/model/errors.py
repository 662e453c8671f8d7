"""The one error type for a reward model that cannot be used.

A model error is input the person can act on (a damaged or hostile artifact, a
mapping that overflows), so it is an ``InputError``: one line naming the
artifact, the parameter at fault and what was expected. ``ArtifactError``
subclasses it, so a caller catches ``ModelError`` for both.
"""
from __future__ import annotations

from worlds.errors import InputError


class ModelError(InputError):
    """A reward model whose parameters or served rewards are unusable."""


class NonFiniteReward(ModelError):
    """The model served NaN or inf. NaN is never "above the floor", so such a
    model would pass every check as clean: it is refused instead.

    ``str()`` reads, for example:
    ``runs/v2: reward is NaN or inf at 1,964 of 8,000 grid states (expertness.enc_w
    has values up to 3e+38, which overflow float32 in the forward pass)``."""

    def __init__(self, source: str, what: str, bad: int, total: int, where: str,
                 field: str = "", cause: str = ""):
        super().__init__(source, field, f"a finite {what} at every one of the {where}",
                         f"NaN or inf at {bad:,} of {total:,}")
        self.what, self.bad, self.total, self.where, self.cause = what, bad, total, where, cause
        msg = f"{source}: {what} is NaN or inf at {bad:,} of {total:,} {where}"
        self.args = (msg + (f" ({cause})" if cause else ""),)
