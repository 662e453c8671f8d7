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

Every decision is one step of the session's command history (a delta: the
region's decision and radius before and after).
``ReviewLog`` keeps the rejected regions per version; the session file stores
them, so they survive a restart.

No Qt here: the window only shows a ``Triage`` and forwards clicks to it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from worlds.errors import InputError

from explorer.flywheel.audit import AuditReport, Finding

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
Decision = tuple[str, float]             # (decision, radius)
RANKINGS = ("priority", "score")
RANKING_NAMES = {"priority": "priority (distance)", "score": "score (reward)"}
REVIEW_FORMAT = "reward-explorer-triage"
REVIEW_SCHEMA = 1


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

    @classmethod
    def from_json(cls, data: dict, src: str = "session") -> "ReviewLog":
        """The ``reviewed_fine`` part of a session file: version -> reviewed regions."""
        out: dict[int, list[Reviewed]] = {}
        if not isinstance(data, dict):
            raise InputError(src, "$.reviews", "an object version -> reviewed regions", data)
        for key, items in data.items():
            try:
                out[int(key)] = [Reviewed(int(r["version"]), tuple(float(c) for c in r["center"]),
                                          float(r["radius"]), int(r["finding"]), int(r["cluster"]),
                                          str(r.get("reason", ""))) for r in items]
            except (KeyError, TypeError, ValueError):
                raise InputError(src, f"$.reviews.{key}", "a list of reviewed regions", items) from None
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
        self.serial = 0                  # which audit of the session this is (set by the session)

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

    # ---- deciding ---------------------------------------------------------
    # The session keeps the undo history (one for every edit); these return the
    # region's state before and after, so a decision can be undone as a delta.
    def decide(self, action: str, cluster: int, radius: float | None = None) -> tuple[Decision, Decision]:
        """accept | reject | reset | radius: returns (old, new) (decision, radius)."""
        r = self.region(cluster)
        old = (r.decision, r.radius)
        if action == "accept":
            new = (ACCEPTED, _radius(r.radius if radius is None else radius))
        elif action == "reject":
            new = (REJECTED, r.radius)
        elif action == "reset":
            new = (PENDING, r.representative.radius)
        elif action == "radius":
            new = (r.decision, _radius(radius))
        else:
            raise ValueError(f"unknown triage action {action!r}: use accept, reject, reset or radius")
        return old, new

    def set_region(self, cluster: int, decision: str, radius: float) -> None:
        if decision not in (PENDING, ACCEPTED, REJECTED):
            raise ValueError(f"unknown decision {decision!r}")
        self._regions[cluster] = replace(self.region(cluster), decision=decision, radius=float(radius))

    def describe(self, cluster: int, old: Decision, new: Decision) -> str:
        """'accept region 3 (5 findings)': what a decision did, numbered as shown."""
        what = {ACCEPTED: "accept", REJECTED: "reject", PENDING: "reset"}[new[0]] \
            if new[0] != old[0] else f"radius {old[1]:.2f} -> {new[1]:.2f} of"
        n = len(self.region(cluster).members)
        return f"{what} region {self.number(cluster)} ({n} finding{'s' if n != 1 else ''})"


def _radius(value: float) -> float:
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise InputError("triage", "radius", "a finite radius > 0", value)
    return v
