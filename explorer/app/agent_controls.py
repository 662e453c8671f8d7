"""Policy > Train PPO: a real RL agent (Stable-Baselines3) trained on the current
version's served reward, as a job with progress and Stop; its greedy path is
drawn over the landscape as it learns, and where it ends (goal, basin, spurious)
and its true return go to the status bar. The world's true reward and norms only
label the path; PPO never sees them.
"""
from __future__ import annotations

import numpy as np
import pyvista as pv

from explorer.session.jobs import Job, Snapshot

from .policy_layer import OUTCOME_COLOUR

STEPS = 30_000
NAME = "agent_path"


def sb3_missing() -> str | None:
    """Why PPO cannot run here (None: it can)."""
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        return 'Stable-Baselines3 is not installed: pip install -e ".[rl]"'
    return None


class AgentControls:
    def __init__(self, window):
        self.w = window
        self.path: np.ndarray | None = None
        self.end = ""
        self.seed = 0
        window.jobs.snapshot.connect(self._on_snapshot)
        window.session.events.model.connect(lambda _m: self.clear())
        window.session.events.reset.connect(self.clear)

    def train(self) -> None:
        """Start PPO on the current version (one seed; each press uses the next seed)."""
        why = sb3_missing()
        if why:
            self.w.status(f"Cannot train PPO: {why}")
            return
        s = self.w.session
        model, world, seed = s.model, s.world, self.seed
        self.seed += 1

        def run(stop):
            from explorer.policy.agent import ppo_job
            gen = ppo_job(model, world, STEPS, seed, stop)
            while True:
                try:
                    p = next(gen)
                except StopIteration as end:
                    return end.value
                self.path, self.end = p.trajectory, p.end          # drawn on the GUI thread
                yield Snapshot("ppo", p.step, p.total, message=f"mean served reward {p.mean_reward:.3f}; "
                               f"the greedy path now ends: {p.end}")

        def finish(result):
            self.path, self.end = result.trajectory, result.end
            self._draw()
            self.w.status(f"PPO (seed {seed}, {result.steps:,} steps{', stopped' if result.stopped else ''}) on "
                          f"v{model.version}: ends {result.end}, true return {result.true_return:.2f}"
                          + (" (it passed through the goal)" if result.reached_goal and result.end != "goal"
                             else ""))
            return result
        self.w.start_job(lambda: Job("ppo", f"Training PPO on v{model.version} (seed {seed}, {STEPS:,} steps)",
                                     run, finish), "Cannot train PPO")

    def _on_snapshot(self, snap) -> None:
        if getattr(snap, "stage", "") == "ppo":
            self._draw()

    def clear(self) -> None:
        self.path = None
        self.w.view.plotter.remove_actor(NAME, render=False)
        self.w.view.request_render()

    def _draw(self) -> None:
        world = self.w.view.world
        if self.path is None or world is None or len(self.path) < 2:
            return
        lift = 0.03 * float(np.max(world.bounds_max - world.bounds_min)) if world.is_terrain else 0.0
        pts = np.asarray(self.path, float) + np.array([0.0, 0.0, lift])
        self.w.view.plotter.add_mesh(pv.lines_from_points(pts), color=OUTCOME_COLOUR.get(self.end, "#ff7f00"),
                                     line_width=5, pickable=False, name=NAME, reset_camera=False, render=False)
        self.w.view.request_render()
