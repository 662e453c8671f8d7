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

from explorer.viz import scene as sc
from explorer.viz.picking import grid_spacing, pick_along_ray

CLICK_SLOP = 5            # pixels (logical): more movement than this is a drag
FRAME_MS = 33             # at most ~30 frames per second


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
        self.plotter.installEventFilter(self)
        self.scene: sc.Scene | None = None
        self.world = None
        self.points: np.ndarray | None = None
        self.visible: np.ndarray | None = None
        self.overlays: dict = {}
        self.overlay_shown = {"expert": True, "goals": True, "hazards": True, "boundary": True,
                              "slice": False, "iso": False}
        self.volume = None          # optional slice plane / isosurface (volume worlds)
        self.slice_z = None
        self.reverse = False
        self._press: QPointF | None = None
        self._press_global = QPointF()
        self._press_mods = Qt.KeyboardModifier.NoModifier
        self._dragged = False
        self._pending: tuple[np.ndarray, str] | None = None
        self._dirty = False
        self.frames = 0
        self._last_frame = 0.0
        self._stopped = False
        # A frame is drawn as soon as something changed, but at most every FRAME_MS.
        self._frame = QTimer(self)
        self._frame.setSingleShot(True)
        self._frame.timeout.connect(self._on_frame)

    # ---- scene ------------------------------------------------------------
    def build(self, world, points: np.ndarray, values: np.ndarray, flags, mode: str = "reward",
              reset_camera: bool = True) -> None:
        """(Re)build the whole scene for a world; later changes go through show_values."""
        same_world = self.world is world
        camera = self.plotter.camera_position if same_world and not reset_camera else None
        self.plotter.clear()
        self.world = world
        self.points = np.asarray(points)
        self.scene = sc.add_landscape(self.plotter, world, self.points, np.nan_to_num(values),
                                      reverse=self.reverse)
        self.overlays = sc.add_overlays(self.plotter, world, self.overlay_shown)
        self.volume = sc.add_volume_overlays(self.plotter, world, np.nan_to_num(values), self.reverse,
                                             show_slice=self.overlay_shown["slice"],
                                             show_iso=self.overlay_shown["iso"])
        if self.volume is not None:
            self.overlays["slice"] = [self.volume.slice_actor]
            self.overlays["iso"] = [self.volume.iso_actor]
            self.slice_z = float((world.bounds_min[2] + world.bounds_max[2]) / 2)
        sc.set_flags(self.plotter, world, flags)
        self._pending = None
        self._apply(values, mode)
        if camera is not None:
            self.plotter.camera_position = camera
        else:
            sc.default_camera(self.plotter, world)
        self.request_render()

    def show_values(self, values: np.ndarray, mode: str = "reward") -> None:
        """Show these grid values at the next frame (only the newest are drawn)."""
        self._pending = (values, mode)
        self._schedule()

    def apply_now(self, values: np.ndarray, mode: str = "reward") -> None:
        self._pending = None
        self._apply(values, mode)
        self.request_render()

    def _apply(self, values: np.ndarray, mode: str) -> None:
        if self.scene is None:
            return
        if mode != self.scene.mode:
            sc.set_colouring(self.scene, mode, self.reverse)
        sc.update_reward(self.scene, values)
        if mode != "difference":
            sc.update_volume(self.volume, self.world, values)   # live pipeline: no re-add
        if self.world.is_terrain:
            self.visible = np.ones(len(values), dtype=bool)
        elif mode == "difference":
            self.visible = np.isfinite(values)
        else:
            self.visible = np.asarray(values) > self.world.floor
        self._dirty = True

    def set_reverse(self, reverse: bool) -> None:
        self.reverse = reverse
        if self.scene is not None:
            sc.set_colouring(self.scene, self.scene.mode, reverse)
            self.request_render()

    def set_overlay(self, key: str, shown: bool) -> None:
        self.overlay_shown[key] = shown
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
        if self.world is not None:
            sc.set_flags(self.plotter, self.world, flags)
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
        wait = FRAME_MS - 1000 * (time.perf_counter() - self._last_frame)
        self._frame.start(max(0, int(wait)))

    def _on_frame(self) -> None:
        if self._pending is not None:
            values, mode = self._pending
            self._pending = None
            self._apply(values, mode)
        if self._dirty:
            self._dirty = False
            self.frames += 1
            self._last_frame = time.perf_counter()
            self.plotter.update()          # one paintGL = one VTK render, coalesced by Qt
            self.frameDrawn.emit()

    def render_now(self) -> None:
        """Draw synchronously (tests, screenshots, measurements)."""
        if self._pending is not None:
            values, mode = self._pending
            self._pending = None
            self._apply(values, mode)
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
        """Index of the front-most visible grid cell under (x, y), or None."""
        if self.points is None or self.visible is None or self.world is None:
            return None
        origin, direction = self.ray(x, y)
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
