"""The window's actions, menus and toolbars (built once; texts and shortcuts come
from ``help.SHORTCUTS`` so the Help menu lists exactly what the keys do).

``build(w)`` returns the actions by key; every action calls a method of the
window ``w`` (or of one of its parts) and holds no state of its own."""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QActionGroup, QKeySequence
from PyQt6.QtWidgets import QComboBox, QLabel, QToolBar

import worlds

from . import help as help_text
from .policy_layer import MODE_NAMES, MODES

OVERLAYS = (("flaws", "&Flaw overlay: where the reward breaks a norm"),
            ("ghosts", "Cells pushed below the floor (&ghosted)"),
            ("expert", "Expert samples and route"), ("goals", "Goals"), ("hazards", "Hazards"),
            ("boundary", "Norm boundary (distance B from the support)"),
            ("slice", "Slice plane through the volume (PgUp/PgDn move it; flags land on it)"),
            ("iso", "Isosurface at reward 0.5 (volume worlds)"))
OFF_BY_DEFAULT = {"slice", "iso", "flaws"}
# Short texts for the toolbars (the menus keep the long ones): a 1280-pixel screen
# shows every toolbar button instead of hiding half of them behind the overflow arrow.
TOOLBAR_TEXT = {"screenshot": "Screenshot", "reverse": "Reverse", "apply_accepted": "Apply accepted",
                "show_difference": "Diff", "reset_camera": "Reset view", "top_view": "Top",
                "train": "Train"}


def _action(w, key: str, text: str, slot=None, checkable: bool = False, checked: bool = False) -> QAction:
    act = QAction(text, w)
    seq = help_text.shortcut(key)
    if seq:
        act.setShortcut(QKeySequence(seq))
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    tip = next((t for k, _, t in help_text.SHORTCUTS if k == key), text)
    act.setToolTip(f"{tip} ({seq})" if seq else tip)
    act.setStatusTip(tip)
    act.setCheckable(checkable)
    if checkable:
        act.setChecked(checked)
        if slot is not None:
            act.toggled.connect(slot)
    elif slot is not None:
        act.triggered.connect(lambda _=False: slot())
    w.addAction(act)
    return act


def build(w) -> dict[str, QAction]:
    def a(*args, **kw):
        return _action(w, *args, **kw)
    self = w
    self.act = {
        "open_world": a("open_world", "Open &world...", self.files.open_world_dialog),
        "open_artifact": a("open_artifact", "&Open artifact...", self.files.open_artifact_dialog),
        "save_artifact": a("save_artifact", "&Save artifact...", self.files.save_artifact),
        "open_model": a("open_model", "Open reward &model (ONNX)...", self.files.open_model_dialog),
        "export_onnx": a("export_onnx", "&Export served reward (ONNX)...", self.files.export_onnx_dialog),
        "train_ppo": a("train_ppo", "Train &PPO agent", lambda: self.agents.train()),
        "screenshot": a("screenshot", "Screens&hot (PNG)...", self.files.screenshot_dialog),
        "quit": a("quit", "&Quit", self.close),
        "undo": a("undo", "Undo", lambda: self.edits.undo()),
        "redo": a("redo", "Redo", lambda: self.edits.redo()),
        "delete_flag": a("delete_flag", "&Delete flag", lambda: self.edits.delete_flag(
            self.flag_panel.selected_id())),
        "flag_tool": a("flag_tool", "&Flag tool", self._on_flag_tool, checkable=True),
        "reset_camera": a("reset_camera", "&Reset camera", self.reset_camera),
        "top_view": a("top_view", "&Top view", self.top_view),
        "reverse": a("reverse", "Re&verse colours", self._on_reverse, checkable=True),
        "show_after": a("show_after", "&Now", lambda c: c and self.layer.set_compare("after"), True, True),
        "show_before": a("show_before", "&Before", lambda c: c and self.layer.set_compare("before"), True),
        "show_difference": a("show_difference", "&Difference",
                             lambda c: c and self.layer.set_compare("difference"), True),
        "train": a("train", "&Train model", self.train_again),
        "refine": a("refine", "&Refine", self.refine),
        "stop": a("stop", "&Stop", self.stop_job),
        "audit": a("audit", "&Audit", lambda: self.flywheel.audit()),
        "apply_accepted": a("apply_accepted", "A&pply accepted findings", lambda: self.flywheel.apply_accepted()),
        "next_finding": a("next_finding", "&Next finding", lambda: self.flywheel.step(1)),
        "prev_finding": a("prev_finding", "&Previous finding", lambda: self.flywheel.step(-1)),
        "accept_finding": a("accept_finding", "A&ccept finding",
                            lambda: self.flywheel.decide_selected("accept")),
        "reject_finding": a("reject_finding", "Re&ject finding (reviewed, fine)",
                            lambda: self.flywheel.decide_selected("reject")),
        "new_session": a("new_session", "&New session...", self.files.new_session_dialog),
        "open_session": a("open_session", "Open sessio&n...", self.files.open_session_dialog),
        "policy_cycle": a("policy_cycle", "Next &policy", lambda: self.edits.cycle_policy()),
        "presenter": a("presenter", "&Presenter mode", lambda on: self.set_presenter(on), checkable=True),
        "side_panel": a("side_panel", "Side &panel", lambda on: self.dock.setVisible(on), checkable=True,
                        checked=True),
        "message_log": a("message_log", "&Message log", lambda on: self.log_dock.setVisible(on), checkable=True),
        "tour": a("tour", "&Tour the Flywheel...", lambda: self.open_tour()),
        "shortcuts": a("", "&Keyboard shortcuts", self.files.show_shortcuts),
        "about": a("", "&About", self.files.show_about),
    }
    self.act["shortcuts"].setShortcut(QKeySequence("F1"))
    group = QActionGroup(self)
    for k in ("show_after", "show_before", "show_difference"):
        group.addAction(self.act[k])
    self.overlay_actions = {}
    for key, text in OVERLAYS:
        act = QAction(text, self, checkable=True, checked=key not in OFF_BY_DEFAULT)
        seq = help_text.shortcut(key)
        if seq:
            act.setShortcut(QKeySequence(seq))
            self.addAction(act)
        act.setToolTip(f"Show or hide: {text.replace('&', '').lower()}" + (f" ({seq})" if seq else ""))
        act.toggled.connect(lambda on, k=key: self.view.set_overlay(k, on))
        self.overlay_actions[key] = act
    self.act["flaws"] = self.overlay_actions["flaws"]
    self.dock.visibilityChanged.connect(lambda shown: self.act["side_panel"].setChecked(shown)
                                        if not self._closed else None)
    self.log_dock.visibilityChanged.connect(lambda shown: self.act["message_log"].setChecked(shown)
                                            if not self._closed else None)
    for key, text in TOOLBAR_TEXT.items():
        self.act[key].setIconText(text)
    for seq, step in (("PgUp", 1), ("PgDown", -1)):
        mv = QAction(self)
        mv.setShortcut(QKeySequence(seq))
        mv.triggered.connect(lambda _=False, d=step: self.view.move_slice(d))
        self.addAction(mv)
    mb = self.menuBar()
    m = mb.addMenu("&File")
    for k in ("open_world", "open_artifact", "save_artifact", None, "open_model", "export_onnx", None,
              "new_session", "open_session", None, "screenshot", None, "quit"):
        m.addSeparator() if k is None else m.addAction(self.act[k])
    m = mb.addMenu("&Edit")
    for k in ("undo", "redo", None, "delete_flag", "flag_tool"):
        m.addSeparator() if k is None else m.addAction(self.act[k])
    m = mb.addMenu("&View")
    for k in ("reset_camera", "top_view", None, "show_after", "show_before", "show_difference",
              "reverse", None):
        m.addSeparator() if k is None else m.addAction(self.act[k])
    for act in self.overlay_actions.values():
        m.addAction(act)
    m.addSeparator()
    for k in ("presenter", "side_panel", "message_log"):
        m.addAction(self.act[k])
    m = mb.addMenu("&Model")
    for k in ("train", "refine", "stop", None, "audit", "next_finding", "prev_finding", "accept_finding",
              "reject_finding", "apply_accepted"):
        m.addSeparator() if k is None else m.addAction(self.act[k])
    m = mb.addMenu("&Policy")
    for k in ("policy_cycle", "train_ppo"):
        m.addAction(self.act[k])
    from .lessons import add_lessons_menu
    add_lessons_menu(self, mb)          # Lessons > Alignment collapse..., ...
    m = mb.addMenu("&Help")
    m.addAction(self.act["tour"])
    m.addSeparator()
    m.addAction(self.act["shortcuts"])
    m.addAction(self.act["about"])
    self.toolbars = {}
    tb = QToolBar("World")
    tb.setObjectName("world")
    self.addToolBar(tb)
    self.toolbars["world"] = tb
    self.world_combo = QComboBox()
    self.world_combo.setToolTip("Built-in worlds (and world files you opened); picking one "
                                "trains a reward model for it")
    self.world_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    self.world_combo.setMinimumContentsLength(12)
    self.world_combo.activated.connect(self.files.world_picked)
    tb.addWidget(QLabel(" world "))
    tb.addWidget(self.world_combo)
    tb.addAction(self.act["train"])
    tb = QToolBar("View")
    tb.setObjectName("view")
    self.addToolBar(tb)
    self.toolbars["view"] = tb
    self.act["flaws"].setIconText("Flaws")
    for k in ("flag_tool", "flaws", None, "reset_camera", "top_view", "screenshot", None, "show_after",
              "show_before", "show_difference", "reverse"):
        tb.addSeparator() if k is None else tb.addAction(self.act[k])
    tb = QToolBar("Flywheel")
    tb.setObjectName("flywheel")
    self.addToolBar(tb)
    self.toolbars["flywheel"] = tb
    tb.addAction(self.act["audit"])
    tb.addAction(self.act["apply_accepted"])
    tb.addSeparator()
    self.policy_combo = QComboBox()
    for key in MODES:
        self.policy_combo.addItem(MODE_NAMES[key], key)
    self.policy_combo.setToolTip("A policy consuming the reward, drawn over the landscape: value "
                                 "iteration on the grid or gradient ascent (G cycles)")
    self.policy_combo.currentIndexChanged.connect(
        lambda _i: self.edits.set_policy(self.policy_combo.currentData()))
    tb.addWidget(self.policy_combo)
    sync_world_combo(self)
    return self.act


def update(self) -> None:
    """Enable what can be done now, and say what undo and redo would do."""
    s, busy = self.session, self.jobs.busy
    ready = s.ready and self.is_ready
    self.act["undo"].setText(s.undo_text())
    self.act["undo"].setEnabled(s.can_undo())
    self.act["redo"].setText(s.redo_text())
    self.act["redo"].setEnabled(s.can_redo())
    self.act["delete_flag"].setEnabled(self.flag_panel.selected_id() is not None)
    for k in ("refine", "save_artifact", "audit", "export_onnx", "train_ppo"):
        self.act[k].setEnabled(ready and not busy)
    for k in ("train", "open_world", "open_artifact", "open_model", "new_session", "open_session"):
        self.act[k].setEnabled(not busy)
    self.world_combo.setEnabled(not busy)
    self.act["stop"].setEnabled(busy)
    has_before = ready and s.reference_version is not None
    self.act["show_before"].setEnabled(has_before)
    self.act["show_difference"].setEnabled(has_before)
    self.refine_panel.set_busy(busy or not ready)
    t = s.triage
    accepted = t.counts()["accepted_findings"] if t is not None else 0
    self.act["apply_accepted"].setEnabled(ready and not busy and accepted > 0)
    for k in ("next_finding", "prev_finding", "accept_finding", "reject_finding"):
        self.act[k].setEnabled(t is not None and bool(t.findings) and not busy)
    self.findings_panel.set_busy(busy, ready)
    self.history_panel.set_busy(busy or not ready)


def sync_world_combo(self) -> None:
    """The world picker lists the built-in worlds and the open world file."""
    self.world_combo.blockSignals(True)
    names = worlds.available()
    w = self.session.world
    items = [(n, n) for n in names]
    if not w.source.startswith("builtin:"):
        items.append((f"{w.name} ({Path(w.source).name})", w.source))
    self.world_combo.clear()
    for text, data in items:
        self.world_combo.addItem(text, data)
    current = w.name if w.source.startswith("builtin:") else w.source
    self.world_combo.setCurrentIndex(max(0, self.world_combo.findData(current)))
    self.world_combo.blockSignals(False)
