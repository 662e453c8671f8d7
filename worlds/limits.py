"""Size and nesting limits for files read from disk, checked before parsing.

A world file is data someone may mail you. ``tomllib`` parses arrays and inline
tables recursively, so an array nested 5,000 deep exhausts the interpreter's
recursion limit, and a file of gigabytes would be read whole before anything
looked at it. Here the size is taken from the file system before a byte is
read (and the read itself is bounded, for files that grow or lie about their
size), and the bracket depth is measured by a scan that skips strings and
comments, so the parser only ever sees files within both limits.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import numpy as np

from .errors import InputError

MAX_TOML_DEPTH = 32        # our world format nests arrays/inline tables at most 3 deep

# Strings (all four TOML forms; an unterminated one runs to the end of its line
# or of the file) and comments: brackets inside them are not structure.
_TOML_SKIP = re.compile(
    r"'''.*?(?:'''|\Z)"
    r'|"""(?:[^"\\]|\\.|"(?!""))*(?:"""|\Z)'
    r'|"(?:[^"\\\n]|\\[^\n])*"?'
    r"|'[^'\n]*'?"
    r"|#[^\n]*",
    re.DOTALL)


def bracket_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` in ``text`` (already stripped of strings)."""
    raw = np.frombuffer(text.encode("utf-8", "replace"), np.uint8)
    if raw.size == 0:
        return 0
    step = np.zeros(raw.size, np.int32)
    step[(raw == ord("[")) | (raw == ord("{"))] = 1
    step[(raw == ord("]")) | (raw == ord("}"))] = -1
    return int(max(np.cumsum(step).max(), 0))


_BARE_RUN = re.compile(r"[\w\-. \t]+")


def toml_depth(text: str) -> int:
    """Nesting depth of a TOML text, without parsing it: the deeper of its arrays
    and inline tables (a header ``[[a]]`` counts 2, which is harmless) and its
    dotted keys. A dotted key of n parts costs ``tomllib`` O(n^2) time and memory
    (100,000 parts fit in a 1 MB file and exhaust gigabytes), so it is measured
    too: the most dots in a run of key characters bounds every key's part count
    (a number such as 1.5 counts as a two-part key, harmlessly)."""
    structure = _TOML_SKIP.sub("", text)
    dots = max((run.count(".") for run in _BARE_RUN.findall(structure)), default=0)
    return max(bracket_depth(structure), dots + 1)


def article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def read_bounded(path: str | Path, source: str, what: str, max_bytes: int,
                 error: type[InputError] = InputError) -> bytes:
    """Read a regular file of at most ``max_bytes``: the size comes from the file
    system first, and the read stops one byte past the limit whatever happens."""
    path = Path(path)
    an = article(what)
    try:
        st = path.stat()
    except OSError as exc:
        raise error(source, "", f"a readable {what}", exc.strerror or str(exc)) from None
    if not stat.S_ISREG(st.st_mode):
        raise error(source, "", f"a regular {what}", "a directory" if stat.S_ISDIR(st.st_mode)
                    else "a device, pipe or socket")
    if st.st_size > max_bytes:
        raise error(source, "", f"{an} {what} of at most {max_bytes:,} bytes", f"{st.st_size:,} bytes")
    try:
        fd = os.open(path, os.O_RDONLY)
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise error(source, "", f"a readable {what}", exc.strerror or str(exc)) from None
    if len(raw) > max_bytes:
        raise error(source, "", f"{an} {what} of at most {max_bytes:,} bytes", f"more than {max_bytes:,} bytes")
    return raw
