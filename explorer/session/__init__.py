"""The session model: the single source of truth (no Qt).

``Session`` (session.py) holds the world, the versions, the flags, the triage
and one command history, and emits events; ``jobs.py`` and ``work.py`` are the
long work and what it does to a session; ``store.py`` is the session directory
format, ``persist.py`` saving and opening it, ``journal.py`` its write-ahead log.
"""
from .events import SessionEvents
from .jobs import METHOD_NAMES, METHODS, Job, Snapshot
from .persist import auto_session_dir, sessions_root
from explorer.model.flags import default_flag_radius

from .commands import SessionBusy
from .session import Session
from .store import SessionError, VersionEntry

__all__ = ["Session", "SessionBusy", "SessionError", "SessionEvents", "Job", "Snapshot", "METHODS",
           "METHOD_NAMES", "VersionEntry", "auto_session_dir", "sessions_root", "default_flag_radius"]
