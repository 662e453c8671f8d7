"""Errors that name the file, the field and what was expected."""
from __future__ import annotations

import reprlib
from typing import Any

# What a message shows of the offending value: bounded in depth and length, so a
# value nested 100,000 deep (from a hostile file) cannot blow the recursion
# limit while the error is being written.
_SHOW = reprlib.Repr()
_SHOW.maxlevel = 3
_SHOW.maxlist = _SHOW.maxtuple = 8
_SHOW.maxdict = 4
_SHOW.maxstring = _SHOW.maxother = 80
_SHOW.maxlong = 40


def shown(value: Any) -> str:
    """A short, single-line repr of ``value`` for an error message."""
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        text = _SHOW.repr(value)
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        text = f"a {len(str(abs(value))) if value.bit_length() < 10_000 else 'very'}-digit integer"
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


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
            msg += f", got {shown(got)}"
        super().__init__(msg)


class WorldError(InputError):
    """A world file (or world name) could not be loaded."""
