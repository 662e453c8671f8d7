"""Texts the window shows: keyboard shortcuts, tooltips of the readouts, About."""
from __future__ import annotations

# (action key, shortcut, what it does) -- the Help menu lists exactly these.
SHORTCUTS: list[tuple[str, str, str]] = [
    ("flag_tool", "F", "Flag tool on/off: a click (no drag) on the landscape places a flag"),
    ("", "Shift+click", "Place a flag at any time, whatever the tool"),
    ("", "Ctrl+click", "Move the selected flag to the clicked cell"),
    ("", "Drag", "Rotate the view (never places a flag); right-drag zooms, middle-drag pans"),
    ("delete_flag", "Del", "Delete the selected flag"),
    ("undo", "Ctrl+Z", "Undo the last edit: a flag, a triage decision, an audit, a refinement, a psi edit, "
                       "applying findings, a restore (the Edit menu says which)"),
    ("redo", "Ctrl+Shift+Z", "Redo"),
    ("refine", "Ctrl+R", "Refine the reward model with the flags (method from the Refine panel)"),
    ("stop", "Esc", "Stop a running refinement or training, keeping the last good state"),
    ("audit", "Ctrl+Shift+A", "Audit the current version: find spurious regions (findings) in the background"),
    ("next_finding", "N", "Next region of the audit (the camera flies to it)"),
    ("prev_finding", "P", "Previous region of the audit"),
    ("accept_finding", "Y", "Accept the selected region: all its findings will be patched"),
    ("reject_finding", "X", "Reject the selected region: reviewed, fine (not proposed again for this version)"),
    ("apply_accepted", "Ctrl+Return", "Apply accepted findings: patch, regression check, release a new version"),
    ("show_after", "A", "Show the current landscape"),
    ("show_before", "B", "Show the landscape before the last refinement"),
    ("show_difference", "D", "Colour by reward change (after - before)"),
    ("reverse", "Ctrl+I", "Reverse colours (yellow = high instead of yellow = low)"),
    ("reset_camera", "R", "Reset the camera"),
    ("top_view", "T", "Look from the top"),
    ("screenshot", "Ctrl+P", "Save a screenshot of the 3D view as PNG"),
    ("open_world", "Ctrl+Shift+O", "Open a world file (.toml)"),
    ("open_artifact", "Ctrl+O", "Open a reward artifact (directory)"),
    ("open_model", "Ctrl+Shift+M", "Open any reward model (ONNX, states (n, 3) -> reward): audit, flag and patch it"),
    ("export_onnx", "Ctrl+E", "Export the served reward (model, mapping and patches) as one verified ONNX graph"),
    ("train_ppo", "Ctrl+Shift+P", "Train PPO (Stable-Baselines3) on the current reward and draw where it goes"),
    ("save_artifact", "Ctrl+S", "Save the reward model as an artifact (directory)"),
    ("new_session", "Ctrl+Shift+N", "New session: keep this session's versions in a directory you choose"),
    ("open_session", "Ctrl+Alt+O", "Open a session directory (its versions and triage decisions)"),
    ("policy_cycle", "G", "Policy path: off / value iteration / gradient ascent"),
    ("flaws", "V", "Flaw overlay: mark where the reward breaks a norm (red), so a spurious region reads as one"),
    ("presenter", "F11", "Presenter mode: large fonts, thick points and lines, side panel folded (a projector)"),
    ("side_panel", "F9", "Show or hide the side panel"),
    ("message_log", "Ctrl+L", "Message log: every status message, with the time"),
    ("tour", "F2", "Tour the Flywheel: a guided tour in eight steps on this world"),
    ("train", "Ctrl+T", "Train a new reward model on the world's expert samples"),
    ("quit", "Ctrl+Q", "Quit"),
]


def shortcut(key: str) -> str:
    for k, seq, _ in SHORTCUTS:
        if k == key:
            return seq
    return ""


def shortcuts_html() -> str:
    rows = "".join(f"<tr><td><b>{seq}</b></td><td>{text}</td></tr>" for _, seq, text in SHORTCUTS)
    return f"<table cellspacing='6'>{rows}</table>"


READOUT_TIPS = {
    "version": "The reward model's version: every refinement or psi edit makes a new one "
               "(the artifact records the chain of edits).",
    "flaws": "Grid cells whose reward is above the floor although they break a norm "
             "(e.g. farther than B from the expert support): spurious reward. Lower is better. "
             "'Between grid points' counts the same on held-out probe states the refinement never "
             "saw (a finer grid, random states, the shell around the boundary), beyond B + delta: "
             "a policy moves between grid points, so this is the figure that matters to it.",
    "basin": "The basin: cells near the expert support (within B) with reward above the floor. "
             "Retention = their summed reward now / before the last refinement; a refinement "
             "should keep it near 100%.",
    "flags": "Highest reward inside any flag, against the median reward of the expert samples. "
             "After a good refinement the first is below the floor and the second stays high.",
    "correlation": "Pearson correlation between the learned reward and the world's true reward "
                   "over the grid (the true reward is the teacher's knowledge; the learner never "
                   "sees it). Higher is better.",
    "check": "Regression check after the last refinement: passed if no basin state lost more than "
             "10% of its reward (on the grid and between grid points), the basin did not shrink, and no "
             "flaw appeared outside the flagged places. Only a version that passes is released "
             "into the session's history.",
    "cycle": "This version's flywheel metrics: flaws the audit found, the accepted ones patched and "
             "refused (the basin cap kept them), flaws remaining, and the highest learned reward left "
             "inside confirmed spurious regions (all findings accepted so far).",
    "policy": "A policy consuming the reward, drawn over the landscape (G switches it): where it ends "
              "(goal, basin, spurious = a place that breaks a norm) and its true return (the teacher's "
              "reward along the path).",
    "gate": "The runtime gate on the policy's path: states blocked (served reward below the floor) "
            "and escalated (E_theta's experts disagree more than on any expert sample).",
}

ABOUT_HTML = """
<h3>Reward Landscape Explorer</h3>
<p>Train, look at, audit and refine learned reward models in 3D toy worlds.</p>
<p>The method is <b>Interactionless Inverse Reinforcement Learning</b> (IIRL):
a reward model learned from expert samples alone, without interacting with an
environment, becomes an inspectable and editable alignment artifact that is
hardened over cycles of the <i>Alignment Flywheel</i> (audit, triage, refine).</p>
<p>reward(s) = g<sub>psi</sub>(E<sub>theta</sub>(s)) - patches(s), where
E<sub>theta</sub> is a mixture-of-experts autoencoder whose reconstruction error
is the expertness signal, and g<sub>psi</sub> a monotone mapping to [0, 1].</p>
<p>Malomgré &amp; Simoens, <i>Interactionless Inverse Reinforcement Learning: A
Data-Centric Framework for Durable Alignment</i>, arXiv 2602.14844 (AAMAS 2026).</p>
<p><b>One cycle of the flywheel</b> (the Flywheel tab): <i>Audit</i> finds spurious regions
(numbered markers); step through them (N), <i>Accept</i> (Y) or <i>Reject</i> (X: reviewed,
fine) each region, adjust its radius, then <i>Apply accepted</i>: the accepted findings are
patched, the regression check runs, and a version that passes is released into the
session's history (a session directory, reopened with File &gt; Open session). Select a
version to look at it, <i>Diff</i> to colour the change, <i>Restore</i> to go back.</p>
<p>Colours: yellow = low reward, purple = high (reversible). Runs offline on a laptop CPU.</p>
"""
