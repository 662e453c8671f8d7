"""The window's edit controls: flags placed and moved by clicking, deleted and
resized from the panel, undo and redo, the psi sliders (a live preview while
dragging, one version per drag) and the policy drawn over the landscape. Each
forwards what the person did to the session and says what happened.
"""
from __future__ import annotations

from PyQt6.QtCore import Qt, QTimer

from explorer.policy.policies import POLICY_NAMES


class EditControls:
    def __init__(self, window):
        self.w = window
        self.psi_pending: tuple[float, float] | None = None
        self.psi_timer = QTimer(window, singleShot=True, interval=30)          # <= the render rate
        self.psi_timer.timeout.connect(self._apply_psi)
        self.psi_commit_timer = QTimer(window, singleShot=True, interval=400)  # keyboard edits
        self.psi_commit_timer.timeout.connect(self.commit_psi)
        window.view.clicked.connect(self._on_click)
        window.flag_panel.deleteRequested.connect(self.delete_flag)
        window.flag_panel.radiusPreview.connect(self._preview_radius)
        window.flag_panel.radiusCommitted.connect(
            lambda fid, r: window._try("resize", lambda: self.s.resize_flag(fid, r)))
        window.refine_panel.psiMoved.connect(self._on_psi_moved)
        window.refine_panel.auto.toggled.connect(lambda on: window.status(
            "Auto-refine ON: every new flag starts a refinement at once" if on else "Auto-refine off"))
        window.refine_panel.psiReleased.connect(self.commit_psi)

    @property
    def s(self):
        return self.w.session

    # ---- flags
    def _on_click(self, x: float, y: float, mods) -> None:
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if not (self.w.act["flag_tool"].isChecked() or shift or ctrl):
            return
        if not self.w.is_ready or self.w.jobs.kind == "train":
            self.w.status("No reward model yet: wait for training to finish")
            return
        idx = self.w.view.pick(x, y)
        if idx is None:
            self.w.status("No visible cell under the cursor: click on the coloured landscape", 4000)
            return
        centre = tuple(float(v) for v in self.s.land.points[idx])
        selected = self.w.flag_panel.selected_id()
        if ctrl and selected is not None:
            if self.w._try("move the flag", lambda: self.s.move_flag(selected, centre)):
                self.w.status(f"Moved flag #{selected} to ({', '.join(f'{v:+.2f}' for v in centre)})")
            return
        flag = self.s.flag(centre, self.w.flag_panel.new_flag_radius())
        self.w.flag_panel.select(flag.id)
        self.w.status(f"Flag {flag.describe()} placed (Ctrl+Z undoes)")
        if self.w.refine_panel.auto.isChecked():
            self.w.refine()

    def delete_flag(self, flag_id: int | None) -> None:
        if flag_id is not None and self.w._try("delete the flag", lambda: self.s.delete_flag(flag_id)):
            self.w.status(f"Deleted flag #{flag_id} (Ctrl+Z undoes)")

    def _preview_radius(self, flag_id: int, radius: float) -> None:
        self.w.view.set_flags([f if f.id != flag_id else type(f)(f.id, f.center, radius, f.kind)
                             for f in self.s.flags])

    def undo(self) -> None:
        self.w._try("undo", self.s.undo)

    def redo(self) -> None:
        self.w._try("redo", self.s.redo)

    # ---- psi
    def _on_psi_moved(self, l_max: float, k: float) -> None:
        if not self.w.is_ready or self.w.jobs.busy:
            return
        self.psi_pending = (l_max, k)
        if not self.psi_timer.isActive():
            self.psi_timer.start()
        self.psi_commit_timer.start()          # commits after a pause unless the slider is held

    def _apply_psi(self) -> None:
        if self.psi_pending is not None and self.w.is_ready and not self.w.jobs.busy:
            self.s.preview_psi(*self.psi_pending)

    def commit_psi(self) -> None:
        """One version (one undo step) per psi edit: on release, or after a pause."""
        if self.w.refine_panel.sliding():
            return                        # the release commits
        self.psi_commit_timer.stop()
        pending, self.psi_pending = self.psi_pending, None
        if pending is not None and self.w.is_ready and not self.w.jobs.busy:
            self.w._try("reshape g_psi", lambda: self.s.set_psi(*pending))

    # ---- policy
    def set_policy(self, mode: str) -> None:
        """off | value | gradient: draw that policy's path over the current reward."""
        i = self.w.policy_combo.findData(mode)
        if i != self.w.policy_combo.currentIndex():
            self.w.policy_combo.setCurrentIndex(i)          # comes back here through the combo
            return
        self.w.policy.set_mode(mode)
        if mode != "off" and self.s.ready:
            from explorer.policy.policies import default_policy_start
            start = ", ".join(f"{v:+.2f}" for v in default_policy_start(self.s.land))
            self.w.status(f"Policy: {POLICY_NAMES[mode]} from ({start}), the cell farthest from the "
                        "expert support; its outcome and the runtime gate are in the readouts")

    def cycle_policy(self) -> None:
        modes = [self.w.policy_combo.itemData(i) for i in range(self.w.policy_combo.count())]
        self.set_policy(modes[(modes.index(self.w.policy.mode) + 1) % len(modes)])
