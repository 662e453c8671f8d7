"""The session on disk: save, open (with journal replay), record each step, close.

A session without a directory keeps everything in memory (a script decides when
to ``save``). The window sets ``autosave``: the first edit creates a directory
(``--session DIR``, or one under the user data directory), and from then on
every command is journalled as it is made and every version is written as it is
released, so nothing acknowledged is lost and nothing is ever "unsaved".
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import worlds
from explorer.flywheel.triage import ReviewLog
from explorer.model import artifact
from explorer.model.landscape import Landscape
from worlds import World
from worlds.errors import InputError

from .commands import Command, CommandHistory, command_from_dict, triage_from_dict, triage_to_dict
from .store import SESSION_FILE, SessionError, SessionState, SessionStore
from .versions import Versions

if TYPE_CHECKING:
    from .session import Session

APP_DIR_NAME = "reward-landscape-explorer"
COMPACT_EVERY = 200          # journal lines before the session file takes them in


def sessions_root() -> Path:
    """Where automatic session directories go (platformdirs' user data directory)."""
    import platformdirs
    return Path(platformdirs.user_data_dir(APP_DIR_NAME)) / "sessions"


def auto_session_dir(world_name: str) -> Path:
    """A fresh ``<world>-<timestamp>`` directory under ``sessions_root()``."""
    base = sessions_root() / f"{world_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = base, 2
    while path.exists():
        path, i = base.with_name(f"{base.name}-{i}"), i + 1
    return path


def state_of(s: "Session") -> SessionState:
    return SessionState(s.world.name, s.world.file_hash, s.world.source, int(s.current),
                        s.versions.ordered(), list(s.flags), s.next_flag_id, triage_to_dict(s.triage),
                        s.reviews.to_json()["reviewed_fine"], s.commands.to_json())


# ------------------------------------------------------------------ writing
def record(s: "Session", step: str, cmd: Command) -> None:
    """Store one step (do | undo | redo) as it is made."""
    if getattr(s, "_replaying", False):
        return
    store = s.versions.store
    try:
        if store is None:
            if s.autosave:
                d = s.autosave_dir
                if d is None or (Path(d) / SESSION_FILE).exists():
                    d = auto_session_dir(s.world.name)
                save(s, d)                        # this step included
            return
        store.journal.append(step, cmd.text, cmd.to_dict())
        if store.journal.seq % COMPACT_EVERY == 0:
            store.write_state(state_of(s))
        s.persist_error = None
    except (OSError, InputError) as exc:
        # The edit holds in memory; the owner says it could not be stored.
        s.persist_error = f"could not store '{cmd.text}': {exc}"
        s.events.message.emit(s.persist_error)


def save(s: "Session", directory: str | Path) -> Path:
    """Write the whole session into ``directory`` (or bring its own up to date)."""
    s._require()
    directory = Path(directory)
    store = s.versions.store
    if store is not None and store.root.resolve() == directory.resolve():
        store.write_state(state_of(s))
        return directory
    new = SessionStore.create(directory)
    if store is not None:
        store.journal.close()
    s.versions.attach(new)
    new.write_state(state_of(s))
    s.events.versions.emit()
    s.events.message.emit(f"Session stored in {directory}")
    return directory


def close(s: "Session") -> None:
    store = s.versions.store
    if store is None:
        return
    try:
        if s.ready:
            store.write_state(state_of(s))
    except OSError as exc:
        s.persist_error = f"could not write the session file: {exc}"
    finally:
        store.journal.close()


def export(s: "Session", version: int, dest: str | Path) -> Path:
    entry = s.versions.entry(version)
    if s.versions.store is not None and entry.directory:
        return s.versions.store.export(entry, dest)
    return artifact.save(s.versions.model(version), dest)


# ------------------------------------------------------------------ reading
def resolve_world(name: str, sha: str, source: str, given, src: str, error=SessionError) -> World:
    """The world a session or artifact was made on: the one given, a built-in by
    name, or its world file; its sha256 must match (the file has not changed)."""
    if given is not None:
        w = given if isinstance(given, World) else worlds.load(given)
    elif name in worlds.available() and worlds.load(name).file_hash == sha:
        w = worlds.load(name)
    elif source and not source.startswith("builtin:") and Path(source).is_file():
        w = worlds.load(source)
    elif name in worlds.available():
        w = worlds.load(name)
    else:
        raise error(src, "world.name", "a built-in world or its world file (pass --world PATH.toml, or "
                    "world= in Python)", name)
    if w.file_hash != sha:
        raise error(src, "world.sha256", f"the sha256 of world '{w.name}' ({w.file_hash[:12]}...): the world "
                    "file changed since", (sha or "")[:12] + "...")
    return w


def load_artifact(directory: str | Path, world=None):
    """(world, model) of an artifact, the model proven finite on the world's grid."""
    from explorer.model.finite import prove_finite
    model = artifact.load(directory)
    w = resolve_world(model.world_name, model.world_hash, "", world, str(Path(directory) / "artifact.json"),
                      artifact.ArtifactError)
    prove_finite(model, w)
    return w, model


def adopt(s: "Session", other: "Session") -> None:
    """``s`` takes over everything of ``other`` but its subscribers and autosave settings."""
    from .events import SessionEvents
    s.close()
    keep = {"events": s.events, "autosave": s.autosave, "autosave_dir": s.autosave_dir}
    if s.root is not None and keep["autosave_dir"] is not None:
        keep["autosave_dir"] = None                 # used by this session already
    s.__dict__.update({**other.__dict__, **keep})
    other.events = SessionEvents()


def import_onnx(path: str | Path, world=None, sidecar=None):
    """(world, model) of an ONNX reward model (the world: given, or the sidecar's)."""
    from explorer.model.onnx_model import import_model
    w = world if world is None or isinstance(world, World) else worlds.load(world)
    model = import_model(path, w, sidecar)
    return w or resolve_world(model.world_name, model.world_hash, "", None, str(path)), model


def open_session(cls, directory: str | Path, world=None) -> "Session":
    directory = Path(directory)
    store, state, recovered = SessionStore.open(directory)
    w = resolve_world(state.world_name, state.world_hash, state.world_source, world,
                      str(directory / SESSION_FILE))
    s = cls(w)
    versions = Versions(store)
    for e in state.versions:
        versions.list_entry(e)
    model = versions.model(state.current)
    s.versions, s.current, s.land = versions, state.current, Landscape(model, w)
    s._flags, s.next_flag_id = list(state.flags), state.next_flag_id
    triages: dict = {}
    s.triage = triage_from_dict(state.triage, triages)
    s.reviews = ReviewLog.from_json(state.reviews, str(directory / SESSION_FILE))
    s.commands = CommandHistory.from_json(state.commands, triages)
    s.triage_serial = max(triages, default=0)
    s.last_check = model.edits[-1].get("regression_check") if model.edits else None
    replay = store.journal.read(state.seq)
    s._replaying = True
    try:
        for entry in replay.entries:
            step = entry["step"]
            if step == "undo":
                s.undo()
            elif step == "redo":
                s.redo()
            else:
                s.execute(command_from_dict(entry["command"], triages))
            s.triage_serial = max([s.triage_serial, *triages])
    except (KeyError, ValueError, InputError) as exc:
        replay.torn = True
        s.events.message.emit(f"journal replay stopped: {exc}")
    finally:
        s._replaying = False
    notes = []
    if replay.entries:
        notes.append(f"recovered {len(replay.entries)} step{'s' if len(replay.entries) != 1 else ''} from an "
                     f"interrupted session (the last: {replay.entries[-1]['what']})")
    if replay.torn:
        notes.append("the step in flight when it stopped was incomplete and is lost")
    if recovered:
        notes.append("versions " + ", ".join(f"v{v}" for v in recovered) + " were written but not listed: "
                     "listed again")
    s.recovery = ("Recovered: " + "; ".join(notes)) if notes else None
    if replay.entries or replay.torn:
        store.write_state(state_of(s))             # fold the replayed steps in once
    return s
