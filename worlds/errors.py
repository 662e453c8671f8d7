"""Errors that name the file, the field and what was expected."""
from __future__ import annotations

from typing import Any


class InputError(ValueError):
    """Bad user input. ``str()`` is one line a person can act on."""

    def __init__(self, source: str, field: str, expected: str, got: Any = None,
                 *, has_got: bool = True):
        self.source = source
        self.field = field
        self.expected = expected
        self.got = got
        where = f"{source}: field '{field}'" if field else source
        msg = f"{where}: expected {expected}"
        if has_got:
            shown = repr(got)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            msg += f", got {shown}"
        super().__init__(msg)


class WorldError(InputError):
    """A world file (or world name) could not be loaded."""
