"""Phase 2 triage: a person decides on the audit's findings, one connected region at a time.

The audit clusters its findings into connected regions of the grid. A person
sees one *representative* per region (ranked by priority, i.e. distance from
the support as the authors do, or by score) and decides for the whole region:

* **accept** -- every finding of the region becomes a flag for the next patch
  (its radius may be adjusted first: the factor applies to the whole region);
* **reject** -- "reviewed, fine": the region is recorded for that version and a
  later audit of the same version does not propose it again (a finding is
  hidden when its centre lies inside a rejected finding's ball). Rejected
  places travel with the next released version as ``reviewed_fine``: the
  positive corrections a data-driven patch may use;
* **reset** -- back to pending.

Every decision is one undoable step (kept as deltas, as ``FlagSet`` does).
``ReviewLog`` keeps the rejected regions per version in the session directory
(``triage.json``, written atomically) so they survive a restart.

No Qt here: the window only shows a ``Triage`` and forwards clicks to it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from worlds.errors import InputError

from explorer.flywheel.audit import AuditReport, Finding
from explorer.safeio import write_json_atomic

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
RANKINGS = ("priority", "score")
RANKING_NAMES = {"priority": "priority (distance)", "score": "score (reward)"}
REVIEW_FORMAT = "reward-explorer-triage"
REVIEW_SCHEMA = 1
REVIEW_FILE = "triage.json"


# ------------------------------------------------------------ reviewed regions
@dataclass(frozen=True)
class Reviewed:
    """A place a person looked at and called fine, for one model version."""
    version: int
    center: tuple[float, float, float]
    radius: float
    finding: int
    cluster: int
    reason: str = ""

    def covers(self, center) -> bool:
        return float(np.linalg.norm(np.asarray(center, float) - np.asarray(self.center, float))) \
            <= self.radius + 1e-6

    def to_dict(self) -> dict:
        return {"version": self.version, "center": list(self.center), "radius": self.radius,
                "finding": self.finding, "cluster": self.cluster, "reason": self.reason}


class ReviewLog:
    """Rejected ("reviewed, fine") regions per model version."""

    def __init__(self, by_version: dict[int, list[Reviewed]] | None = None):
        self.by_version: dict[int, list[Reviewed]] = {int(k): list(v) for k, v in (by_version or {}).items()}

    def for_version(self, version: int) -> list[Reviewed]:
        return list(self.by_version.get(int(version), []))

    def set_version(self, version: int, regions: list[Reviewed]) -> None:
        if regions:
            self.by_version[int(version)] = list(regions)
        else:
            self.by_version.pop(int(version), None)

    def to_json(self) -> dict:
        return {"format": REVIEW_FORMAT, "schema_version": REVIEW_SCHEMA,
                "reviewed_fine": {str(v): [r.to_dict() for r in rs] for v, rs in sorted(self.by_version.items())}}

    def save(self, root: Path) -> None:
        write_json_atomic(Path(root) / REVIEW_FILE, self.to_json())

    @classmethod
    def load(cls, root: Path) -> "ReviewLog":
        """The log of a session directory (empty if it has none yet)."""
        path = Path(root) / REVIEW_FILE
        if not path.exists():
            return cls()
        src = str(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(src, "", "a readable UTF-8 JSON triage file", str(exc)[:120]) from None
        if not isinstance(data, dict) or data.get("format") != REVIEW_FORMAT:
            raise InputError(src, "$.format", repr(REVIEW_FORMAT), data.get("format") if isinstance(data, dict) else data)
        if data.get("schema_version") != REVIEW_SCHEMA:
            raise InputError(src, "$.schema_version", str(REVIEW_SCHEMA), data.get("schema_version"))
        out: dict[int, list[Reviewed]] = {}
        for key, items in dict(data.get("reviewed_fine", {})).items():
            try:
                out[int(key)] = [Reviewed(int(r["version"]), tuple(float(c) for c in r["center"]),
                                          float(r["radius"]), int(r["finding"]), int(r["cluster"]),
                                          str(r.get("reason", ""))) for r in items]
            except (KeyError, TypeError, ValueError):
                raise InputError(src, f"$.reviewed_fine.{key}", "a list of reviewed regions", items) from None
        return cls(out)


# ------------------------------------------------------------------- triage
@dataclass(frozen=True)
class Region:
    """One row a person decides on: a connected region and its representative."""
    cluster: int
    representative: Finding
    members: tuple[Finding, ...]
    decision: str = PENDING
    radius: float = 0.0                  # the representative's radius, as adjusted

    @property
    def scale(self) -> float:
        r0 = self.representative.radius
        return self.radius / r0 if r0 > 0 else 1.0

    @property
    def cells(self) -> int:
        return sum(f.cells for f in self.members)

    def scaled_members(self) -> list[Finding]:
        s = self.scale
        return [f if abs(s - 1.0) < 1e-9 else replace(f, radius=round(f.radius * s, 4)) for f in self.members]


class Triage:
    """A person's decisions on one audit of one model version."""

    def __init__(self, report: AuditReport, version: int, reviewed: list[Reviewed] = (),
                 ranking: str = "priority"):
        self.report = report
        self.version = int(version)
        self.base_reviewed = list(reviewed)           # from earlier audits of this version
        self.hidden = [f for f in report.findings if any(r.covers(f.center) for r in self.base_reviewed)]
        hidden_ids = {f.id for f in self.hidden}
        self.findings = [f for f in report.findings if f.id not in hidden_ids]
        self.ranking = ranking if ranking in RANKINGS else "priority"
        by_cluster: dict[int, list[Finding]] = {}
        for f in self.findings:
            by_cluster.setdefault(f.cluster, []).append(f)
        self._regions: dict[int, Region] = {}
        for c, members in by_cluster.items():
            rep = max(members, key=self._key)
            self._regions[c] = Region(c, rep, tuple(members), PENDING, rep.radius)
        self._undo: list[tuple[int, Region, Region]] = []
        self._redo: list[tuple[int, Region, Region]] = []

    def _key(self, f: Finding) -> float:
        return f.priority if self.ranking == "priority" else f.score

    # ---- reading --------------------------------------------------------
    @property
    def regions(self) -> list[Region]:
        """Best first; the position (1-based) is the number shown on the marker."""
        return sorted(self._regions.values(), key=lambda r: (-self._key(r.representative), r.cluster))

    def region(self, cluster: int) -> Region:
        try:
            return self._regions[cluster]
        except KeyError:
            raise KeyError(f"no region {cluster} in the audit of v{self.version}") from None

    def number(self, cluster: int) -> int:
        return [r.cluster for r in self.regions].index(cluster) + 1

    def rank(self, ranking: str) -> None:
        """Re-rank the regions (and re-pick each representative) by priority or score."""
        if ranking not in RANKINGS:
            raise ValueError(f"ranking must be one of {RANKINGS}, got {ranking!r}")
        self.ranking = ranking
        for c, r in list(self._regions.items()):
            rep = max(r.members, key=self._key)
            if rep is not r.representative:
                radius = rep.radius * r.scale
                self._regions[c] = replace(r, representative=rep, radius=radius)

    def counts(self) -> dict:
        rs = self._regions.values()
        return {"regions": len(self._regions), "findings": len(self.findings), "hidden": len(self.hidden),
                "pending": sum(r.decision == PENDING for r in rs),
                "accepted": sum(r.decision == ACCEPTED for r in rs),
                "rejected": sum(r.decision == REJECTED for r in rs),
                "accepted_findings": sum(len(r.members) for r in rs if r.decision == ACCEPTED)}

    def accepted_findings(self) -> list[Finding]:
        """Every finding of every accepted region, with the region's radius factor applied."""
        out: list[Finding] = []
        for r in self.regions:
            if r.decision == ACCEPTED:
                out.extend(r.scaled_members())
        return out

    def rejected_regions(self) -> list[Reviewed]:
        """What a rejection records: each member finding's ball, for this version."""
        out = []
        for r in self.regions:
            if r.decision == REJECTED:
                out.extend(Reviewed(self.version, tuple(f.center), float(f.radius), f.id, r.cluster, f.reason)
                           for f in r.members)
        return out

    def reviewed(self) -> list[Reviewed]:
        """All reviewed-fine regions of this version: earlier ones and this triage's."""
        return self.base_reviewed + self.rejected_regions()

    # ---- deciding (each one undoable step) ---------------------------------
    def accept(self, cluster: int, radius: float | None = None) -> bool:
        """Returns whether anything changed (as reject, reset and set_radius do)."""
        r = self.region(cluster)
        return self._do(cluster, replace(r, decision=ACCEPTED,
                                         radius=_radius(r.radius if radius is None else radius)))

    def reject(self, cluster: int) -> bool:
        return self._do(cluster, replace(self.region(cluster), decision=REJECTED))

    def reset(self, cluster: int) -> bool:
        r = self.region(cluster)
        return self._do(cluster, replace(r, decision=PENDING, radius=r.representative.radius))

    def set_radius(self, cluster: int, radius: float) -> bool:
        return self._do(cluster, replace(self.region(cluster), radius=_radius(radius)))

    def accept_all(self) -> int:
        """Accept every pending region (one step each); returns how many."""
        n = 0
        for r in self.regions:
            if r.decision == PENDING:
                self.accept(r.cluster)
                n += 1
        return n

    def _do(self, cluster: int, new: Region) -> bool:
        old = self._regions[cluster]
        if new == old:
            return False
        self._regions[cluster] = new
        self._undo.append((cluster, old, new))
        self._redo.clear()
        return True

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        if not self._undo:
            return False
        cluster, old, new = self._undo.pop()
        self._regions[cluster] = old
        self._redo.append((cluster, old, new))
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        cluster, old, new = self._redo.pop()
        self._regions[cluster] = new
        self._undo.append((cluster, old, new))
        return True

    def undo_text(self) -> str:
        return "Undo: " + self._describe(*self._undo[-1]) if self._undo else "Nothing to undo"

    def redo_text(self) -> str:
        return "Redo: " + self._describe(*self._redo[-1]) if self._redo else "Nothing to redo"

    def _describe(self, cluster: int, old: Region, new: Region) -> str:
        what = {ACCEPTED: "accept", REJECTED: "reject", PENDING: "reset"}[new.decision] \
            if new.decision != old.decision else f"radius {old.radius:.2f} -> {new.radius:.2f} of"
        n = len(new.members)
        return f"{what} region {cluster} ({n} finding{'s' if n != 1 else ''})"


def _radius(value: float) -> float:
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise InputError("triage", "radius", "a finite radius > 0", value)
    return v
