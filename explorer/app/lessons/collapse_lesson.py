"""The alignment-collapse lesson: myopic RLHF next to foresighted policy optimisation
(FPO) in one world, round by round (arXiv 2605.04266; ``docs/collapse.md``).

Two 3D views side by side show, for each arm, the reward model's landscape at the
round picked on the slider and the path of the policy's mean up to that round; the
plot below shows true utility (solid) and the proxy reward the policy chased (dashed),
and the distractors it grew, over the rounds for both arms, with the slider's round
marked. "linear" is the authors' linear environment: no world to draw, only the plot,
next to the published figures.

The runs stream from ``explorer.lessons.collapse_live`` in a worker thread: seed 0 of
every arm is drawn while it is computed (the slider follows the newest round unless
it is moved), the other seeds then fill in the mean. The window only draws.
"""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QWidget,
)

from explorer.lessons import collapse_live as live
from explorer.lessons.collapse_live import ARM_NAMES, LessonResult

from .base import LessonWindow
from .collapse_plot import ARM_COLOURS, CollapsePlot
from .collapse_views import ArmView

WORLDS = ("cube", "ridge", "twin-goals", "canyon", "linear")

EXPLANATION = (
    "<b>Alignment collapse.</b> In iterative RLHF the policy makes the data its reward model "
    "(RM) is retrained on. <b>What to watch</b> (press <i>Run</i>; the curves grow as they are "
    "computed): under <span style='color:#d7191c'><b>myopic RLHF</b></span> the <b>true utility</b> "
    "(solid) rises, then <b>falls</b>, while the <b>proxy reward</b> it chases (dashed) keeps up "
    "with it and the off-target <b>distractors</b> (lower panel) grow: retraining on the policy's "
    "own samples reinforces the RM's blind spot. <span style='color:#2c7bb6'><b>FPO</b></span> "
    "penalises steering the RM's parameters and keeps the true utility high. In the views: the "
    "RM's landscape at the slider's round (purple = high; the plot's 0&ndash;10 scale) and the "
    "policy's path so far (black; start = grey ball, now = red ball); goals are green rings.")
LINEAR_NOTE = (
    "<b>Linear environment</b> (the authors' setup, seed 0, &lambda; = 0.1): a 50-dimensional "
    "action, so there is no world to draw. Hollow circles on the plot are the published figures.")
WORLD_CAPTION = "press Run to see its reward model"


class CollapseLesson(LessonWindow):
    """Lessons > Alignment collapse: the lesson's own window (non-modal)."""

    def __init__(self, initial_world: str | None = None, parent: QWidget | None = None):
        super().__init__("Lesson: alignment collapse (myopic RLHF vs FPO)", EXPLANATION, parent)
        self.follow = True              # the slider follows the newest round while a run is live
        self._world = None              # the world drawn before a run (loaded on the GUI thread)

        self.world_combo = QComboBox()
        for name in WORLDS:
            self.world_combo.addItem(name if name != "linear" else "linear (paper)", name)
        if initial_world in WORLDS:
            self.world_combo.setCurrentIndex(WORLDS.index(initial_world))
        self.world_combo.setToolTip("The world to run the arms in; 'linear' is the authors' "
                                    "50-dimensional environment (plot only)")
        self.world_combo.currentIndexChanged.connect(lambda _i: self.show_world())
        self.arm_combo = QComboBox()
        for arm in ("relaxed", "practical"):
            self.arm_combo.addItem(ARM_NAMES[arm], arm)
        self.arm_combo.setToolTip("Right-hand view: FPO-relaxed uses the utility oracle; "
                                  "FPO-practical (e = 1) does not")
        self.arm_combo.currentIndexChanged.connect(lambda _i: self._right_arm_changed())
        self.rounds_spin = QSpinBox()
        self.rounds_spin.setRange(10, 1000)
        self.rounds_spin.setSingleStep(50)
        self.rounds_spin.setValue(300)
        self.rounds_spin.setToolTip("RLHF rounds (the paper runs 300)")
        self.rounds_spin.valueChanged.connect(lambda v: None if self.result else self.plot.set_frame(v))
        self.seeds_spin = QSpinBox()
        self.seeds_spin.setRange(1, 10)
        self.seeds_spin.setValue(3)
        self.seeds_spin.setToolTip("Seeds averaged in the plot (the views show seed 0, drawn live)")
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Compute all three arms in the background, drawing as they go")
        self.run_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step; what was computed stays drawn")
        self.stop_button.clicked.connect(self.jobs.stop)
        self.fill_controls((("world", self.world_combo), ("right view", self.arm_combo),
                            ("rounds", self.rounds_spin), ("seeds", self.seeds_spin)),
                           self.run_button, self.stop_button)

        # top: the two views (or, for "linear", the note); bottom: the slider and the plot
        self.top = QStackedWidget()
        self.views_box = QWidget()
        vrow = QHBoxLayout(self.views_box)
        vrow.setContentsMargins(0, 0, 0, 0)
        self.views = [ArmView(self.views_box), ArmView(self.views_box)]
        for v in self.views:
            vrow.addWidget(v, 1)
        self.linear_note = QLabel(LINEAR_NOTE)
        self.linear_note.setWordWrap(True)
        self.linear_note.setTextFormat(Qt.TextFormat.RichText)
        self.linear_note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.linear_note.setMinimumHeight(60)
        self.top.addWidget(self.views_box)
        self.top.addWidget(self.linear_note)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("The round shown in the views and marked in the plot")
        self.slider.valueChanged.connect(self._on_slider)
        self.slider.setEnabled(False)
        self.round_label = QLabel("round -")
        self.slider_label = QLabel("round")
        self.plot = CollapsePlot()
        bottom = self.slider_row(self.slider_label, self.slider, self.round_label, QWidget(), self.plot)
        self.split = self.split_body(Qt.Orientation.Vertical, self.top, bottom, (1, 1))
        self.resize(1280, 720)
        self._fit_round_label()
        self.show_world()
        self._sync()

    # ------------------------------------------------------------ before a run
    @property
    def right_arm(self) -> str:
        return self.arm_combo.currentData()

    def _show_world(self, name: str) -> None:
        self.result = None
        self.plot.legend_arms = ["myopic", self.right_arm]
        self.plot.clear_series()
        self.plot.set_frame(self.rounds_spin.value(), "iteration" if name == "linear" else "round")
        self.slider.setEnabled(False)
        self.round_label.setText("round -")
        if name == "linear":
            self._show_top(self.linear_note)
            self.linear_note.setText(LINEAR_NOTE)
            self.status.setText("linear: press Run to compute the three arms next to the published figures")
            return
        import worlds
        self._world = worlds.load(name)
        self._show_top(self.views_box)
        for view, arm in zip(self.views, ("myopic", self.right_arm)):
            view.show_world(self._world, arm, WORLD_CAPTION)
        self.status.setText(f"{name}: the policy starts at the grey ball; press Run to train and "
                            "retrain the reward model round by round")

    def _right_arm_changed(self) -> None:
        if self.is_closed:
            return
        self.plot.legend_arms = ["myopic", self.right_arm]
        if self.result is not None:
            self.draw(self.result)
        else:
            self.plot.redraw()
            if self._world is not None and self.world_combo.currentData() != "linear":
                self.views[1].show_world(self._world, self.right_arm, WORLD_CAPTION)

    # ------------------------------------------------------------ running
    def start(self) -> None:
        if self.busy or self.is_closed:
            return
        name = self.world_combo.currentData()
        rounds, seeds = self.rounds_spin.value(), self.seeds_spin.value()
        fresh = self.result is None and (name == "linear" or getattr(self._world, "name", None) == name)
        # the worker first: its warm start runs while the views are reset
        self.run_job("collapse", lambda stop: live.stream(name, rounds, seeds, stop))
        self.follow = True
        if fresh:                                   # the world is drawn already: only the frame changes
            self.plot.set_frame(rounds, "iteration" if name == "linear" else "round")
        else:
            self._show_world(name)
        for view in self.views:
            if view.caption:
                view.set_caption("computing the first rounds...")
        self.status.setText("computing: the curves appear as the rounds are computed")

    def _sync(self) -> None:
        self.run_button.setEnabled(not self.busy)
        self.stop_button.setEnabled(self.busy)
        for w in (self.world_combo, self.rounds_spin, self.seeds_spin):
            w.setEnabled(not self.busy)

    # ------------------------------------------------------------ drawing
    def draw(self, res: LessonResult) -> None:
        if self.is_closed:
            return
        arms = {"myopic": res.arms["myopic"], self.right_arm: res.arms[self.right_arm]}
        linear = res.world is None
        self.plot.set_series(arms, res.published if linear else None, res.total_rounds)
        if linear:
            self._show_top(self.linear_note)
            self.linear_note.setText(LINEAR_NOTE + ("<br>" + _linear_table(res) if res.complete else ""))
            last = arms["myopic"].last_round
        else:
            self._show_top(self.views_box)
            last = len(arms["myopic"].landscape_rounds) - 1
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, last))
        if self.follow or self.slider.value() > last:
            self.slider.setValue(last)
        self.slider.blockSignals(False)
        self.slider.setEnabled(True)
        index = self.slider.value()
        if not linear:
            for view, arm in zip(self.views, ("myopic", self.right_arm)):
                view.show_run(res.world, arms[arm], index)
        self._mark(index)
        if res.complete:
            seeds = "" if linear else f" (plot: mean of {res.seeds} seed{'s' if res.seeds > 1 else ''})"
            unit = "iterations" if linear else "rounds"
            self.status.setText(f"{res.world_name}: done{seeds}; move the slider to replay the {unit}")
        else:
            self.status.setText(f"{res.world_name}: {res.text}")

    def _on_slider(self, value: int) -> None:
        res = self.result
        if res is None or self.is_closed:
            return
        self.follow = value >= self.slider.maximum()
        if res.world is not None:
            for view in self.views:
                view.set_round(value)
        self._mark(value)

    def _mark(self, index: int) -> None:
        res = self.result
        self.slider_label.setText("iteration" if res is not None and res.world is None else "round")
        if res is None or res.world is None:
            self.round_label.setText(f"iteration {index}")
            self.plot.set_marker(index)
            return
        rnd = int(res.arms["myopic"].landscape_rounds[index])
        self.round_label.setText(f"round {rnd}")
        self.plot.set_marker(rnd)

    def _fit_round_label(self) -> None:
        fm = self.round_label.fontMetrics()
        self.round_label.setMinimumWidth(fm.horizontalAdvance("iteration 0000") + 8)

    # ------------------------------------------------------------ presenter, closing
    def _show_top(self, widget: QWidget) -> None:
        """The views, or the linear note; the note takes only the height its text needs."""
        changed = self.top.currentWidget() is not widget
        self.top.setCurrentWidget(widget)
        if changed or widget is self.linear_note:
            self._fit_split()

    def _fit_split(self) -> None:
        total = sum(self.split.sizes()) or self.height()
        if self.top.currentWidget() is self.linear_note:
            top = min(total // 2, self.linear_note.heightForWidth(max(1, self.top.width())) + 8)
        else:
            top = int(total * (0.38 if self.presenter else 0.5))   # bigger text: the plot needs more
        self.split.setSizes([top, total - top])

    def presenter_changed(self, on: bool) -> None:
        self._fit_round_label()
        self._fit_split()
        self.plot.set_presenter(on)
        for view in self.views:
            view.set_presenter(on)

    def close_views(self) -> None:
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

