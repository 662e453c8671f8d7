"""The 3D view: a pyvistaqt ``QtInteractor`` showing a landscape, with clicks
that place flags and drags that rotate, and throttled in-place updates.

* Click vs drag: an event filter on the interactor widget holds the left
  button's press back from VTK; a release within ``CLICK_SLOP`` pixels is a
  click (emitted as ``clicked(x, y, modifiers)``; VTK never saw it), a move
  beyond it hands VTK the press and the drag rotates the camera as usual and
  never places a flag.
* Picking: the click becomes a world-space ray through the renderer
  (display -> world at the near and far planes) and ``pick_along_ray`` takes the
  front-most *visible* grid cell near it, so a pick never lands on a hidden cell
  behind the cloud.
* Rendering: nothing renders at once. ``show_values`` stores the newest values
  and ``request_render`` marks the view dirty; a frame timer (<= 30 fps) writes
  the latest values into the mesh and asks Qt for one repaint, at once if the
  last frame is older than ``FRAME_MS``, else when it is. Only the GUI
  thread ever touches the plotter.
"""
from __future__ import annotations

import time

import numpy as np
from PyQt6.QtCore import QEvent, QObject, QPointF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtWidgets import QVBoxLayout, QWidget
from pyvistaqt import QtInteractor

from explorer.viz import legend as lg
from explorer.viz import marks as mk
from explorer.viz import scene as sc
from explorer.viz.picking import grid_spacing, pick_along_ray, pick_on_slice

CLICK_SLOP = 5            # pixels (logical): more movement than this is a drag
FRAME_MS = 33             # at most ~30 frames per second
# While a job runs, at most ~6 frames a second: on a software rasteriser each frame
# takes a core for 30-100 ms, which the job's worker needs (measured: a data-driven
# refinement took 2.7x as long in the window as headless at 30 fps, ~1.1x without
# frames); six frames a second still show the landscape changing.
JOB_FRAME_MS = 160


class LandscapeView(QWidget):
    clicked = pyqtSignal(float, float, object)      # x, y (logical px in the plotter), modifiers
    frameDrawn = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plotter = QtInteractor(self, auto_update=False)
        self.software_gl = _software_gl(self.plotter)
        if self.software_gl:
            # 4x MSAA nearly doubles the frame time of a software rasteriser
            # (llvmpipe: ~50 -> ~28 ms a frame on the cube); GPUs keep it.
            self.plotter.ren_win.SetMultiSamples(0)
        self.plotter.set_background("white")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plotter)
        # pyvista binds keys ('q' closes the plotter, 'v', 'b', ...); the window's
        # own shortcuts are the only keys the 3D view answers.
        self.plotter.clear_events_for_key("q")
        self.plotter.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.plotter.installEventFilter(self)
        self.scene: sc.Scene | None = None
        self.world = None
        self.points: np.ndarray | None = None
        self.visible: np.ndarray | None = None
        self.overlays: dict = {}
        self.overlay_shown = {"expert": True, "goals": True, "hazards": True, "boundary": True,
                              "slice": False, "iso": False, "flaws": False, "ghosts": True}
        self.volume = None          # optional slice plane / isosurface (volume worlds)
        self.marks: mk.Marks | None = None     # flaw overlay and ghosted cells
        self.violates: np.ndarray | None = None
        self.presenter = False
        self.has_model = False      # False: only the world and its expert data are drawn
        self.slice_z = None
        self.reverse = False
        self._press: QPointF | None = None
        self._press_global = QPointF()
        self._press_mods = Qt.KeyboardModifier.NoModifier
        self._dragged = False
        self._pending: tuple[np.ndarray, str, np.ndarray | None] | None = None
        self._dirty = False
        self.frames = 0
        self._last_frame = 0.0
        self._stopped = False
        self.frame_ms = FRAME_MS
        self._flags = ()
        self._last: tuple = (None, "reward", None)
        # A frame is drawn as soon as something changed, but at most every FRAME_MS.
        self._frame = QTimer(self)
        self._frame.setSingleShot(True)
        self._frame.timeout.connect(self._on_frame)

    # ---- scene ------------------------------------------------------------
    def build(self, world, points: np.ndarray, values: np.ndarray | None, flags, mode: str = "reward",
              reset_camera: bool = True, violates: np.ndarray | None = None,
              before: np.ndarray | None = None) -> None:
        """(Re)build the whole scene for a world; later changes go through show_values.
        ``values`` None draws the world and its expert data only (no model yet):
        the landscape's cells wait, invisible, for the first values."""
        same_world = self.world is world
        camera = self.plotter.camera_position if same_world and not reset_camera else None
        self.plotter.clear()
        self.world = world
        self.points = np.asarray(points)
        self.violates = violates
        self.has_model = values is not None
        vals = np.full(len(self.points), np.nan, np.float32) if values is None else np.nan_to_num(values)
        self.scene = sc.add_landscape(self.plotter, world, self.points, vals, reverse=self.reverse,
                                      legend=True, presenter=self.presenter)
        self.overlays = sc.add_overlays(self.plotter, world, self.overlay_shown, scale=self.scene.scale)
        self.volume = sc.add_volume_overlays(self.plotter, world, np.nan_to_num(vals), self.reverse,
                                             show_slice=self.overlay_shown["slice"],
                                             show_iso=self.overlay_shown["iso"])
        if self.volume is not None:
            self.overlays["slice"] = [self.volume.slice_actor]
            self.overlays["iso"] = [self.volume.iso_actor]
            if self.slice_z is None or not same_world:
                self.slice_z = float((world.bounds_min[2] + world.bounds_max[2]) / 2)
            sc.set_slice_height(self.volume, self.slice_z)
        self.marks = mk.add_marks(self.plotter, world, self.points, self.scene.scale,
                                  flaws_shown=self.overlay_shown["flaws"])
        mk.set_ghosts_shown(self.marks, self.overlay_shown["ghosts"])
        sc.set_flags(self.plotter, world, flags, scale=self.scene.scale)
        self._flags = flags
        self._pending = None
        self._apply(vals, mode, before)
        if camera is not None:
            self.plotter.camera_position = camera
        else:
            sc.default_camera(self.plotter, world)
        self._layout_legend()
        self.request_render()

    def show_values(self, values: np.ndarray, mode: str = "reward", before: np.ndarray | None = None) -> None:
        """Show these grid values at the next frame (only the newest are drawn);
        ``before``: the reference that ghosted cells are measured from."""
        self._pending = (values, mode, before)
        self._schedule()

    def apply_now(self, values: np.ndarray, mode: str = "reward", before: np.ndarray | None = None) -> None:
        self._pending = None
        self._apply(values, mode, before)
        self.request_render()

    def _apply(self, values: np.ndarray, mode: str, before: np.ndarray | None = None) -> None:
        if self.scene is None:
            return
        if mode != self.scene.mode:
            sc.set_colouring(self.scene, mode, self.reverse)
        self._last = (values, mode, before)
        if mode != "difference" and (self.has_model or np.isfinite(values).any()):
            mk.update(self.marks, values, self.violates, before)
        flawed = self.marks.flawed if self.marks is not None and self.overlay_shown["flaws"] else None
        sc.update_reward(self.scene, values, flawed if mode != "difference" else None)
        if mode != "difference":
            sc.update_volume(self.volume, self.world, values)   # live pipeline: no re-add
        if self.world.is_terrain:
            self.visible = np.ones(len(values), dtype=bool)
        elif mode == "difference":
            self.visible = np.isfinite(values)
        else:
            self.visible = np.asarray(values) > self.world.floor
        self._update_legend_marks()
        self._dirty = True

    def _update_legend_marks(self) -> None:
        legend = self.scene.legend if self.scene is not None else None
        if legend is None:
            return
        text = mk.legend_lines(self.marks) if self.scene.mode != "difference" else ""
        if text != (legend.marks.GetInput() or ""):
            lg.set_marks(legend, text)
            self._layout_legend()

    def _layout_legend(self) -> None:
        legend = self.scene.legend if self.scene is not None else None
        if legend is not None:
            dpr = self.plotter.devicePixelRatioF()
            lg.layout(legend, int(self.plotter.width() * dpr), int(self.plotter.height() * dpr))

    def resizeEvent(self, ev) -> None:  # noqa: N802
        super().resizeEvent(ev)
        self._layout_legend()

    def set_highlight(self, colour: str | None) -> None:
        """An outline around the whole 3D view (a tour step about it), or none."""
        lay = self.layout()
        if colour:
            lay.setContentsMargins(4, 4, 4, 4)
            self.setStyleSheet(f"LandscapeView {{ background: {colour}; }}")
            self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        else:
            lay.setContentsMargins(0, 0, 0, 0)
            self.setStyleSheet("")

    def set_presenter(self, on: bool) -> None:
        """Larger points, lines and legend text (a projector); the scene is rebuilt in place."""
        if on == self.presenter:
            return
        self.presenter = on
        if self.scene is not None:
            legend = self.scene.legend
            if legend is not None:
                lg.set_presenter(legend, on)
            values, mode, before = self._last
            self.build(self.world, self.points, values if self.has_model else None, self._flags, mode,
                       reset_camera=False, violates=self.violates, before=before)

    def set_reverse(self, reverse: bool) -> None:
        self.reverse = reverse
        if self.scene is not None:
            sc.set_colouring(self.scene, self.scene.mode, reverse)
            self.request_render()

    def set_overlay(self, key: str, shown: bool) -> None:
        self.overlay_shown[key] = shown
        if key == "flaws":
            mk.set_flaws_shown(self.marks, shown)
            values, mode, before = self._last
            if values is not None:
                self._apply(values, mode, before)       # the red ramp on or off
            self._update_legend_marks()
        elif key == "ghosts":
            mk.set_ghosts_shown(self.marks, shown)
            self._update_legend_marks()
        for actor in self.overlays.get(key, []):
            actor.SetVisibility(shown)
        self.request_render()

    def move_slice(self, steps: int) -> None:
        """Move the slice plane by whole grid steps (PgUp / PgDn)."""
        if self.volume is None or self.world is None:
            return
        lo, hi = float(self.world.bounds_min[2]), float(self.world.bounds_max[2])
        step = (hi - lo) / max(self.world.resolution - 1, 1)
        self.slice_z = min(hi, max(lo, self.slice_z + steps * step))
        sc.set_slice_height(self.volume, self.slice_z)
        self.request_render()

    def set_flags(self, flags) -> None:
        self._flags = flags
        if self.world is not None:
            sc.set_flags(self.plotter, self.world, flags, scale=self.scene.scale if self.scene else 1.0)
            self.request_render()

    def reset_camera(self) -> None:
        if self.world is not None:
            sc.default_camera(self.plotter, self.world)
            self.request_render()

    def top_view(self) -> None:
        sc.top_view(self.plotter)
        self.request_render()

    def screenshot(self, path: str, scale: int = 1) -> None:
        self.plotter.screenshot(path, scale=scale)

    # ---- rendering --------------------------------------------------------
    def request_render(self) -> None:
        self._dirty = True
        self._schedule()

    def _schedule(self) -> None:
        if self._stopped or self._frame.isActive():
            return
        wait = self.frame_ms - 1000 * (time.perf_counter() - self._last_frame)
        self._frame.start(max(0, int(wait)))

    def _on_frame(self) -> None:
        if self._pending is not None:
            values, mode, before = self._pending
            self._pending = None
            self._apply(values, mode, before)
        if self._dirty:
            self._dirty = False
            self.frames += 1
            self._last_frame = time.perf_counter()
            self.plotter.update()          # one paintGL = one VTK render, coalesced by Qt
            self.frameDrawn.emit()

    def render_now(self) -> None:
        """Draw synchronously (tests, screenshots, measurements)."""
        if self._pending is not None:
            values, mode, before = self._pending
            self._pending = None
            self._apply(values, mode, before)
        self._dirty = False
        self.plotter.render()

    def stop(self) -> None:
        self._stopped = True
        self._frame.stop()

    # ---- clicks and picking ---------------------------------------------------
    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:  # noqa: N802
        """Left button: VTK sees the press only once the mouse has moved beyond
        CLICK_SLOP (then it rotates/pans from the original press position); a
        release before that is a click, which VTK never sees, so a click costs no
        camera render and can never nudge the camera."""
        t = ev.type()
        if t == QEvent.Type.MouseButtonPress:
            # The view takes the keyboard when clicked: keys then go to it (and the
            # window's shortcuts), never to a checkbox or button focused earlier.
            self.plotter.setFocus(Qt.FocusReason.MouseFocusReason)
        if t in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick) \
                and ev.button() == Qt.MouseButton.LeftButton:
            self._press = QPointF(ev.position())
            self._press_global = QPointF(ev.globalPosition())
            self._press_mods = ev.modifiers()
            self._dragged = False
            return True
        if t == QEvent.Type.MouseMove and self._press is not None and not self._dragged:
            if (ev.position() - self._press).manhattanLength() > CLICK_SLOP:
                self._dragged = True
                press = QMouseEvent(QEvent.Type.MouseButtonPress, self._press, self._press_global,
                                    Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton,
                                    self._press_mods)
                self.plotter.mousePressEvent(press)      # the drag starts where the button went down
            return False
        if t == QEvent.Type.MouseButtonRelease and ev.button() == Qt.MouseButton.LeftButton \
                and self._press is not None:
            press, self._press = self._press, None
            if self._dragged:
                return False                             # VTK ends its rotation
            pos = QPointF(ev.position())
            mods = self._press_mods | ev.modifiers()
            QTimer.singleShot(0, lambda: self.clicked.emit(pos.x(), pos.y(), mods))
            return True
        if t in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return True     # VTK's and pyvista's key bindings (q = close, e = exit, ...) stay off
        return False

    def ray(self, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
        """World-space ray through a point given in the plotter's logical (Qt) pixels."""
        dpr = self.plotter.devicePixelRatioF()
        dx = x * dpr
        dy = (self.plotter.height() - y - 1) * dpr      # VTK's y points up, in device pixels
        ren = self.plotter.renderer
        ends = []
        for z in (0.0, 1.0):
            ren.SetDisplayPoint(dx, dy, z)
            ren.DisplayToWorld()
            p = np.array(ren.GetWorldPoint(), dtype=float)
            ends.append(p[:3] / p[3] if p[3] else p[:3])
        return ends[0], ends[1] - ends[0]

    def project(self, point) -> tuple[float, float]:
        """A world point's position in the plotter's logical (Qt) pixels."""
        ren = self.plotter.renderer
        ren.SetWorldPoint(float(point[0]), float(point[1]), float(point[2]), 1.0)
        ren.WorldToDisplay()
        dx, dy, _ = ren.GetDisplayPoint()
        dpr = self.plotter.devicePixelRatioF()
        return dx / dpr, self.plotter.height() - 1 - dy / dpr

    def pick(self, x: float, y: float) -> int | None:
        """Index of the grid cell under (x, y), or None: with the slice plane shown, the
        cell of the plane under the cursor (so interior cells can be flagged: PgUp/PgDn
        move the plane), else the front-most visible cell."""
        if self.points is None or self.visible is None or self.world is None:
            return None
        origin, direction = self.ray(x, y)
        if self.volume is not None and self.overlay_shown.get("slice") and self.slice_z is not None:
            idx = pick_on_slice(self.world, self.points, origin, direction, self.slice_z)
            if idx is not None:
                return idx
        tol = 0.75 * grid_spacing(self.world)
        return pick_along_ray(self.points, self.visible, origin, direction, tol)


def _software_gl(plotter) -> bool:
    """True when OpenGL is a software rasteriser (Mesa llvmpipe/softpipe, e.g. under Xvfb)."""
    try:
        caps = plotter.ren_win.ReportCapabilities() or ""
    except Exception:  # noqa: BLE001 -- no GL info: assume hardware
        return False
    for line in caps.splitlines():
        if "renderer string" in line.lower():
            return any(k in line.lower() for k in ("llvmpipe", "softpipe", "swrast", "software"))
    return False
