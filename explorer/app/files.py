"""Opening worlds and artifacts, saving artifacts and screenshots, the
unsaved-changes question and the Help dialogs (mixed into MainWindow)."""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtWidgets import QFileDialog, QMessageBox

from explorer.session.session import Session
from worlds.errors import InputError

from . import help as help_text

APP_NAME = "Reward Landscape Explorer"


class FilesMixin:
    """Mixed into MainWindow."""

    # ====================================================== files, worlds
    def _on_world_picked(self, index: int) -> None:
        target = self.world_combo.itemData(index)
        if not self.switch_world(target):
            self._sync_world_combo()

    def switch_world(self, name_or_path: str) -> bool:
        """Load a world and train a model for it; on a bad file, say why and keep the
        current world. Returns False if nothing changed."""
        try:
            world = Session.load_world(name_or_path)
        except (InputError, OSError) as exc:
            QMessageBox.critical(self, "Cannot open world", str(exc))
            self.status(f"World not opened: {exc}")
            return False
        if self.jobs.busy:
            self.status(f"Cannot open world '{world.name}' now: {self.jobs.kind} is running "
                        "(press Stop first); the current world stays")
            return False
        if not self._maybe_save(f"Open world '{world.name}'"):
            return False
        self.start_training(world)
        return True

    def open_world_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open world", "", "World files (*.toml)")
        if path:
            self.switch_world(path)

    def open_artifact(self, directory: str) -> bool:
        try:
            world, model = self.session.open_artifact(directory)
        except (InputError, OSError) as exc:
            QMessageBox.critical(self, "Cannot open artifact", str(exc))
            return False
        if self.jobs.busy:
            self.status(f"Cannot open an artifact now: {self.jobs.kind} is running (press Stop first)")
            return False
        if not self._maybe_save("Open artifact"):
            return False
        same = world is self.session.world
        self.session.open(world, model, artifact_path=directory)
        self._show_new_model(reset_camera=not same)
        self.status(f"Opened {directory}: {world.name} v{model.version}")
        return True

    def open_artifact_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open reward artifact (a directory)")
        if path:
            self.open_artifact(path)

    def save_artifact(self, path: str | None = None) -> bool:
        if not self.session.ready:
            return False
        self._commit_psi()
        if path is None:
            start = str(self.session.artifact_path or Path.cwd() / f"{self.session.world.name}-"
                        f"v{self.session.model.version}")
            path, _ = QFileDialog.getSaveFileName(
                self, "Save reward artifact (a directory)", start, "",
                options=QFileDialog.Option.DontConfirmOverwrite)
            if not path:
                return False
        p = Path(path)
        overwrite = False
        if p.exists() and (not p.is_dir() or any(p.iterdir())):
            if not (p.is_dir() and (p / "artifact.json").is_file()):
                QMessageBox.critical(self, "Cannot save artifact",
                                     f"{p}: exists and is not a reward artifact; choose a new name")
                return False
            if p != self.session.artifact_path and QMessageBox.question(
                    self, "Replace artifact?", f"{p} holds an artifact. Replace it?") != \
                    QMessageBox.StandardButton.Yes:
                return False
            overwrite = True
        try:
            out = self.session.save_artifact(p, overwrite=overwrite)
        except (InputError, OSError) as exc:
            QMessageBox.critical(self, "Cannot save artifact", str(exc))
            return False
        self.status(f"Saved v{self.session.model.version} to {out}")
        self._update_title()
        return True

    def screenshot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "landscape.png",
                                              "PNG image (*.png)")
        if path:
            if not path.lower().endswith(".png"):
                path += ".png"
            self.view.screenshot(path)
            self.status(f"Saved {path}")

    def _maybe_save(self, doing: str) -> bool:
        """Ask about unsaved refinements; False means: cancel what was about to happen."""
        if not (self.ask_on_close and self.session.dirty):
            return True
        ans = QMessageBox.question(
            self, "Unsaved changes",
            f"{doing}: the reward model v{self.session.model.version} has unsaved refinements.",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if ans == QMessageBox.StandardButton.Cancel:
            return False
        if ans == QMessageBox.StandardButton.Save:
            return self.save_artifact()
        return True

    # ============================================================== help
    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", help_text.shortcuts_html())

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}", help_text.ABOUT_HTML)
