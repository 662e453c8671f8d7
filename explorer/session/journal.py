"""A write-ahead journal of the person's flags and triage decisions.

Flags and triage decisions are made one click at a time and are worth more than
the seconds it takes to make them, so each one is journalled as it is made, in
the session directory:

    journal.jsonl            one line per step, appended and fsync'd
    journal-snapshot.json    the state at the last compaction (written atomically)

Every line is self-contained JSON: it carries the *state after the step*, not
only the step, so replay never needs the undo history and a single surviving
line is enough to restore what it describes::

    {"format": "reward-explorer-journal", "schema_version": 1, "seq": 7,
     "time": "2026-11-23T11:02:03+00:00", "op": "flag.add", "what": "add flag #3",
     "flags": [{"id": 1, "center": [x, y, z], "radius": r, "kind": "spurious-high"}, ...]}
    {"format": ..., "seq": 8, "op": "triage.accept", "what": "accept region 4 (2 findings)",
     "version": 1, "decisions": {"4": ["accepted", 0.21], "6": ["rejected", 0.18]}}

``op`` is one of flag.add | flag.delete | flag.move | flag.radius | flag.undo |
flag.redo | triage.accept | triage.reject | triage.reset | triage.radius |
triage.undo | triage.redo | triage.restore; ``decisions`` lists a triage's
non-pending regions (cluster -> [decision, radius]) for one model version.

Compaction (when a version is released, on a clean save and on a clean close)
writes the whole state to the snapshot atomically, with the last ``seq`` it
includes, and then empties the journal; a crash between the two leaves lines
the snapshot already holds, and replay skips them by ``seq``.

Replay reads lines in order and stops at the first line that does not parse
(with one fsync per line only the last line can be torn: a kill mid-write loses
at most the step in flight).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from worlds.errors import InputError

from explorer.model.flags import Flag, check_center, check_radius
from explorer.safeio import write_json_atomic

JOURNAL_FORMAT = "reward-explorer-journal"
JOURNAL_SCHEMA = 1
JOURNAL_FILE = "journal.jsonl"
SNAPSHOT_FILE = "journal-snapshot.json"

Decisions = dict[int, tuple[str, float]]        # cluster -> (decision, radius)


@dataclass
class JournalState:
    """What a journal restores: the flags and each audited version's decisions."""
    flags: list[Flag] | None = None             # None: the journal says nothing about flags
    decisions: dict[int, Decisions] = field(default_factory=dict)
    seq: int = 0
    replayed: int = 0                           # journal lines applied after the snapshot
    flag_steps: int = 0
    decision_steps: int = 0
    torn: bool = False                          # the last line was incomplete and ignored
    changed_versions: set = field(default_factory=set)

    @property
    def recovered(self) -> bool:
        return self.replayed > 0

    def decision_count(self, versions=None) -> int:
        vs = self.changed_versions if versions is None else versions
        return sum(len(self.decisions.get(v, {})) for v in vs)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _flags_json(flags) -> list[dict]:
    return [f.to_dict() for f in flags]


def _decisions_json(decisions: Decisions) -> dict:
    return {str(c): [d, float(r)] for c, (d, r) in sorted(decisions.items())}


def _parse_flags(items, src: str) -> list[Flag]:
    if not isinstance(items, list):
        raise InputError(src, "flags", "a list of flags", items)
    out = []
    for i, f in enumerate(items):
        if not isinstance(f, dict) or not isinstance(f.get("id"), int):
            raise InputError(src, f"flags[{i}]", "a flag with id, center, radius", f)
        out.append(Flag(int(f["id"]), check_center(f.get("center"), src, f"flags[{i}].center"),
                        check_radius(f.get("radius"), src, f"flags[{i}].radius"),
                        str(f.get("kind", "spurious-high"))))
    return out


def _parse_decisions(items, src: str) -> Decisions:
    if not isinstance(items, dict):
        raise InputError(src, "decisions", "an object cluster -> [decision, radius]", items)
    out: Decisions = {}
    for c, v in items.items():
        if not (isinstance(v, list) and len(v) == 2 and v[0] in ("accepted", "rejected", "pending")):
            raise InputError(src, f"decisions.{c}", "[decision, radius]", v)
        out[int(c)] = (str(v[0]), float(check_radius(v[1], src, f"decisions.{c}[1]")))
    return out


class Journal:
    """The journal of one session directory (see the module docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.path = self.root / JOURNAL_FILE
        self.snapshot_path = self.root / SNAPSHOT_FILE
        self.seq = 0
        self._fd: int | None = None

    # ------------------------------------------------------------------ reading
    def read(self) -> JournalState:
        """The snapshot plus every journal line after it. Raises InputError only
        for a snapshot that is not one (a torn journal line is expected)."""
        st = JournalState()
        if self.snapshot_path.exists():
            src = str(self.snapshot_path)
            try:
                data = json.loads(self.snapshot_path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise InputError(src, "", "a readable JSON journal snapshot", str(exc)[:120]) from None
            if not isinstance(data, dict) or data.get("format") != JOURNAL_FORMAT + "-snapshot":
                raise InputError(src, "$.format", repr(JOURNAL_FORMAT + "-snapshot"),
                                 data.get("format") if isinstance(data, dict) else data)
            if data.get("schema_version") != JOURNAL_SCHEMA:
                raise InputError(src, "$.schema_version", str(JOURNAL_SCHEMA), data.get("schema_version"))
            st.seq = int(data.get("seq", 0))
            st.flags = _parse_flags(data.get("flags", []), src)
            st.decisions = {int(v): _parse_decisions(d, src) for v, d in dict(data.get("decisions", {})).items()}
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raw = b""
        except OSError as exc:
            raise InputError(str(self.path), "", "a readable journal", exc.strerror or str(exc)) from None
        lines = raw.split(b"\n")
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            complete = i < len(lines) - 1          # the last piece has no newline: torn
            try:
                if not complete:
                    raise ValueError("no newline")
                entry = json.loads(line.decode("utf-8"))
                if entry.get("format") != JOURNAL_FORMAT or entry.get("schema_version") != JOURNAL_SCHEMA:
                    raise ValueError("not a journal line of this version")
                seq = int(entry["seq"])
                if seq <= st.seq:
                    continue                       # already in the snapshot
                src = f"{self.path}:{i + 1}"
                if "flags" in entry:
                    flags = _parse_flags(entry["flags"], src)
                    decisions = None
                else:
                    flags = None
                    version = int(entry["version"])
                    decisions = _parse_decisions(entry["decisions"], src)
            except (ValueError, KeyError, TypeError, AttributeError, InputError):
                st.torn = True                     # a torn or damaged line: nothing after it is trusted
                break
            if flags is not None:
                st.flags = flags
                st.flag_steps += 1
            else:
                st.decisions[version] = decisions
                st.changed_versions.add(version)
                st.decision_steps += 1
            st.seq = seq
            st.replayed += 1
        self.seq = st.seq
        return st

    # ------------------------------------------------------------------ writing
    def _append(self, entry: dict) -> None:
        self.seq += 1
        line = {"format": JOURNAL_FORMAT, "schema_version": JOURNAL_SCHEMA, "seq": self.seq,
                "time": _now(), **entry}
        data = (json.dumps(line, allow_nan=False, separators=(",", ":")) + "\n").encode("utf-8")
        if self._fd is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fsync(self._fd)

    def log_flags(self, op: str, what: str, flags) -> None:
        self._append({"op": op, "what": what, "flags": _flags_json(flags)})

    def log_decisions(self, op: str, what: str, version: int, decisions: Decisions) -> None:
        self._append({"op": op, "what": what, "version": int(version),
                      "decisions": _decisions_json(decisions)})

    def compact(self, flags, decisions: dict[int, Decisions]) -> None:
        """Write the whole state atomically, then start an empty journal."""
        write_json_atomic(self.snapshot_path, {
            "format": JOURNAL_FORMAT + "-snapshot", "schema_version": JOURNAL_SCHEMA,
            "seq": self.seq, "time": _now(), "flags": _flags_json(flags),
            "decisions": {str(v): _decisions_json(d) for v, d in sorted(decisions.items()) if d}})
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
