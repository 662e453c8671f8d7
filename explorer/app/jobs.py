"""Run a session ``Job`` in a worker thread; let its result in on the GUI thread.

One job at a time: ``start`` refuses a second one (``busy`` is true from
``start`` until ``finished`` has been delivered). The worker only iterates the
job's generator; every snapshot and the result travel to the GUI thread as
queued signals, and there ``job.finish(result)`` lets the result into the
session (whose events then update every view). The plotter is never touched
off the GUI thread. Stopping is cooperative: the job checks a
``threading.Event`` between steps and returns its last good state.

The worker is a plain ``threading.Thread`` started at once (superqt's workers
start through a 1 ms timer when the GUI thread runs an event loop, so a window
closed in that millisecond waited for a job that had not begun, and the job then
ran on a closed window); ``wait`` joins it, so after a window's close no worker
thread of it is left running.
"""
from __future__ import annotations

import threading
import time
from typing import Generator

import torch
from PyQt6.QtCore import QObject, pyqtSignal


class JobRunner(QObject):
    snapshot = pyqtSignal(object)            # Snapshot
    succeeded = pyqtSignal(str, object)      # kind, the Outcome job.finish returned
    failed = pyqtSignal(str, object)         # kind, exception (from the job or its finish)
    finished = pyqtSignal(str)               # kind (after succeeded/failed)
    _returned = pyqtSignal(object, object)   # (worker thread ->) token, ("ok"|"error", payload)
    _ended = pyqtSignal(object)              # (worker thread ->) token

    def __init__(self, session=None, parent: QObject | None = None):
        """``session``: told when a job starts and ends (None: a lesson's own runner)."""
        super().__init__(parent)
        self.session = session
        self.job = None
        self.kind: str | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._done.set()
        self._thread: threading.Thread | None = None
        self._token = 0
        self.started_at = 0.0
        self._returned.connect(self._on_returned)
        self._ended.connect(self._on_finished)

    @property
    def busy(self) -> bool:
        return self.kind is not None

    def start(self, job) -> None:
        """Run ``job`` (a session Job, built in the GUI thread so that building it may
        raise at once, e.g. RefinementError for missing flags). Raises RuntimeError
        if a job is running."""
        if self.busy:
            raise RuntimeError(f"a {self.kind} job is already running")
        stop = threading.Event()
        gen = job.run(stop)
        kind = job.kind
        self.job = job
        self._stop = stop
        self._done = threading.Event()
        self._token += 1
        self.kind = kind
        self.started_at = time.perf_counter()
        self._thread = threading.Thread(target=self._drive, args=(gen, self._done, self._token),
                                        name=f"explorer-job-{kind}", daemon=True)
        if self.session is not None:
            self.session.job_started(kind)
        self._thread.start()

    def _drive(self, gen: Generator, done: threading.Event, token: int) -> None:
        # 1 torch thread: on a 2-core laptop the GUI thread keeps a core (docs/design.md, "Threads").
        torch.set_num_threads(1)
        try:
            try:
                while True:
                    snap = next(gen)
                    self.snapshot.emit(snap)
            except StopIteration as stop:
                out = ("ok", stop.value)
            except Exception as exc:  # noqa: BLE001 -- reported to the GUI, never lost
                out = ("error", exc)
            finally:
                gen.close()
                done.set()
            self._returned.emit(token, out)
            self._ended.emit(token)
        except RuntimeError:
            pass                              # the runner was deleted (its window is gone)

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float = 10.0) -> bool:
        """Stop and wait for the worker thread to end (used on close)."""
        self._stop.set()
        t = self._thread
        if t is None:
            return True
        t.join(timeout)
        return not t.is_alive()

    def _on_returned(self, token, value) -> None:
        # The job is over once its result is delivered: clear ``busy`` *before*
        # telling anyone, so a slot that starts the next job (or a person who
        # clicks at once) is not refused by a flag that the later ``_ended``
        # signal would only have cleared afterwards.
        if token != self._token:
            return
        kind, self.kind = self.kind, None
        job, self.job = self.job, None
        if self.session is not None:
            self.session.job_ended()
        status, payload = value
        if status == "ok":
            try:
                outcome = job.finish(payload)
            except Exception as exc:  # noqa: BLE001 -- e.g. the session directory could not be written
                self.failed.emit(kind, exc)
            else:
                self.succeeded.emit(kind, outcome)
        else:
            self.failed.emit(kind, payload)
        self.finished.emit(kind or "")

    def _on_finished(self, token) -> None:
        # The worker thread has emitted its last signal; forget it unless a newer
        # job has started since (then ``wait`` must join that one).
        if token == self._token and self.kind is None:
            self._thread = None
