"""Running a step generator to its end.

Long computations -- training, patching, a flywheel cycle, PPO, the lessons --
are generators: each ``yield`` is a progress report a window can draw, and the
generator's ``return`` value is the result. A window's job runner drives them in
a worker thread; a script, the CLI and the tests drive them here, in their own.
"""
from __future__ import annotations

from typing import Any, Callable, Generator, TypeVar

Step = TypeVar("Step")


def drive(gen: Generator[Step, None, Any], on_step: Callable[[Step], None] | None = None) -> Any:
    """Iterate ``gen`` to its end in this thread, handing each yielded step to
    ``on_step``; returns what the generator returned."""
    while True:
        try:
            step = next(gen)
        except StopIteration as end:
            return end.value
        if on_step is not None:
            on_step(step)
