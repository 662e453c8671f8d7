"""Every version of a session's reward model.

The graph (each version's parent, label, kind and metrics) is small and always
in memory. Models are not: once the session has a directory, only the few most
recently used stay in memory and the rest are loaded from their artifacts when
asked for, so a long session's memory stays flat. Before the session is saved,
every model stays in memory (nothing else holds it). Rewards on the display
grid are cached for a few versions (Before/Difference and History previews).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from explorer.model.landscape import Landscape
from explorer.model.reward_model import RewardModel

from .store import SessionError, SessionStore, VersionEntry, now, plain

KEEP_MODELS = 6
KEEP_REWARDS = 4


class Versions:
    def __init__(self, store: SessionStore | None = None):
        self.entries: dict[int, VersionEntry] = {}
        self.store = store
        self._models: OrderedDict[int, RewardModel] = OrderedDict()
        self._rewards: OrderedDict[int, np.ndarray] = OrderedDict()

    def __contains__(self, version: int) -> bool:
        return version in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def ordered(self) -> list[VersionEntry]:
        return [self.entries[v] for v in sorted(self.entries)]

    def entry(self, version: int) -> VersionEntry:
        try:
            return self.entries[version]
        except KeyError:
            raise SessionError("session", "version", "one of " + ", ".join(f"v{v}" for v in sorted(self.entries)),
                               version) from None

    # ------------------------------------------------------------------ adding
    def add(self, model: RewardModel, label: str, kind: str) -> VersionEntry:
        """Store ``model`` as a new version; a number that is taken gets the next free one
        (its artifact is written first when the session has a directory)."""
        taken = set(self.entries)
        if self.store is not None:
            model.version = self.store.next_free(model.version, taken)
        else:
            while model.version in taken:
                model.version += 1
        directory = self.store.write_version(model) if self.store is not None else ""
        entry = VersionEntry(model.version, model.parent, label, now(), directory, plain(model.metrics), kind)
        self.entries[model.version] = entry
        self._remember(model.version, model)
        return entry

    def list_entry(self, entry: VersionEntry) -> None:
        """An entry read from a session file (its model stays on disk until asked for)."""
        self.entries[entry.version] = entry

    def attach(self, store: SessionStore) -> None:
        """Write every version into a (new) session directory and keep using it."""
        for v in sorted(self.entries):
            model = self.model(v)
            e = self.entries[v]
            self.entries[v] = VersionEntry(e.version, e.parent, e.label, e.created, store.write_version(model),
                                           e.metrics, e.kind)
        self.store = store
        self._trim()

    # ------------------------------------------------------------------ reading
    def model(self, version: int) -> RewardModel:
        if version in self._models:
            self._models.move_to_end(version)
            return self._models[version]
        entry = self.entry(version)
        if self.store is None or not entry.directory:
            raise SessionError("session", "version", f"v{version} in memory or on disk", "neither")
        model = self.store.load_version(entry)
        self._remember(version, model)
        return model

    def reward(self, version: int, land: Landscape) -> np.ndarray:
        """A version's reward on the landscape grid (cached, read-only)."""
        if version in self._rewards:
            self._rewards.move_to_end(version)
            return self._rewards[version]
        model = self.model(version)
        pts = land.points
        out = np.concatenate([model.reward(pts[i:i + 65536]) for i in range(0, len(pts), 65536)]) \
            if len(pts) else np.zeros(0, np.float32)
        out = np.asarray(out, np.float32)
        out.setflags(write=False)
        self._rewards[version] = out
        while len(self._rewards) > KEEP_REWARDS:
            self._rewards.popitem(last=False)
        return out

    def lineage(self, version: int) -> list[VersionEntry]:
        """The chain of versions that led to ``version``, root first."""
        out, v = [], version
        while v in self.entries and len(out) <= len(self.entries):
            out.append(self.entries[v])
            v = self.entries[v].parent
        return out[::-1]

    def _remember(self, version: int, model: RewardModel) -> None:
        self._models[version] = model
        self._models.move_to_end(version)
        self._trim()

    def _trim(self) -> None:
        if self.store is None:
            return                    # nothing else holds these models yet
        for v in list(self._models):
            if len(self._models) <= KEEP_MODELS:
                break
            e = self.entries.get(v)
            if e is not None and e.directory:       # never drop the only copy
                del self._models[v]
