"""The audit's regions in the 3D view: numbered labels (unpickable, always on
top) and rings coloured by decision, the selected region ringed in black, and a
short camera flight to a region."""
from __future__ import annotations

import time

import numpy as np
from PyQt6.QtCore import QEvent, QObject, QTimer

from explorer.flywheel.triage import ACCEPTED, PENDING, REJECTED
from explorer.viz.scene import flags_mesh

# Accepted is blue, never purple: purple is the colour of high reward in the landscape.
DECISION_COLOUR = {PENDING: "#d7191c", ACCEPTED: "#1f78b4", REJECTED: "#8c8c8c"}


class FindingsLayer(QObject):
    """Numbered labels (unpickable, always on top) and rings for the regions in the
    3D view, coloured by decision; and a short camera flight to a region."""
    FLY_MS = 300

    def __init__(self, view, parent: QObject | None = None):
        super().__init__(parent)
        self.view = view
        self.triage = None
        self.selected: int | None = None
        self._fly = QTimer(self)
        self._fly.setInterval(30)
        self._fly.timeout.connect(self._fly_step)
        self._fly_from = self._fly_to = None
        self._fly_t0 = 0.0
        self._names: list[str] = []
        self.scale = 1.0                    # presenter mode: larger labels, thicker rings
        view.plotter.installEventFilter(self)

    def set_scale(self, scale: float) -> None:
        self.scale = scale
        self.redraw()

    def bind(self, session, panel) -> None:
        def refresh(*_args) -> None:
            self.show(session.triage, panel.selected_cluster())
        session.events.triage.connect(refresh)
        session.events.reset.connect(refresh)

    @property
    def flying(self) -> bool:
        return self._fly.isActive()

    def show(self, triage, selected: int | None = None) -> None:
        self.triage = triage
        self.selected = selected
        self.redraw()

    def clear(self) -> None:
        self.show(None)

    def redraw(self) -> None:
        """Draw again (also after the view rebuilt its scene)."""
        plotter = self.view.plotter
        for name in self._names:
            plotter.remove_actor(name, render=False)
        self._names = []
        world = self.view.world
        if self.triage is None or world is None:
            self.view.request_render()
            return
        span = float(np.max(world.bounds_max - world.bounds_min))
        for decision, colour in DECISION_COLOUR.items():
            regions = [r for r in self.triage.regions if r.decision == decision]
            if not regions:
                continue
            rings = flags_mesh(world, [_Ball(r.representative.center, r.radius) for r in regions])
            name = f"finding_rings_{decision}"
            plotter.add_mesh(rings, color=colour, line_width=(4 if decision != REJECTED else 2) * self.scale,
                             pickable=False, name=name, reset_camera=False, render=False)
            self._names.append(name)
            pts = np.array([r.representative.center for r in regions], float)
            if world.is_terrain:
                pts[:, 2] += 0.04 * span
            labels = [str(self.triage.number(r.cluster)) for r in regions]
            name = f"finding_labels_{decision}"
            plotter.add_point_labels(pts, labels, font_size=int(16 * self.scale), text_color="white",
                                     shape_color=colour, shape_opacity=0.9, point_color=colour,
                                     point_size=8 * self.scale,
                                     always_visible=True, pickable=False, name=name, reset_camera=False,
                                     render=False)
            self._names += [f"{name}-points", f"{name}-labels"]     # pyvista names the two parts
        if self.selected is not None:
            try:
                r = self.triage.region(self.selected)
            except KeyError:
                r = None
            if r is not None:
                ring = flags_mesh(world, [_Ball(r.representative.center, r.radius * 1.08)])
                plotter.add_mesh(ring, color="#111111", line_width=6 * self.scale, pickable=False,
                                 name="finding_selected", reset_camera=False, render=False)
                self._names.append("finding_selected")
        self._draw_unremovable(plotter)
        self.view.request_render()

    def _draw_unremovable(self, plotter) -> None:
        """States the patch proved it cannot remove under the basin cap: black crosses,
        so a student sees what the flywheel leaves, and why (the status bar says it)."""
        report = self.triage.report
        stuck = [u for u in (list(report.unremovable) + list(report.unremovable_left)) if "state" in u]
        if not stuck:
            return
        import pyvista as pv
        pts = np.array([u["state"] for u in stuck], float)
        plotter.add_mesh(pv.PolyData(pts), color="black", point_size=14 * self.scale,
                         render_points_as_spheres=True, pickable=False, name="finding_unremovable",
                         reset_camera=False, render=False)
        self._names.append("finding_unremovable")

    def fly_to(self, point) -> None:
        """Move the camera's focal point to ``point`` over FLY_MS (orientation and
        distance kept); any mouse press or wheel in the view, or a camera reset, ends it."""
        cam = self.view.plotter.camera
        self._fly_from = (np.array(cam.focal_point, float), np.array(cam.position, float))
        self._fly_to = np.asarray(point, float)
        self._fly_t0 = time.perf_counter()
        self._fly.start()
        self._fly_step()

    def _fly_step(self) -> None:
        t = min(1.0, (time.perf_counter() - self._fly_t0) * 1000 / self.FLY_MS)
        e = t * t * (3 - 2 * t)                      # ease in and out
        focal0, pos0 = self._fly_from
        shift = (self._fly_to - focal0) * e
        cam = self.view.plotter.camera
        cam.focal_point = tuple(focal0 + shift)
        cam.position = tuple(pos0 + shift)
        self.view.plotter.renderer.ResetCameraClippingRange()
        self.view.request_render()
        if t >= 1.0:
            self._fly.stop()

    def eventFilter(self, obj, ev) -> bool:
        if self._fly.isActive() and ev.type() in (QEvent.Type.MouseButtonPress, QEvent.Type.Wheel):
            self._fly.stop()                          # the person takes the camera
        return False

    def stop(self) -> None:
        self._fly.stop()


class _Ball:
    """What ``flags_mesh`` needs of a flag: a centre and a radius."""
    __slots__ = ("center", "radius")

    def __init__(self, center, radius: float):
        self.center = center
        self.radius = radius
