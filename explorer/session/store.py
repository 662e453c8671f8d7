"""The session directory format, in one module.

    my-session/
      session.json        schema 2, written atomically: the world (name, sha256 of
                          its file, where it came from), every version (parent,
                          label, kind, created, metrics, directory), the current
                          version, the flags, the triage being worked on (its audit
                          report and decisions), the regions reviewed fine per
                          version, the command history, and the last journal
                          line it holds
      journal.jsonl       commands since session.json was last written (journal.py)
      versions/v0001/     one artifact per version (artifact.json + weights.safetensors)

A version's artifact is written (atomically, to a temporary directory renamed
into place) *before* anything refers to it, so a crash leaves at worst an
unlisted artifact, which ``open`` lists again. Versions are never overwritten:
a number that is taken gets the next free one. Schema 1 directories (written
before this format) are migrated on open; their files are kept beside it
(``session-v1.json``, ``journal-v1.jsonl``).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from explorer.model import artifact
from explorer.model.flags import Flag, check_center, check_radius
from explorer.model.reward_model import RewardModel
from explorer.safeio import read_json, write_json_atomic
from worlds.errors import InputError

from .journal import JOURNAL_FILE, Journal

SESSION_FORMAT = "reward-explorer-session"
SESSION_SCHEMA = 2
SESSION_FILE = "session.json"
MAX_SESSION_BYTES = 50_000_000


class SessionError(InputError):
    """A session directory that cannot be opened or written."""


@dataclass(frozen=True)
class VersionEntry:
    version: int
    parent: int | None
    label: str
    created: str
    directory: str                      # "versions/v0003" inside the session ("" if not stored)
    metrics: dict
    kind: str = ""                      # trained | opened | local | data | psi | cycle

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class SessionState:
    """Everything session.json holds (the artifacts live beside it)."""
    world_name: str
    world_hash: str
    world_source: str
    current: int
    versions: list[VersionEntry]
    flags: list[Flag] = field(default_factory=list)
    next_flag_id: int = 1
    triage: dict | None = None
    reviews: dict = field(default_factory=dict)
    commands: dict = field(default_factory=dict)
    seq: int = 0

    def to_json(self) -> dict:
        return {"format": SESSION_FORMAT, "schema_version": SESSION_SCHEMA,
                "world": {"name": self.world_name, "sha256": self.world_hash, "source": self.world_source},
                "current": self.current, "versions": [e.to_dict() for e in self.versions],
                "flags": [f.to_dict() for f in self.flags], "next_flag_id": self.next_flag_id,
                "triage": self.triage, "reviews": self.reviews, "commands": self.commands,
                "journal_seq": self.seq}


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def plain(metrics: dict) -> dict:
    """Metrics as JSON allows them (numpy scalars become floats)."""
    return json.loads(json.dumps(metrics, default=float))


class SessionStore:
    """Reads and writes one session directory."""

    def __init__(self, root: str | Path, seq: int = 0):
        self.root = Path(root)
        self.journal = Journal(self.root, seq)

    # ---------------------------------------------------------------- create/open
    @classmethod
    def create(cls, root: str | Path) -> "SessionStore":
        root = Path(root)
        if (root / SESSION_FILE).exists():
            raise SessionError(str(root), "", "a new directory (a session already lives here: open it)",
                               str(root / SESSION_FILE))
        root.mkdir(parents=True, exist_ok=True)
        return cls(root)

    @classmethod
    def open(cls, root: str | Path) -> tuple["SessionStore", SessionState, list[int]]:
        """The store, its state, and the versions listed again after a crash."""
        root = Path(root)
        data = read_json(root / SESSION_FILE, "session file", SessionError, MAX_SESSION_BYTES)
        src = str(root / SESSION_FILE)
        if not isinstance(data, dict) or data.get("format") != SESSION_FORMAT:
            raise SessionError(src, "$.format", repr(SESSION_FORMAT),
                               data.get("format") if isinstance(data, dict) else type(data).__name__)
        schema = data.get("schema_version")
        if schema == 1:
            state = _migrate_v1(root, data)
        elif schema == SESSION_SCHEMA:
            state = parse_state(data, src)
        else:
            raise SessionError(src, "$.schema_version", f"1 or {SESSION_SCHEMA} (a newer program wrote this "
                               "session: upgrade to open it)", schema)
        store = cls(root, state.seq)
        recovered = store._recover(state)
        if schema == 1 or recovered:
            store.write_state(state)
        return store, state, recovered

    # ------------------------------------------------------------------ versions
    def next_free(self, version: int, taken: set[int]) -> int:
        v = version
        while v in taken or (self.root / f"versions/v{v:04d}").exists():
            v += 1
        return v

    def write_version(self, model: RewardModel) -> str:
        rel = f"versions/v{model.version:04d}"
        artifact.save(model, self.root / rel)
        return rel

    def load_version(self, entry: VersionEntry) -> RewardModel:
        d = entry.directory
        if not d or Path(d).is_absolute() or ".." in Path(d).parts:
            raise SessionError(str(self.root / SESSION_FILE), f"versions[v{entry.version}].directory",
                               "a path inside the session", d)
        return artifact.load(self.root / d)

    def export(self, entry: VersionEntry, dest: str | Path) -> Path:
        dest = Path(dest)
        if dest.exists():
            raise SessionError(str(dest), "", "a path that does not exist yet", "exists")
        shutil.copytree(self.root / entry.directory, dest)
        return dest

    def _recover(self, state: SessionState) -> list[int]:
        """A crash between writing a version's artifact and recording it leaves a
        complete but unlisted artifact: list it again (nothing made is lost)."""
        listed = {e.directory for e in state.versions}
        numbers = {e.version for e in state.versions}
        out = []
        vdir = self.root / "versions"
        if not vdir.is_dir():
            return out
        for d in sorted(vdir.iterdir()):
            rel = f"versions/{d.name}"
            if rel in listed or not d.is_dir() or d.name.startswith("."):
                continue
            try:
                model = artifact.load(d)
            except InputError:
                continue                         # not an artifact: leave it alone
            if model.world_hash != state.world_hash or model.version in numbers:
                continue
            state.versions.append(VersionEntry(model.version, model.parent, "recovered after a crash",
                                               now(), rel, plain(model.metrics), "recovered"))
            numbers.add(model.version)
            out.append(model.version)
        state.versions.sort(key=lambda e: e.version)
        return out

    # ------------------------------------------------------------------ state
    def write_state(self, state: SessionState) -> None:
        """session.json, atomically; then the journal it now holds is emptied."""
        state.seq = self.journal.seq
        write_json_atomic(self.root / SESSION_FILE, state.to_json())
        self.journal.truncate()


# ---------------------------------------------------------------------- parsing
def parse_state(data: dict, src: str) -> SessionState:
    def need(obj, key, kind, path):
        if not isinstance(obj, dict) or key not in obj or not isinstance(obj[key], kind) \
                or (kind is int and isinstance(obj[key], bool)):
            got = obj.get(key) if isinstance(obj, dict) else obj
            raise SessionError(src, f"{path}.{key}", f"a {getattr(kind, '__name__', kind)}", got)
        return obj[key]

    world = need(data, "world", dict, "$")
    versions = []
    for i, e in enumerate(need(data, "versions", list, "$")):
        try:
            entry = VersionEntry(int(e["version"]), None if e["parent"] is None else int(e["parent"]),
                                 str(e["label"]), str(e["created"]), str(e["directory"]),
                                 dict(e.get("metrics", {})), str(e.get("kind", "")))
        except (KeyError, TypeError, ValueError):
            raise SessionError(src, f"$.versions[{i}]", "version, parent, label, created, directory", e) from None
        d = entry.directory
        if Path(d).is_absolute() or ".." in Path(d).parts:
            raise SessionError(src, f"$.versions[{i}].directory", "a path inside the session", d)
        versions.append(entry)
    if not versions:
        raise SessionError(src, "$.versions", "at least one version", 0)
    current = need(data, "current", int, "$")
    if current not in {e.version for e in versions}:
        raise SessionError(src, "$.current", "one of the listed versions", current)
    flags = [parse_flag(f, src, f"$.flags[{i}]") for i, f in enumerate(need(data, "flags", list, "$"))]
    triage = data.get("triage")
    if triage is not None and not isinstance(triage, dict):
        raise SessionError(src, "$.triage", "an object or null", triage)
    return SessionState(str(need(world, "name", str, "$.world")), str(need(world, "sha256", str, "$.world")),
                        str(world.get("source", "")), current, versions, flags,
                        int(data.get("next_flag_id", max((f.id for f in flags), default=0) + 1)), triage,
                        dict(data.get("reviews", {})), dict(data.get("commands", {})),
                        int(data.get("journal_seq", 0)))


def parse_flag(f, src: str, path: str) -> Flag:
    if not isinstance(f, dict) or isinstance(f.get("id"), bool) or not isinstance(f.get("id"), int):
        raise SessionError(src, path, "a flag with id, center, radius", f)
    return Flag(int(f["id"]), check_center(f.get("center"), src, f"{path}.center"),
                check_radius(f.get("radius"), src, f"{path}.radius"), str(f.get("kind", "spurious-high")))


def _migrate_v1(root: Path, data: dict) -> SessionState:
    """Schema 1 kept flags in flags.json / a journal snapshot and reviews in
    triage.json; its triage decisions were tied to a re-audit and are not carried
    over. The old files are kept beside the new session.json."""
    src = str(root / SESSION_FILE)
    world = data.get("world") or {}
    entries = []
    for i, e in enumerate(data.get("versions", [])):
        try:
            entries.append({**e, "kind": e.get("kind", "")})
        except TypeError:
            raise SessionError(src, f"$.versions[{i}]", "a version entry", e) from None
    current = data.get("current")
    if current is None and entries:
        current = entries[-1].get("version")
    flags: list = []
    for name in ("journal-snapshot.json", "flags.json"):
        p = root / name
        if p.exists():
            flags = read_json(p, "flags file", SessionError).get("flags", [])
            break
    old_journal = root / JOURNAL_FILE
    if old_journal.exists():
        for line in old_journal.read_bytes().split(b"\n"):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("flags"), list):
                flags = entry["flags"]
        os.replace(old_journal, root / "journal-v1.jsonl")
    reviews = {}
    if (root / "triage.json").exists():
        reviews = read_json(root / "triage.json", "triage file", SessionError).get("reviewed_fine", {})
    write_json_atomic(root / "session-v1.json", data)
    state = parse_state({"format": SESSION_FORMAT, "schema_version": SESSION_SCHEMA,
                         "world": {"name": world.get("name"), "sha256": world.get("sha256"),
                                   "source": f"builtin:{world.get('name')}"},
                         "current": current, "versions": entries, "flags": flags, "reviews": reviews}, src)
    return state
