"""What every command shares: errors, --json output, progress bars, argument types."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


class UsageError(Exception):
    """A command-line argument problem (exit 2, one line)."""


def emit(args, result: dict, text: str) -> None:
    """Machine-readable JSON with --json, else a short human text."""
    if getattr(args, "json", False):
        print(json.dumps(result, indent=2, default=float))
    else:
        print(text)


def progress(total: int, desc: str, quiet: bool):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="step", disable=quiet or not sys.stderr.isatty(), leave=False,
                file=sys.stderr)


def snapshot_bar(total: int, desc: str, quiet: bool):
    """A tqdm bar and a callback that advances it from a job's snapshots."""
    bar = progress(total, desc, quiet)
    last = [0]

    def on_snapshot(snap) -> None:
        if snap.total:
            bar.total = snap.total
        bar.update(max(0, snap.step - last[0]))
        last[0] = snap.step
        if snap.loss == snap.loss:            # not NaN
            bar.set_postfix(loss=f"{snap.loss:.2e}")
    return bar, on_snapshot


def check_out(out: str, force: bool) -> None:
    p = Path(out)
    if p.exists() and not force and (not p.is_dir() or any(p.iterdir())):
        raise UsageError(f"--out {out}: already exists; choose a new directory or pass --force")


def threads(args) -> None:
    import torch
    torch.set_num_threads(getattr(args, "threads", 1) or 1)


def common(sp, json_flag: bool = True) -> None:
    if json_flag:
        sp.add_argument("--json", action="store_true", help="print machine-readable results")
    sp.add_argument("--threads", type=positive_int, default=1, help="torch threads (default 1)")
    sp.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1 or v > 10_000_000:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 10000000, got {text!r}")
    return v


def nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 0 or v >= 2**31:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 2^31-1, got {text!r}")
    return v


def session_for(args):
    """The session of --artifact (its world: built in, or --world), or a model trained
    now on --world (default cube), seeded, so the same command gives the same result."""
    from explorer.session import Session
    if getattr(args, "artifact", None):
        return Session.from_artifact(args.artifact, getattr(args, "world", None))
    return Session.train(getattr(args, "world", None) or "cube")
