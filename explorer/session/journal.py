"""A write-ahead journal: every command, as it is done, undone or redone.

A person's flags and decisions are made one click at a time and are worth more
than the seconds they take, so between two full saves of the session file each
step is appended to ``journal.jsonl`` in the session directory and fsync'd::

    {"format": "reward-explorer-journal", "schema_version": 2, "seq": 7,
     "time": "2026-11-30T11:02:03+00:00", "step": "do", "what": "add flag #3",
     "command": {"type": "flag", "index": 2, "before": null, "after": {...}}}

``step`` is do | undo | redo. A command carries its whole delta (a version
change names versions whose artifacts were written before the line), so replay
after the last full save (``session.json`` records the last ``seq`` it holds)
re-applies exactly what was acknowledged. Replay stops at the first line that
does not parse: with one fsync per line only the last line can be torn, so a
kill mid-write loses at most the step in flight.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from worlds.errors import InputError

JOURNAL_FORMAT = "reward-explorer-journal"
JOURNAL_SCHEMA = 2
JOURNAL_FILE = "journal.jsonl"
MAX_JOURNAL_BYTES = 200_000_000
STEPS = ("do", "undo", "redo")


@dataclass
class Replay:
    """The journal lines after the last full save."""
    entries: list[dict] = field(default_factory=list)
    seq: int = 0
    torn: bool = False          # the last line was incomplete (or damaged) and was ignored


class Journal:
    def __init__(self, root: str | Path, seq: int = 0):
        self.root = Path(root)
        self.path = self.root / JOURNAL_FILE
        self.seq = seq
        self._fd: int | None = None

    def read(self, after: int) -> Replay:
        """Lines with a sequence number above ``after`` (what the session file lacks)."""
        out = Replay(seq=after)
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            self.seq = after
            return out
        if size > MAX_JOURNAL_BYTES:
            raise InputError(str(self.path), "", f"a journal of at most {MAX_JOURNAL_BYTES:,} bytes",
                             f"{size:,} bytes")
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise InputError(str(self.path), "", "a readable journal", exc.strerror or str(exc)) from None
        lines = raw.split(b"\n")
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                if i == len(lines) - 1:
                    raise ValueError("no newline: torn")
                entry = json.loads(line.decode("utf-8"))
                if entry.get("format") != JOURNAL_FORMAT or entry.get("schema_version") != JOURNAL_SCHEMA \
                        or entry.get("step") not in STEPS or not isinstance(entry.get("command"), dict):
                    raise ValueError("not a journal line of this version")
                seq = int(entry["seq"])
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                out.torn = True                   # nothing after a damaged line is trusted
                break
            if seq <= out.seq:
                continue                          # already in the session file
            out.entries.append(entry)
            out.seq = seq
        self.seq = out.seq
        return out

    def append(self, step: str, what: str, command: dict) -> None:
        """One fsync'd line; returns once it is on disk."""
        self.seq += 1
        line = {"format": JOURNAL_FORMAT, "schema_version": JOURNAL_SCHEMA, "seq": self.seq,
                "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "step": step, "what": what, "command": command}
        data = (json.dumps(line, allow_nan=False, separators=(",", ":")) + "\n").encode("utf-8")
        if self._fd is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fsync(self._fd)

    def truncate(self) -> None:
        """Start an empty journal (after the session file took in every line)."""
        self.close()
        tmp = self.path.with_name("." + JOURNAL_FILE + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            finally:
                self._fd = None
