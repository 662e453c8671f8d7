"""The alignment-collapse lesson: myopic RLHF next to foresighted policy optimisation
(FPO) in one world, round by round (arXiv 2605.04266; ``docs/collapse.md``).

Two 3D views side by side show, for each arm, the reward model's landscape at the
round picked on the slider (written into the mesh in place) and the path of the
policy's mean up to that round; a plot below shows true utility (solid) and the
proxy reward the policy chased (dashed), plus the distractors it grew, over the
rounds for both arms, with the slider's round marked. "linear" is the authors'
linear environment: no world to draw, only the plot, next to the published figures.

The runs are computed by ``explorer.lessons.collapse`` in a worker thread (``JobRunner``);
the views are only touched in the GUI thread.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np
import pyvista as pv
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PyQt6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QMainWindow, QPushButton, QSizePolicy,
                             QSlider, QSpinBox, QVBoxLayout, QWidget)
from pyvistaqt import QtInteractor

from explorer.viz import scene as sc

from ..jobs import JobRunner
from . import explanation_box

WORLDS = ("cube", "ridge", "twin-goals", "canyon", "linear")
ARM_NAMES = {"myopic": "Myopic RLHF", "relaxed": "FPO-relaxed", "practical": "FPO-practical"}
ARM_COLOURS = {"myopic": "#d7191c", "relaxed": "#2c7bb6", "practical": "#1a9850"}
UTILITY_MAX = 10.0           # U = 10 exp(-0.3 d^2): the colour scale and the plot's y axis
SHOWN_FRACTION = 0.15        # a volume shows the RM's top 15% cells at each round

EXPLANATION = (
    "<b>Alignment collapse.</b> In iterative RLHF the policy makes the data its reward model "
    "(RM) is retrained on. <b>What to watch</b> (press <i>Run</i>, then move the round slider): "
    "under <span style='color:#d7191c'><b>myopic RLHF</b></span> the <b>true utility</b> (solid) "
    "rises, then <b>falls</b>, while the <b>proxy reward</b> the policy chases (dashed) keeps up "
    "with it and the off-target <b>distractors</b> (lower panel) grow: retraining on the policy's "
    "own samples reinforces the RM's blind spot. "
    "<span style='color:#2c7bb6'><b>FPO</b></span> penalises steering the RM's parameters and "
    "keeps the true utility high. In the views: the RM's landscape at that round "
    "(purple = high; the same 0&ndash;10 scale as the plot) and the policy's path so far "
    "(black, start = grey ball, now = red ball); goals are green.")
LINEAR_NOTE = (
    "<b>Linear environment</b> (the authors' setup, seed 0, 300 iterations, &lambda; = 0.1): "
    "there is no world to draw. Hollow circles are the published figures.")


@dataclass
class ArmRun:
    arm: str
    rounds: np.ndarray                    # 0..R
    true_utility: np.ndarray              # mean over seeds
    proxy_reward: np.ndarray
    noise_norm: np.ndarray
    seeds: int
    positions: np.ndarray | None = None   # first seed's policy mean (R + 1, 3)
    landscape_rounds: np.ndarray | None = None
    landscapes: np.ndarray | None = None  # first seed's RM on the grid (snapshots, N)


@dataclass
class LessonResult:
    world_name: str
    world: object | None                  # None for "linear"
    arms: dict = field(default_factory=dict)
    published: dict | None = None


def snapshot_rounds(rounds: int, count: int = 30) -> list[int]:
    return sorted({int(round(r)) for r in np.linspace(0, rounds, min(rounds, count) + 1)})


def compute(world_name: str, rounds: int, seeds: int, stop: threading.Event, arms=None):
    """Generator (runs in the worker): yields (done, total, text), returns a LessonResult
    (None when stopped)."""
    from explorer.lessons import collapse
    arms = tuple(arms or collapse.ARMS)
    if world_name == "linear":
        out = LessonResult("linear", None, published=collapse.PUBLISHED_LINEAR)
        for i, arm in enumerate(arms):
            if stop.is_set():
                return None
            r = collapse.run_linear(arm, iterations=rounds, seed=0)
            out.arms[arm] = ArmRun(arm, np.arange(rounds + 1), r["true_utility"], r["proxy_reward"],
                                   r["noise_norm"], 1)
            yield (i + 1, len(arms), f"{ARM_NAMES[arm]} done")
        return out
    import worlds
    world = worlds.load(world_name)
    snaps = snapshot_rounds(rounds)
    out = LessonResult(world_name, world)
    total, done = len(arms) * seeds, 0
    for arm in arms:
        runs = []
        for s in range(seeds):
            if stop.is_set():
                return None
            runs.append(collapse.run_world(world, arm, rounds=rounds, seed=s,
                                           snapshot_rounds=snaps if s == 0 else [rounds]))
            done += 1
            yield (done, total, f"{ARM_NAMES[arm]}, seed {s}")
        first = runs[0]
        out.arms[arm] = ArmRun(
            arm, np.arange(rounds + 1),
            *(np.mean([r[k] for r in runs], axis=0) for k in ("true_utility", "proxy_reward", "noise_norm")),
            seeds, np.asarray(first["positions"], float), np.asarray(first["landscape_rounds"], int),
            np.asarray(first["landscapes"], np.float32))
    return out


# ============================================================== the 3D views
class ArmView(QWidget):
    """One arm: the RM landscape at a round (updated in place) and the policy's path."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel()
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        f = self.title.font()
        f.setBold(True)
        self.title.setFont(f)
        self.plotter = QtInteractor(self, auto_update=False)
        self.plotter.set_background("white")
        self.plotter.clear_events_for_key("q")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.title)
        lay.addWidget(self.plotter, 1)
        self.scene: sc.Scene | None = None
        self.world = None
        self.run: ArmRun | None = None
        self.path_mesh: pv.PolyData | None = None
        self.round = 0
        self.setMinimumSize(QSize(320, 260))

    def build(self, world, run: ArmRun) -> None:
        """A new world or arm: rebuild the scene (landscape at round 0)."""
        self.plotter.clear()
        self.world, self.run = world, run
        self.title.setText(ARM_NAMES[run.arm])
        self.title.setStyleSheet(f"color: {ARM_COLOURS[run.arm]}")
        points = world.grid().points
        values = self.values_at(0)
        mesh = sc.landscape_mesh(world, points, values)
        lut = pv.LookupTable(cmap="viridis_r")
        lut.scalar_range = (0.0, UTILITY_MAX)
        lut.SetNanColor(1.0, 1.0, 1.0, 0.0)          # a volume's hidden cells
        bar = {"title": "reward model\n(yellow = low\npurple = high)", "n_labels": 6, "fmt": "%.0f",
               "vertical": True, "position_x": 0.84, "position_y": 0.1, "width": 0.06, "height": 0.55,
               "color": "black", "title_font_size": 12, "label_font_size": 11, "interactive": False}
        if world.is_terrain:
            actor = self.plotter.add_mesh(mesh, scalars="reward", cmap=lut, clim=(0.0, UTILITY_MAX),
                                          scalar_bar_args=bar, smooth_shading=True, name="landscape",
                                          pickable=False, render=False)
        else:
            actor = self.plotter.add_mesh(mesh, scalars="reward", cmap=lut, clim=(0.0, UTILITY_MAX),
                                          render_points_as_spheres=True,
                                          point_size=max(3.0, 110.0 / world.resolution), opacity=0.55,
                                          nan_opacity=0.0, scalar_bar_args=bar, name="landscape",
                                          pickable=False, render=False)
        self.scene = sc.Scene(world, mesh, actor)
        overlays = sc.add_overlays(self.plotter, world, {"expert": False, "hazards": True, "boundary": False})
        for a in overlays.get("expert", []):
            self.plotter.remove_actor(a, render=False)
        if not world.is_terrain:
            box = pv.Box(bounds=np.ravel(np.column_stack([world.bounds_min, world.bounds_max])))
            self.plotter.add_mesh(box.outline(), color="#909090", line_width=1, name="bounds",
                                  pickable=False, render=False)
        self.path_mesh = None
        self.round = -1
        sc.default_camera(self.plotter, world)
        self.set_round(0)

    def values_at(self, index: int) -> np.ndarray:
        """The landscape snapshot ``index``; a volume hides all but its top cells (NaN)."""
        v = np.asarray(self.run.landscapes[index], np.float32).copy()
        if not self.world.is_terrain:
            v[v < np.quantile(v, 1.0 - SHOWN_FRACTION)] = np.nan
        return v

    def set_round(self, index: int) -> None:
        """Show snapshot ``index``: the landscape in place, the path up to its round."""
        if self.scene is None or self.run is None:
            return
        index = int(np.clip(index, 0, len(self.run.landscape_rounds) - 1))
        sc.update_reward(self.scene, self.values_at(index))
        self.round = int(self.run.landscape_rounds[index])
        pts = np.asarray(self.run.positions[: self.round + 1], float)
        if self.world.is_terrain:
            pts = pts + [0, 0, 0.03 * float(np.max(self.world.bounds_max - self.world.bounds_min))]
        if len(pts) < 2:
            pts = np.vstack([pts, pts + 1e-6])
        self.path_mesh = pv.lines_from_points(pts)
        span = float(np.max(self.world.bounds_max - self.world.bounds_min))
        self.plotter.add_mesh(self.path_mesh, color="black", line_width=5, name="path", pickable=False,
                              reset_camera=False, render=False)
        self.plotter.add_mesh(pv.Sphere(radius=0.025 * span, center=pts[0]), color="#b0b0b0",
                              name="path_start", pickable=False, reset_camera=False, render=False)
        self.plotter.add_mesh(pv.Sphere(radius=0.03 * span, center=pts[-1]), color="red",
                              name="path_now", pickable=False, reset_camera=False, render=False)
        self.plotter.render()

    def close_view(self) -> None:
        self.plotter.close()


# ================================================================= the plot
class CollapsePlot(QWidget):
    """True utility (solid) and proxy reward (dashed) over rounds for each arm, the
    distractors below, the current round marked (QPainter; no plotting library)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.series: dict[str, ArmRun] = {}
        self.published: dict | None = None
        self.marker: int | None = None
        self.setMinimumHeight(230)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("Solid: true utility U at the policy. Dashed: the proxy reward the policy "
                        "chased (the RM's score before retraining). Lower panel: distractors |z|.")

    def set_series(self, arms: dict, published: dict | None = None) -> None:
        self.series = dict(arms)
        self.published = published
        self.update()

    def set_marker(self, rnd: int | None) -> None:
        self.marker = rnd
        self.update()

    def sizeHint(self):  # noqa: N802
        return QSize(900, 260)

    def paintEvent(self, _ev) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("white"))
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        p.setFont(font)
        if not self.series:
            p.setPen(QColor("#808080"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "press Run to compute both arms")
            p.end()
            return
        left, right, top = 44.0, 150.0, 8.0
        w, h = self.width(), self.height()
        plot_w = w - left - right
        main = QRectF(left, top, plot_w, (h - top - 34) * 0.70)
        low = QRectF(left, main.bottom() + 12, plot_w, (h - top - 34) * 0.30 - 12)
        n = max(len(r.rounds) for r in self.series.values()) - 1
        y_max = max(UTILITY_MAX, max(float(np.nanmax(r.proxy_reward)) for r in self.series.values()))
        z_max = max(1e-6, max(float(np.nanmax(r.noise_norm)) for r in self.series.values())) * 1.1

        def x(t: float) -> float:
            return main.left() + main.width() * t / max(1, n)

        def frame(rect: QRectF, vmax: float, ticks, label: str) -> None:
            p.setPen(QPen(QColor("#e6e6e6"), 1))
            for v in ticks:
                yy = rect.bottom() - rect.height() * v / vmax
                p.drawLine(QPointF(rect.left(), yy), QPointF(rect.right(), yy))
            p.setPen(QColor("#606060"))
            for v in ticks:
                yy = rect.bottom() - rect.height() * v / vmax
                p.drawText(QRectF(0, yy - 8, left - 4, 16),
                           Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{v:g}")
            p.drawRect(rect)
            p.save()
            p.translate(10, rect.center().y())
            p.rotate(-90)
            p.drawText(QRectF(-rect.height() / 2, -8, rect.height(), 16), Qt.AlignmentFlag.AlignCenter, label)
            p.restore()

        frame(main, y_max, [0, 2, 4, 6, 8, 10], "utility / reward")
        z_tick = 0.5 if z_max > 0.6 else 0.1
        frame(low, z_max, [z_tick * i for i in range(int(z_max / z_tick) + 1)], "distr.")

        def curve(rect: QRectF, vmax: float, values, colour: str, style) -> None:
            path = QPainterPath()
            for t, v in enumerate(values):
                pt = QPointF(x(t), rect.bottom() - rect.height() * min(float(v), vmax) / vmax)
                path.moveTo(pt) if t == 0 else path.lineTo(pt)
            pen = QPen(QColor(colour), 2)
            pen.setStyle(style)
            p.setPen(pen)
            p.drawPath(path)

        for arm, run in self.series.items():
            c = ARM_COLOURS[arm]
            curve(main, y_max, run.proxy_reward, c, Qt.PenStyle.DashLine)
            curve(main, y_max, run.true_utility, c, Qt.PenStyle.SolidLine)
            curve(low, z_max, run.noise_norm, c, Qt.PenStyle.SolidLine)
        if self.published:
            p.setBrush(Qt.BrushStyle.NoBrush)
            for arm, figs in self.published.items():
                if arm not in self.series:
                    continue
                p.setPen(QPen(QColor(ARM_COLOURS[arm]), 2))
                pts = [(n, figs.get("final_utility"))]
                if "peak_utility" in figs:
                    pts.append((figs.get("peak_iteration", 0), figs["peak_utility"]))
                for t, v in pts:
                    if v is not None and t <= n:
                        p.drawEllipse(QPointF(x(t), main.bottom() - main.height() * v / y_max), 6, 6)
                if "final_noise" in figs and n >= 1:
                    p.drawEllipse(QPointF(x(n), low.bottom() - low.height() * figs["final_noise"] / z_max), 5, 5)
        # x axis
        p.setPen(QColor("#606060"))
        step = 10 ** max(0, int(math.log10(max(1, n))))
        if n / step < 4:
            step = max(1, step // 2)
        if n / step > 8:
            step *= 5 if n / step > 20 else 2
        for t in range(0, n + 1, step):
            p.drawText(QRectF(x(t) - 20, low.bottom() + 2, 40, 16), Qt.AlignmentFlag.AlignCenter, str(t))
        p.drawText(QRectF(left, low.bottom() + 16, plot_w, 16), Qt.AlignmentFlag.AlignCenter, "round")
        if self.marker is not None:
            pen = QPen(QColor("#404040"), 1)
            pen.setStyle(Qt.PenStyle.DotLine)
            p.setPen(pen)
            xm = x(min(self.marker, n))
            p.drawLine(QPointF(xm, main.top()), QPointF(xm, low.bottom()))
        # legend, with each arm's value at the marked round
        lx, ly = w - right + 10, top + 4
        t = n if self.marker is None else min(self.marker, n)
        for arm, run in self.series.items():
            c = QColor(ARM_COLOURS[arm])
            p.setPen(QPen(c, 2))
            p.drawLine(QPointF(lx, ly + 8), QPointF(lx + 18, ly + 8))
            f2 = QFont(font)
            f2.setBold(True)
            p.setFont(f2)
            p.drawText(QRectF(lx + 22, ly, right - 32, 16), Qt.AlignmentFlag.AlignVCenter, ARM_NAMES[arm])
            p.setFont(font)
            p.setPen(QColor("#303030"))
            p.drawText(QRectF(lx + 22, ly + 15, right - 32, 16), Qt.AlignmentFlag.AlignVCenter,
                       f"U {run.true_utility[t]:.2f}  proxy {run.proxy_reward[t]:.2f}")
            p.drawText(QRectF(lx + 22, ly + 29, right - 32, 16), Qt.AlignmentFlag.AlignVCenter,
                       f"distractors {run.noise_norm[t]:.2f}")
            ly += 50
        p.setPen(QColor("#303030"))
        pen = QPen(QColor("#303030"), 2)
        p.setPen(pen)
        p.drawLine(QPointF(lx, ly + 8), QPointF(lx + 18, ly + 8))
        p.drawText(QRectF(lx + 22, ly, right - 26, 16), Qt.AlignmentFlag.AlignVCenter, "true utility")
        pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawLine(QPointF(lx, ly + 24), QPointF(lx + 18, ly + 24))
        p.drawText(QRectF(lx + 22, ly + 16, right - 26, 16), Qt.AlignmentFlag.AlignVCenter, "proxy reward")
        if self.published:
            p.setPen(QPen(QColor("#303030"), 2))
            p.drawEllipse(QPointF(lx + 9, ly + 40), 5, 5)
            p.drawText(QRectF(lx + 22, ly + 32, right - 26, 16), Qt.AlignmentFlag.AlignVCenter, "published")
        p.end()


# ================================================================ the window
class CollapseLesson(QMainWindow):
    """Lessons > Alignment collapse: the lesson's own window (non-modal)."""

    runDone = pyqtSignal(bool)          # True: a result is shown; False: failed or stopped

    def __init__(self, initial_world: str | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Lesson: alignment collapse (myopic RLHF vs FPO)")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.is_closed = False
        self.result: LessonResult | None = None
        self.error: Exception | None = None
        self.jobs = JobRunner(self)
        self.jobs.snapshot.connect(self._on_progress)
        self.jobs.succeeded.connect(self._on_done)
        self.jobs.failed.connect(self._on_failed)
        self.jobs.finished.connect(lambda _k: self._sync())

        central = QWidget(self)
        self.setCentralWidget(central)
        lay = QVBoxLayout(central)
        self.explain = explanation_box(EXPLANATION)
        lay.addWidget(self.explain)

        row = QHBoxLayout()
        lay.addLayout(row)
        self.world_combo = QComboBox()
        for name in WORLDS:
            self.world_combo.addItem(name if name != "linear" else "linear (the authors' figure)", name)
        if initial_world in WORLDS:
            self.world_combo.setCurrentIndex(WORLDS.index(initial_world))
        self.world_combo.setToolTip("The world to run both arms in; 'linear' is the authors' "
                                    "50-dimensional environment (plot only)")
        self.arm_combo = QComboBox()
        for arm in ("relaxed", "practical"):
            self.arm_combo.addItem(ARM_NAMES[arm], arm)
        self.arm_combo.setToolTip("Right-hand view: FPO-relaxed uses the utility oracle; "
                                  "FPO-practical (e = 1) does not")
        self.arm_combo.currentIndexChanged.connect(lambda _i: self._show_result())
        self.rounds_spin = QSpinBox()
        self.rounds_spin.setRange(10, 1000)
        self.rounds_spin.setSingleStep(50)
        self.rounds_spin.setValue(300)
        self.rounds_spin.setToolTip("RLHF rounds (the paper runs 300)")
        self.seeds_spin = QSpinBox()
        self.seeds_spin.setRange(1, 10)
        self.seeds_spin.setValue(3)
        self.seeds_spin.setToolTip("Seeds averaged in the plot (the views show seed 0)")
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Compute all three arms (in the background)")
        self.run_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.jobs.stop)
        self.status = QLabel("")
        for text, w in (("world", self.world_combo), ("right view", self.arm_combo),
                        ("rounds", self.rounds_spin), ("seeds", self.seeds_spin)):
            row.addWidget(QLabel(text))
            row.addWidget(w)
        row.addWidget(self.run_button)
        row.addWidget(self.stop_button)
        row.addWidget(self.status, 1)

        self.views_box = QWidget()
        vrow = QHBoxLayout(self.views_box)
        vrow.setContentsMargins(0, 0, 0, 0)
        self.views = [ArmView(self.views_box), ArmView(self.views_box)]
        for v in self.views:
            vrow.addWidget(v, 1)
        lay.addWidget(self.views_box, 3)
        self.linear_note = QLabel(LINEAR_NOTE)
        self.linear_note.setWordWrap(True)
        self.linear_note.setTextFormat(Qt.TextFormat.RichText)
        self.linear_note.hide()
        lay.addWidget(self.linear_note)

        srow = QHBoxLayout()
        lay.addLayout(srow)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("The round shown in the views and marked in the plot")
        self.slider.valueChanged.connect(self._on_slider)
        self.round_label = QLabel("round -")
        self.round_label.setMinimumWidth(90)
        srow.addWidget(QLabel("round"))
        srow.addWidget(self.slider, 1)
        srow.addWidget(self.round_label)
        self.plot = CollapsePlot()
        lay.addWidget(self.plot, 2)
        self.resize(1280, 900)
        self._sync()

    # ------------------------------------------------------------ running
    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def start(self) -> None:
        if self.busy or self.is_closed:
            return
        name = self.world_combo.currentData()
        rounds, seeds = self.rounds_spin.value(), self.seeds_spin.value()
        self.error = None
        self.status.setText("computing...")
        self.jobs.start("collapse", lambda stop: compute(name, rounds, seeds, stop))
        self._sync()

    def _on_progress(self, snap) -> None:
        done, total, text = snap
        self.status.setText(f"{done}/{total}: {text}")

    def _on_done(self, _kind: str, result: LessonResult | None) -> None:
        if result is None:
            self.status.setText("stopped")
            self.runDone.emit(False)
            return
        self.result = result
        self._show_result(rebuild=True)
        self.status.setText(f"{result.world_name}: done")
        self.runDone.emit(True)

    def _on_failed(self, _kind: str, exc: Exception) -> None:
        self.error = exc
        self.status.setText(f"failed: {exc}")
        self.runDone.emit(False)

    def _sync(self) -> None:
        self.run_button.setEnabled(not self.busy)
        self.stop_button.setEnabled(self.busy)
        self.world_combo.setEnabled(not self.busy)

    # ------------------------------------------------------------ showing
    @property
    def right_arm(self) -> str:
        return self.arm_combo.currentData()

    def _show_result(self, rebuild: bool = False) -> None:
        res = self.result
        if res is None or self.is_closed:
            return
        arms = {"myopic": res.arms["myopic"], self.right_arm: res.arms[self.right_arm]}
        linear = res.world is None
        self.plot.set_series(arms, res.published if linear else None)
        self.views_box.setVisible(not linear)
        self.linear_note.setVisible(linear)
        if linear:
            self.linear_note.setText(LINEAR_NOTE + "<br>" + _linear_table(res))
            n = len(arms["myopic"].rounds) - 1
            self.slider.blockSignals(True)
            self.slider.setRange(0, n)
            self.slider.setValue(n)
            self.slider.blockSignals(False)
            self._on_slider(n)
            return
        keep = self.slider.value() if not rebuild else None
        for view, arm in zip(self.views, ("myopic", self.right_arm)):
            if rebuild or view.run is None or view.run.arm != arm or view.world is not res.world:
                view.build(res.world, arms[arm])
        snaps = arms["myopic"].landscape_rounds
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(snaps) - 1)
        self.slider.setValue(len(snaps) - 1 if keep is None else min(keep, len(snaps) - 1))
        self.slider.blockSignals(False)
        self._on_slider(self.slider.value())

    def _on_slider(self, value: int) -> None:
        res = self.result
        if res is None:
            return
        if res.world is None:
            self.round_label.setText(f"iteration {value}")
            self.plot.set_marker(value)
            return
        for view in self.views:
            view.set_round(value)
        rnd = self.views[0].round
        self.round_label.setText(f"round {rnd}")
        self.plot.set_marker(rnd)

    # ------------------------------------------------------------ closing
    def closeEvent(self, ev) -> None:  # noqa: N802
        self.shutdown()
        ev.accept()

    def shutdown(self) -> None:
        """Stop the worker (between runs), close the interactors (idempotent)."""
        if self.is_closed:
            return
        self.is_closed = True
        self.jobs.wait(60.0)
        for view in self.views:
            view.close_view()


def _linear_table(res: LessonResult) -> str:
    from explorer.lessons import collapse
    rows = []
    for arm, figs in (res.published or {}).items():
        run = res.arms.get(arm)
        if run is None:
            continue
        s = collapse.summary({"true_utility": run.true_utility, "proxy_reward": run.proxy_reward,
                              "noise_norm": run.noise_norm, "distance": run.true_utility})
        got = {"peak_utility": s["peak_utility"], "peak_iteration": s["peak_iteration"],
               "final_utility": s["final_utility"], "final_noise": s["final_noise"]}
        cells = ", ".join(f"{k.replace('_', ' ')} {v:g} &rarr; <b>{got[k]:.3g}</b>" for k, v in figs.items())
        rows.append(f"<span style='color:{ARM_COLOURS[arm]}'>{ARM_NAMES[arm]}</span>: {cells}")
    return "published &rarr; <b>measured</b>: " + "; ".join(rows)
