"""Reading and writing the user's files safely.

Everything a person makes (flags, sessions, artifacts) is written atomically: to
a temporary file in the same directory, fsync'd, then renamed over the old one,
so a crash leaves the old file or the new one, never half of either.

Everything the program reads from disk goes through ``read_json`` (or is TOML,
read by ``worlds``): the size is checked from the file system before a byte is
read, and nesting depth is checked before parsing, so a hostile file is refused
with one line naming the file and the limit instead of exhausting memory or the
interpreter's recursion limit.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from worlds.errors import InputError
from worlds.limits import article, bracket_depth, read_bounded

MAX_JSON_BYTES = 20_000_000      # a session file or artifact metadata far larger is not ours
MAX_JSON_DEPTH = 64              # our formats nest at most ~8 deep


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so a crash leaves either the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, allow_nan=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)


def json_depth(text: str) -> int:
    """Deepest nesting of [ and { in a JSON text (strings skipped), without parsing
    it; vectorised, so a 20 MB file costs milliseconds, not seconds."""
    return bracket_depth(_JSON_STRING.sub("", text))


def read_json(path: str | Path, what: str, error=InputError, max_bytes: int = MAX_JSON_BYTES,
              max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON file after checking its size and nesting depth.

    ``what`` names the kind of file in the message ("session file"); ``error``
    is the InputError subclass to raise (one line: the file, the limit, what it has).
    The size comes from the file system before a byte is read, and only regular
    files are read (a FIFO or a device would block or never end).
    NaN and Infinity are refused: our formats never write them."""
    path = Path(path)
    src = str(path)
    what = what.split(" ", 1)[1] if what.split(" ", 1)[0] in ("a", "an") else what
    an = article(what)
    raw = read_bounded(path, src, what, max_bytes, error)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(src, "", f"{an} {what} in UTF-8", f"byte 0x{raw[exc.start]:02x} at offset {exc.start}") from None
    depth = json_depth(text)
    if depth > max_depth:
        raise error(src, "", f"{an} {what} nested at most {max_depth} levels deep", f"{depth:,} levels")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise error(src, "", f"{an} {what} in valid JSON", f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:
        raise error(src, "", f"{an} {what} in JSON without NaN or Infinity", str(exc)[:120]) from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not allowed")
