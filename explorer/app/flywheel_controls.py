"""The window's flywheel controls: audit, triage (the keyboard flow included),
apply accepted findings, and the History panel's preview / diff / restore /
export. Each forwards what the person asked for to the session (which owns the
rules and the undo history) and says in the status bar what happened; the
panels redraw themselves from the session's events.
"""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtWidgets import QFileDialog

from explorer.refine import RefinementError
from worlds.errors import InputError

from .files import refuse


class FlywheelControls:
    def __init__(self, window):
        self.w = window
        fp, hp = window.findings_panel, window.history_panel
        fp.auditRequested.connect(self.audit)
        fp.regionSelected.connect(self.region_selected)
        fp.decisionRequested.connect(self.decide)
        fp.radiusRequested.connect(lambda c, r: self._try("change the radius", lambda: self.s.decide("radius", c, r)))
        fp.acceptAllRequested.connect(self.accept_all)
        fp.applyRequested.connect(self.apply_accepted)
        fp.rankingChanged.connect(lambda r: self.s.set_ranking(r))
        hp.versionSelected.connect(self.view_version)
        hp.restoreRequested.connect(self.restore)
        hp.exportRequested.connect(self.export_dialog)
        hp.diffRequested.connect(self.diff)

    @property
    def s(self):
        return self.w.session

    def _try(self, what: str, fn) -> bool:
        try:
            fn()
            return True
        except (RefinementError, InputError, KeyError, ValueError) as exc:
            self.w.status(f"Cannot {what}: {exc}")
            return False

    # ---- Phase 1 --------------------------------------------------------------------
    def audit(self) -> None:
        if self.w.start_job(lambda: self.s.audit_job(), "Cannot audit"):
            self.w.tabs.setCurrentIndex(1)

    def audit_done(self) -> None:
        t = self.s.triage
        if t is not None and t.regions:
            self.w.findings_panel.select_cluster(t.regions[0].cluster)      # flies there

    # ---- Phase 2 --------------------------------------------------------------------
    def region_selected(self, cluster) -> None:
        t = self.s.triage
        self.w.findings_layer.show(t, cluster)
        if t is None or cluster is None:
            return
        r = t.region(cluster)
        self.w.findings_layer.fly_to(r.representative.center)
        n = len(r.members)
        self.w.status(f"Region {t.number(cluster)} ({n} finding{'s' if n != 1 else ''}, {r.cells:,} cells): "
                      f"{r.representative.reason}. "
                      "Y accepts, X rejects, N goes to the next.")

    def step(self, delta: int) -> None:
        if self.w.findings_panel.step(delta) is None:
            self.w.status("No findings to step through: run Audit first")

    def decide_selected(self, action: str) -> None:
        cluster = self.w.findings_panel.selected_cluster()
        if cluster is None:
            self.w.status("Select a region in the findings panel first (N steps through them)")
            return
        self.w.findings_panel._commit_radius()
        self.decide(action, cluster)

    def decide(self, action: str, cluster: int) -> None:
        t = self.s.triage
        if t is None:
            return
        radius = float(self.w.findings_panel.radius.value()) if action == "accept" else None
        if not self._try(action, lambda: self.s.decide(action, cluster, radius)):
            return
        r = t.region(cluster)
        n = len(r.members)
        what = {"accept": f"accepted: its {n} finding{'s' if n != 1 else ''} will be patched at Apply",
                "reject": "marked reviewed, fine: not proposed again for this version",
                "reset": "back to pending"}[action]
        self.w.status(f"Region {t.number(cluster)} {what} (Ctrl+Z undoes)")
        if action in ("accept", "reject"):
            # Move on *down* the list: never back to a row decided a moment ago.
            nxt = self.w.findings_panel.next_pending(cluster)
            if nxt is not None:
                self.w.findings_panel.select_cluster(nxt)

    def accept_all(self) -> None:
        if self.s.triage is not None and not self.w.jobs.busy:
            n = self.s.accept_all()
            self.w.status(f"Accepted {n} pending region{'s' if n != 1 else ''} (one Ctrl+Z undoes them all)")

    # ---- Phase 3 --------------------------------------------------------------------
    def apply_accepted(self) -> None:
        self.w.start_job(lambda: self.s.apply_job(), "Cannot apply")

    # ---- History ----------------------------------------------------------------------
    def view_version(self, version) -> None:
        if not self.w.is_ready:
            return
        self.w.layer.view_version(version)
        if self.w.layer.viewing is not None:
            e = self.s.versions.entry(self.w.layer.viewing)
            self.w.status(f"Showing v{e.version} ({e.label}); the current version is v{self.s.current}. "
                          "Restore makes it current, Diff compares, A shows the current one.")

    def diff(self, version: int) -> None:
        if not self._try(f"compare with v{version}", lambda: self.s.compare_with(version)):
            return
        self.w.history_panel.select_version(None, emit=False)
        self.w.layer.set_compare("difference")
        self.w.status(f"Difference: v{self.s.current} - v{version} (red: reward fell since v{version}, "
                      f"blue: rose). B shows v{version}, A the current version.")

    def restore(self, version: int) -> None:
        if self.w.jobs.busy:
            return
        self.w.edits.commit_psi()
        if self._try(f"restore v{version}", lambda: self.s.restore(version)):
            self.w.status(f"Restored v{version}: it is the current version; refining it again starts a "
                          "new branch (Ctrl+Z goes back)")

    def export_dialog(self, version: int) -> None:
        d = QFileDialog.getExistingDirectory(self.w, f"Export v{version}: choose a directory to put it in")
        if d:
            self.export(version, Path(d) / f"{self.s.world.name}-v{version}")

    def export(self, version: int, dest) -> Path | None:
        dest = Path(dest)
        base, i = dest, 2
        while dest.exists():
            dest, i = base.with_name(f"{base.name}-{i}"), i + 1
        try:
            out = self.s.export(version, dest)
        except (InputError, OSError) as exc:
            refuse(self.w, "Cannot export", exc)
            return None
        self.w.status(f"Exported v{version} to {out}")
        return out
