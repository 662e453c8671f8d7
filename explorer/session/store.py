"""Versions of a reward model, kept in a session directory.

    my-session/
      session.json          the version graph: each version's parent, label,
                            created time, metrics; which one is current
      versions/v0001/       an artifact (artifact.json + weights.safetensors)
      versions/v0002/ ...
      flags.json            the session's flags

Every write is atomic (artifacts are written to a temporary directory and
renamed; session.json via temp file + fsync + os.replace), so a crash leaves
the session as it was before the write. Versions are never overwritten:
restoring an old version and refining it again makes a new branch.
"""
from __future__ import annotations

import datetime as _dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from worlds.errors import InputError

from explorer.model import artifact
from explorer.safeio import write_json_atomic
from explorer.model.reward_model import RewardModel

SESSION_FORMAT = "reward-explorer-session"
SESSION_SCHEMA = 1
SESSION_FILE = "session.json"


class SessionError(InputError):
    """A session directory that cannot be opened or written."""


@dataclass(frozen=True)
class VersionEntry:
    version: int
    parent: int | None
    label: str
    created: str
    directory: str
    metrics: dict

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class History:
    def __init__(self, root: Path, world_name: str, world_hash: str,
                 entries: list[VersionEntry], current: int | None):
        self.root = root
        self.world_name = world_name
        self.world_hash = world_hash
        self.entries = entries
        self.current = current

    # ---------------------------------------------------------------- create/open
    @classmethod
    def create(cls, root: str | Path, model: RewardModel, label: str = "trained") -> "History":
        root = Path(root)
        if (root / SESSION_FILE).exists():
            raise SessionError(str(root), "", "a new directory (a session already lives here; open it instead)",
                               str(root / SESSION_FILE))
        root.mkdir(parents=True, exist_ok=True)
        h = cls(root, model.world_name, model.world_hash, [], None)
        h.recovered = []
        h.add(model, label)
        return h

    @classmethod
    def open(cls, root: str | Path) -> "History":
        root = Path(root)
        path = root / SESSION_FILE
        src = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SessionError(src, "", "a session directory with session.json", exc.strerror or str(exc)) from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise SessionError(src, "", "UTF-8 JSON", str(exc)[:120]) from None
        if not isinstance(data, dict) or data.get("format") != SESSION_FORMAT:
            raise SessionError(src, "$.format", repr(SESSION_FORMAT), data.get("format") if isinstance(data, dict) else data)
        if data.get("schema_version") != SESSION_SCHEMA:
            raise SessionError(src, "$.schema_version", f"{SESSION_SCHEMA}", data.get("schema_version"))
        entries = []
        for i, e in enumerate(data.get("versions", [])):
            try:
                entry = VersionEntry(int(e["version"]), e["parent"], str(e["label"]), str(e["created"]),
                                     str(e["directory"]), dict(e.get("metrics", {})))
            except (KeyError, TypeError, ValueError):
                raise SessionError(src, f"$.versions[{i}]", "version, parent, label, created, directory", e) from None
            d = entry.directory
            if Path(d).is_absolute() or ".." in Path(d).parts:
                raise SessionError(src, f"$.versions[{i}].directory", "a path inside the session", d)
            entries.append(entry)
        world = data.get("world", {})
        h = cls(root, str(world.get("name")), str(world.get("sha256")), entries, data.get("current"))
        h._recover()
        return h

    def _recover(self) -> None:
        """A crash between writing a version's artifact and recording it in
        session.json leaves a complete but unlisted artifact: list it again
        (nothing the user made is lost), and say so in ``recovered``."""
        self.recovered: list[int] = []
        listed = {e.directory for e in self.entries}
        vdir = self.root / "versions"
        if not vdir.is_dir():
            return
        for d in sorted(vdir.iterdir()):
            rel = f"versions/{d.name}"
            if rel in listed or not d.is_dir() or d.name.startswith("."):
                continue
            try:
                meta = artifact.read_metadata(d)
                model = artifact.load(d)
            except InputError:
                continue                          # not an artifact: leave it alone
            if model.world_hash != self.world_hash:
                continue
            created = str(meta.get("created", ""))
            self.entries.append(VersionEntry(model.version, model.parent, "recovered after a crash",
                                             created, rel, _plain(model.metrics)))
            self.recovered.append(model.version)
        if self.recovered:
            self.entries.sort(key=lambda e: e.version)
            self._save()

    # ------------------------------------------------------------------ writing
    def _save(self) -> None:
        write_json_atomic(self.root / SESSION_FILE, {
            "format": SESSION_FORMAT, "schema_version": SESSION_SCHEMA,
            "world": {"name": self.world_name, "sha256": self.world_hash},
            "current": self.current, "versions": [e.to_dict() for e in self.entries]})

    def next_version(self) -> int:
        v = max((e.version for e in self.entries), default=0) + 1
        while (self.root / f"versions/v{v:04d}").exists():   # never reuse a directory
            v += 1
        return v

    def add(self, model: RewardModel, label: str) -> RewardModel:
        """Store ``model`` as a new version (renumbered if its number is taken)."""
        if model.world_hash != self.world_hash:
            raise SessionError(str(self.root), "world", f"a model of world '{self.world_name}'", model.world_name)
        if any(e.version == model.version for e in self.entries) or \
                (self.root / f"versions/v{model.version:04d}").exists():
            model.version = self.next_version()
        rel = f"versions/v{model.version:04d}"
        artifact.save(model, self.root / rel)
        self.entries.append(VersionEntry(model.version, model.parent, label,
                                         _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                                         rel, _plain(model.metrics)))
        self.current = model.version
        self._save()
        return model

    # ------------------------------------------------------------------ reading
    def entry(self, version: int) -> VersionEntry:
        for e in self.entries:
            if e.version == version:
                return e
        raise SessionError(str(self.root), "version", "one of " + ", ".join(str(e.version) for e in self.entries),
                           version)

    def load(self, version: int | None = None) -> RewardModel:
        v = self.current if version is None else version
        return artifact.load(self.root / self.entry(v).directory)

    def restore(self, version: int) -> RewardModel:
        model = self.load(version)
        self.current = version
        self._save()
        return model

    def export(self, version: int, dest: str | Path) -> Path:
        dest = Path(dest)
        if dest.exists():
            raise SessionError(str(dest), "", "a path that does not exist yet", "exists")
        shutil.copytree(self.root / self.entry(version).directory, dest)
        return dest

    def lineage(self, version: int) -> list[int]:
        out, v = [], version
        while v is not None:
            out.append(v)
            v = self.entry(v).parent
        return out[::-1]


def _plain(metrics: dict) -> dict:
    return json.loads(json.dumps(metrics, default=float))
