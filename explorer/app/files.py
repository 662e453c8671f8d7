"""The window's files: worlds, artifacts, session directories, screenshots, and the
Help dialogs. ``FileActions(window)`` asks for paths and confirmations; the
session does the reading and writing. Every refusal is a dialog *and* one line
on stderr (a lecturer's terminal shows it too).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from PyQt6.QtWidgets import QApplication, QFileDialog, QMessageBox

from explorer.session import METHOD_NAMES, Session
from worlds.errors import InputError

from . import help as help_text

APP_NAME = "Reward Landscape Explorer"


def refuse(parent, title: str, exc: Exception | str) -> None:
    """A dialog and one line on stderr (never one without the other)."""
    text = " ".join(str(exc).split())
    print(f"explorer: {title}: {text}", file=sys.stderr)
    QMessageBox.critical(parent, title, text)


class FileActions:
    def __init__(self, window):
        self.w = window

    @property
    def session(self) -> Session:
        return self.w.session

    # ---- worlds -----------------------------------------------------------------
    def world_picked(self, index: int) -> None:
        if not self.switch_world(self.w.world_combo.itemData(index)):
            self.w.sync_world_combo()

    def switch_world(self, name_or_path: str) -> bool:
        """Load a world and train a model for it; on a bad file, say why and keep the
        current world. Returns False if nothing changed."""
        try:
            import worlds
            world = worlds.load(name_or_path)
        except (InputError, OSError) as exc:
            refuse(self.w, "Cannot open world", exc)
            self.w.status(f"World not opened: {exc}")
            return False
        if self.w.jobs.busy:
            self.w.status(f"Cannot open world '{world.name}' now: {self.w.jobs.kind} is running "
                          "(press Stop first); the current world stays")
            return False
        if not self.maybe_save(f"Open world '{world.name}'"):
            return False
        self.w.start_training(world)
        return True

    def open_world_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Open world", "", "World files (*.toml)")
        if path:
            self.switch_world(path)

    # ---- artifacts ----------------------------------------------------------------
    def _replace(self, what: str, title: str, load) -> Session | None:
        """Open another session in place of this one: refused while a job runs, a
        dialog (and stderr) if it cannot be loaded, unsaved work asked about first."""
        if self.w.jobs.busy:
            self.w.status(f"Cannot open {what} now: {self.w.jobs.kind} is running (press Stop first)")
            return None
        try:
            other = load()
        except (InputError, OSError) as exc:
            refuse(self.w, f"Cannot open {title}", exc)
            return None
        if not self.maybe_save(f"Open {title}"):
            return None
        self.session.replace_with(other)
        return other

    def open_artifact(self, directory: str) -> bool:
        other = self._replace("an artifact", "artifact", lambda: Session.from_artifact(directory))
        if other is None:
            return False
        self.w.status(f"Opened {directory}: {other.world.name} v{other.current}")
        return True

    def open_artifact_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self.w, "Open reward artifact (a directory)")
        if path:
            self.open_artifact(path)

    def open_model(self, path: str) -> bool:
        """Any reward model (ONNX) on its sidecar's world, or on the world shown now."""
        world = None if Path(path).with_suffix(".json").is_file() else self.session.world
        other = self._replace("a model", "reward model", lambda: Session.from_model(path, world))
        if other is None:
            return False
        from explorer.refine.sculpting import refusals
        off = "; ".join(refusals(other.model).values())
        self.w.status(f"Opened {Path(path).name} on {other.world.name}: audit it, flag it, patch it"
                      + (f". Disabled: {off}" if off else ""))
        return True

    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Open reward model", "", "ONNX models (*.onnx)")
        if path:
            self.open_model(path)

    def export_onnx(self, path: str) -> bool:
        try:
            report = self.session.export_onnx(path)
        except (InputError, OSError) as exc:
            refuse(self.w, "Cannot export the served reward", exc)
            return False
        worst = max(report.max_abs_diff_grid, report.max_abs_diff_random)
        self.w.status(f"Exported v{self.session.version} to {path}: {report.kernels} kernels; onnxruntime "
                      f"matches the explorer to {worst:.1g} on the grid and {report.random_states:,} random states")
        return True

    def export_onnx_dialog(self) -> None:
        s = self.session
        path, _ = QFileDialog.getSaveFileName(self.w, "Export the served reward (ONNX)",
                                              f"{s.world.name}-v{s.version}.onnx", "ONNX models (*.onnx)")
        if path:
            self.export_onnx(path if path.endswith(".onnx") else path + ".onnx")

    def save_artifact(self, path: str | None = None) -> bool:
        """The current version as a standalone artifact directory (for a policy or a colleague)."""
        s = self.session
        if not s.ready:
            return False
        self.w.edits.commit_psi()
        if path is None:
            start = str(Path.cwd() / f"{s.world.name}-v{s.version}")
            path, _ = QFileDialog.getSaveFileName(self.w, "Save reward artifact (a directory)", start, "",
                                                  options=QFileDialog.Option.DontConfirmOverwrite)
            if not path:
                return False
        p = Path(path)
        overwrite = False
        if p.exists() and (not p.is_dir() or any(p.iterdir())):
            if not (p.is_dir() and (p / "artifact.json").is_file()):
                refuse(self.w, "Cannot save artifact", f"{p}: exists and is not a reward artifact; choose a new name")
                return False
            if QMessageBox.question(self.w, "Replace artifact?", f"{p} holds an artifact. Replace it?") != \
                    QMessageBox.StandardButton.Yes:
                return False
            overwrite = True
        try:
            out = s.save_artifact(p, overwrite=overwrite)
        except (InputError, OSError) as exc:
            refuse(self.w, "Cannot save artifact", exc)
            return False
        self.w.status(f"Saved v{s.version} to {out}")
        return True

    def screenshot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.w, "Save screenshot", "landscape.png", "PNG image (*.png)")
        if path:
            if not path.lower().endswith(".png"):
                path += ".png"
            self.w.view.screenshot(path)
            self.w.status(f"Saved {path}")

    # ---- session directories -----------------------------------------------------
    def new_session_dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self.w, "New session: choose an empty directory (or one to "
                                                     "put a new session directory in)")
        if not d:
            return
        root = Path(d)
        if (root / "session.json").exists():
            refuse(self.w, "Cannot start a session", f"{root}: a session already lives here; use "
                   "File > Open session... instead")
            return
        if any(root.iterdir()):
            root = root / f"{self.session.world.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        self.new_session(root)

    def new_session(self, root) -> bool:
        """Keep this session's versions and edits in ``root`` from now on."""
        if self.w.jobs.busy or not self.session.ready:
            return False
        self.w.edits.commit_psi()
        try:
            self.session.save(root)
        except (InputError, OSError) as exc:
            refuse(self.w, "Cannot start a session", exc)
            return False
        return True

    def open_session_dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self.w, "Open session (a directory with session.json)")
        if d:
            self.open_session(d)

    def open_session(self, root) -> bool:
        if self.w.jobs.busy:
            return False
        try:
            other = Session.open(root)
        except (InputError, OSError) as exc:
            refuse(self.w, "Cannot open session", exc)
            return False
        if not self.maybe_save("Open session"):
            other.close()
            return False
        self.session.replace_with(other)
        self.w.status(f"Opened session {root}: {len(other.versions)} versions, current v{other.current}")
        return True

    def stop_job_to_close(self) -> bool:
        """A job is running: ask first, then stop it cleanly (its last good state is
        kept, as Stop does) before anything else is asked. False: keep the window."""
        if not self.w.jobs.busy:
            return True
        name = METHOD_NAMES.get(self.w.jobs.kind, self.w.jobs.kind)
        if self.w.ask_on_close:
            ans = QMessageBox.question(self.w, "A job is running",
                                       f"{name.capitalize()} is running. Stop it and quit?",
                                       QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                       QMessageBox.StandardButton.Cancel)
            if ans != QMessageBox.StandardButton.Yes:
                return False
        self.w.status(f"Stopping {name} before closing...")
        self.w.jobs.stop()
        self.w.jobs.wait(30.0)
        QApplication.processEvents()          # its result (the last good state) enters the session
        return True

    def maybe_save(self, doing: str) -> bool:
        """Ask only about edits that are on no disk; False means: cancel."""
        s = self.session
        if not (self.w.ask_on_close and s.dirty):
            return True
        ans = QMessageBox.question(
            self.w, "Unsaved changes",
            f"{doing}: this session's edits (up to v{s.version}) are not stored in any directory.",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if ans == QMessageBox.StandardButton.Cancel:
            return False
        if ans == QMessageBox.StandardButton.Save:
            d = QFileDialog.getExistingDirectory(self.w, "Save the session: choose an empty directory")
            return bool(d) and self.new_session(d)
        return True

    # ---- help ----------------------------------------------------------------------
    def show_shortcuts(self) -> None:
        QMessageBox.information(self.w, "Keyboard shortcuts", help_text.shortcuts_html())

    def show_about(self) -> None:
        QMessageBox.about(self.w, f"About {APP_NAME}", help_text.ABOUT_HTML)
