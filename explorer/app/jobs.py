"""Run a session job (a generator of Snapshots) in a worker thread.

One job at a time. The worker only iterates the generator; every snapshot and
the result travel to the GUI thread as queued signals, and the GUI decides what
to draw and when (the plotter is never touched off the GUI thread). Stopping
is cooperative: the job checks a ``threading.Event`` between steps and returns
its last good state.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Generator

import torch
from PyQt6.QtCore import QObject, pyqtSignal
from superqt.utils import create_worker


def _drive(gen: Generator, done: threading.Event):
    # 1 torch thread: on a 2-core laptop the GUI thread keeps a core (CONVENTIONS.md).
    torch.set_num_threads(1)
    try:
        result = yield from gen
        return ("ok", result)
    except Exception as exc:  # noqa: BLE001 -- reported to the GUI, never lost
        # (superqt swallows a RuntimeError as 'worker deleted': return it instead)
        return ("error", exc)
    finally:
        gen.close()
        done.set()


class JobRunner(QObject):
    snapshot = pyqtSignal(object)            # Snapshot
    succeeded = pyqtSignal(str, object)      # kind, JobResult (None: training was stopped)
    failed = pyqtSignal(str, object)         # kind, exception
    finished = pyqtSignal(str)               # kind (after succeeded/failed)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.kind: str | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._done.set()
        self._worker = None
        self.started_at = 0.0

    @property
    def busy(self) -> bool:
        return self.kind is not None

    def start(self, kind: str, make: Callable[[threading.Event], Generator]) -> None:
        """``make(stop_event)`` builds the generator (in the GUI thread, so it may
        raise at once, e.g. RefinementError for missing flags)."""
        if self.busy:
            raise RuntimeError(f"a {self.kind} job is already running")
        stop = threading.Event()
        gen = make(stop)
        self._stop = stop
        self._done = threading.Event()
        self.kind = kind
        self.started_at = time.perf_counter()
        worker = create_worker(_drive, gen, self._done, _start_thread=False)
        worker.yielded.connect(self.snapshot)
        worker.returned.connect(self._on_returned)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        worker.start()

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float = 10.0) -> bool:
        """Stop and wait for the worker thread to leave the job (used on close)."""
        self._stop.set()
        return self._done.wait(timeout)

    def _on_returned(self, value) -> None:
        status, payload = value
        if status == "ok":
            self.succeeded.emit(self.kind, payload)
        else:
            self.failed.emit(self.kind, payload)

    def _on_finished(self) -> None:
        kind, self.kind = self.kind, None
        self._worker = None
        self.finished.emit(kind or "")
