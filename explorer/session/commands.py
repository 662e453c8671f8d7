"""One command history for every edit a person makes.

Each command stores only what it changed (a delta), knows how to do and undo
itself through the few ``apply_*`` functions at the end of this module, says in words what it is ("add
flag #3", "refine (local patch): v2 -> v3"), and round-trips through JSON so
the history survives save and open. Stack discipline keeps commands valid: a
decision on a triage is always undone before the audit that made the triage.

Kinds: a flag edit (add, delete, move, radius), a triage decision (one region or
several at once), an audit (its findings become the triage), and a change of the
current version (a refinement, a psi edit, a flywheel cycle, a restore).
Undoing a version change makes the previous version current again; the newer
version stays in the history, and redo returns to it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from explorer.flywheel.audit import AuditReport
from explorer.flywheel.triage import Reviewed, Triage
from explorer.model.flags import Flag
from explorer.refine import RefinementError

if TYPE_CHECKING:
    from .session import Session

Decision = tuple[str, float]           # (pending | accepted | rejected, radius)


class SessionBusy(RefinementError):
    """An edit that would change the landscape while a job is reading it."""


class Command:
    """Base class. ``model_change``: refused while a job reads the landscape."""
    model_change = False

    @property
    def text(self) -> str:
        raise NotImplementedError

    def do(self, s: "Session") -> None:
        raise NotImplementedError

    def undo(self, s: "Session") -> None:
        raise NotImplementedError

    def to_dict(self) -> dict:
        raise NotImplementedError


# ------------------------------------------------------------------ flags
@dataclass
class FlagEdit(Command):
    """``before`` -> ``after`` at ``index`` of the flag list (None: no flag there)."""
    before: Flag | None
    after: Flag | None
    index: int

    @property
    def text(self) -> str:
        b, a = self.before, self.after
        if b is None:
            return f"add flag #{a.id}"
        if a is None:
            return f"delete flag #{b.id}"
        if b.center != a.center:
            return f"move flag #{a.id}"
        return f"radius of flag #{a.id} {b.radius:.2f} -> {a.radius:.2f}"

    def do(self, s: "Session") -> None:
        apply_flag(s, self.before, self.after, self.index)

    def undo(self, s: "Session") -> None:
        apply_flag(s, self.after, self.before, self.index)

    def to_dict(self) -> dict:
        return {"type": "flag", "index": self.index,
                "before": self.before.to_dict() if self.before else None,
                "after": self.after.to_dict() if self.after else None}


# ------------------------------------------------------------------ triage
@dataclass
class Decide(Command):
    """Decisions on regions of the triage with serial ``serial``: cluster -> (old, new)."""
    serial: int
    changes: dict[int, tuple[Decision, Decision]]
    what: str

    @property
    def text(self) -> str:
        return self.what

    def do(self, s: "Session") -> None:
        apply_decisions(s, self.serial, {c: new for c, (_, new) in self.changes.items()})

    def undo(self, s: "Session") -> None:
        apply_decisions(s, self.serial, {c: old for c, (old, _) in self.changes.items()})

    def to_dict(self) -> dict:
        return {"type": "decide", "serial": self.serial, "what": self.what,
                "changes": {str(c): [list(o), list(n)] for c, (o, n) in self.changes.items()}}


@dataclass
class SetAudit(Command):
    """An audit's findings become the triage (the previous triage comes back on undo)."""
    old: Triage | None
    new: Triage | None
    model_change = True

    @property
    def text(self) -> str:
        return f"audit of v{self.new.version}" if self.new is not None else "clear the audit"

    def do(self, s: "Session") -> None:
        apply_triage(s, self.new)

    def undo(self, s: "Session") -> None:
        apply_triage(s, self.old)

    def to_dict(self) -> dict:
        return {"type": "audit", "old": triage_to_dict(self.old), "new": triage_to_dict(self.new)}


# ------------------------------------------------------------------ versions
@dataclass
class ChangeVersion(Command):
    """The current version goes from ``old`` to ``new``: a refinement (local, data),
    a psi edit, a flywheel cycle (which also consumes its triage) or a restore."""
    kind: str
    old: int
    new: int
    triage_old: Triage | None = None
    triage_new: Triage | None = None
    model_change = True

    NAMES = {"local": "refine (local patch)", "data": "refine (data-driven)", "psi": "psi edit",
             "cycle": "apply accepted findings", "restore": "restore"}

    @property
    def text(self) -> str:
        return f"{self.NAMES.get(self.kind, self.kind)}: v{self.old} -> v{self.new}"

    def do(self, s: "Session") -> None:
        apply_current(s, self.new)
        if self.kind == "cycle":
            apply_triage(s, self.triage_new)

    def undo(self, s: "Session") -> None:
        apply_current(s, self.old)
        if self.kind == "cycle":
            apply_triage(s, self.triage_old)

    def to_dict(self) -> dict:
        return {"type": "version", "kind": self.kind, "old": self.old, "new": self.new,
                "triage_old": triage_to_dict(self.triage_old), "triage_new": triage_to_dict(self.triage_new)}


# ------------------------------------------------------------------ what commands do
# Each changes one part of the session and emits the event for it.
def apply_flag(s: "Session", before: Flag | None, after: Flag | None, index: int) -> None:
    if before is None:
        s._flags.insert(min(index, len(s._flags)), after)
        s.next_flag_id = max(s.next_flag_id, after.id + 1)
    elif after is None:
        s._flags.pop(s._index(before.id))
    else:
        s._flags[s._index(before.id)] = after
    s.events.flags.emit(s.flags)


def apply_decisions(s: "Session", serial: int, decisions: dict) -> None:
    t = s._require_triage()
    if t.serial != serial:
        raise ValueError(f"the decision belongs to audit #{serial}, not the one shown (#{t.serial})")
    for cluster, (decision, radius) in decisions.items():
        t.set_region(cluster, decision, radius)
    s.reviews.set_version(t.version, t.reviewed())     # a rejection is not proposed again
    s.events.triage.emit(t)


def apply_triage(s: "Session", triage: Triage | None) -> None:
    s.triage = triage
    if triage is not None:
        s.triage_serial = max(s.triage_serial, triage.serial)
        triage.rank(s.ranking)
        s.reviews.set_version(triage.version, triage.reviewed())
    s.events.triage.emit(triage)


def apply_current(s: "Session", version: int) -> None:
    from .work import same_expertness
    model = s.versions.model(version)
    s.land.set_model(model, same_expertness=same_expertness(s.land.model, model))
    s.current = version
    s.reference = None
    s.last_check = model.edits[-1].get("regression_check") if model.edits else None
    s.events.model.emit(model)
    s.events.versions.emit()


# ------------------------------------------------------------------ the history
class CommandHistory:
    """Done and undone commands, newest last; at most ``limit`` are kept."""

    def __init__(self, limit: int = 500):
        self.done: list[Command] = []
        self.undone: list[Command] = []
        self.limit = limit

    def push(self, cmd: Command) -> None:
        """A command that has just been done: it can be undone, and redo is gone."""
        self.done.append(cmd)
        del self.done[:-self.limit]
        self.undone.clear()

    def undo_text(self) -> str:
        return f"Undo: {self.done[-1].text}" if self.done else "Nothing to undo"

    def redo_text(self) -> str:
        return f"Redo: {self.undone[-1].text}" if self.undone else "Nothing to redo"

    def to_json(self, limit: int = 200) -> dict:
        return {"done": [c.to_dict() for c in self.done[-limit:]],
                "undone": [c.to_dict() for c in self.undone[-limit:]]}

    @classmethod
    def from_json(cls, data: dict, triages: dict[int, Triage]) -> "CommandHistory":
        """``triages``: serial -> Triage shared by every command (and the session) that
        refers to it, so a decision undone through one is undone for all."""
        h = cls()
        h.done = [command_from_dict(d, triages) for d in data.get("done", [])]
        h.undone = [command_from_dict(d, triages) for d in data.get("undone", [])]
        return h


# ------------------------------------------------------------------ JSON
def triage_to_dict(t: Triage | None) -> dict | None:
    if t is None:
        return None
    return {"serial": t.serial, "version": t.version, "ranking": t.ranking, "report": t.report.to_dict(),
            "reviewed": [r.to_dict() for r in t.base_reviewed],
            "decisions": {str(r.cluster): [r.decision, r.radius] for r in t.regions}}


def triage_from_dict(d: dict | None, triages: dict[int, Triage] | None = None) -> Triage | None:
    """Rebuild a triage; with ``triages`` (serial -> Triage) one object per serial."""
    if d is None:
        return None
    if triages is not None and int(d["serial"]) in triages:
        return triages[int(d["serial"])]
    t = Triage(report_from_dict(d["report"]), int(d["version"]),
               [Reviewed(int(r["version"]), tuple(float(c) for c in r["center"]), float(r["radius"]),
                         int(r["finding"]), int(r["cluster"]), str(r.get("reason", ""))) for r in d["reviewed"]],
               str(d.get("ranking", "priority")))
    t.serial = int(d["serial"])
    for c, (decision, radius) in d.get("decisions", {}).items():
        t.set_region(int(c), str(decision), float(radius))
    if triages is not None:
        triages[t.serial] = t
    return t


def report_from_dict(d: dict) -> AuditReport:
    from dataclasses import fields

    from explorer.flywheel.audit import Finding
    names = {f.name for f in fields(AuditReport)}
    kw: dict[str, Any] = {k: v for k, v in d.items() if k in names and k != "findings"}
    finding_names = {f.name for f in fields(Finding)}
    kw["findings"] = [Finding(**{k: (tuple(v) if k == "center" else v) for k, v in f.items() if k in finding_names})
                      for f in d.get("findings", [])]
    return AuditReport(**kw)


def command_from_dict(d: dict, triages: dict[int, Triage] | None = None) -> Command:
    kind = d.get("type")
    if kind == "flag":
        def flag(x):
            return None if x is None else Flag(int(x["id"]), tuple(float(v) for v in x["center"]),
                                               float(x["radius"]), str(x.get("kind", "spurious-high")))
        return FlagEdit(flag(d["before"]), flag(d["after"]), int(d["index"]))
    if kind == "decide":
        return Decide(int(d["serial"]), {int(c): ((str(o[0]), float(o[1])), (str(n[0]), float(n[1])))
                                         for c, (o, n) in d["changes"].items()}, str(d["what"]))
    if kind == "audit":
        return SetAudit(triage_from_dict(d["old"], triages), triage_from_dict(d["new"], triages))
    if kind == "version":
        return ChangeVersion(str(d["kind"]), int(d["old"]), int(d["new"]),
                             triage_from_dict(d.get("triage_old"), triages),
                             triage_from_dict(d.get("triage_new"), triages))
    raise ValueError(f"unknown command type {kind!r}")
