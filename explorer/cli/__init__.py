"""Command line: ``explorer [gui|worlds|train|refine|render|audit|cycle|history|figure|...]``.

A thin front over the session model: each command builds or opens a ``Session``
and calls the same methods the window calls, so the CLI and the window can
never disagree. Qt is imported only by the ``gui`` command, so the headless
commands start fast and need no display. Every command lives in a module of
this package that exposes ``register(subparsers)``; the subparser's ``run``
default is the command.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .common import UsageError

MODULES = ("app_cmds", "model_cmds", "flywheel_cmds", "lesson_cmds", "open_model", "export_onnx", "agent",
           "tour")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="explorer", description="Reward Landscape Explorer: train, audit and "
                                "refine interactionless-IRL reward models in 3D toy worlds")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command")
    for name in MODULES:
        try:
            mod = importlib.import_module(f"explorer.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"explorer.cli.{name}":
                continue                    # a command this checkout does not ship
            raise
        mod.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["gui", *argv]               # `explorer` alone opens the window
    args = parser.parse_args(argv)
    check = getattr(args, "check", None)
    if check is not None:
        check(parser, args)
    from explorer.refine import RefinementError
    from worlds.errors import InputError
    try:
        return args.run(args)
    except (InputError, RefinementError, UsageError, FloatingPointError, RecursionError) as exc:
        if getattr(args, "debug", False):
            raise
        text = str(exc) if not isinstance(exc, RecursionError) else "input nested too deeply to read"
        print(f"explorer {args.command}: error: {' '.join(text.split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"explorer {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:                 # e.g. `explorer ... --json | head`
        sys.stderr.close()
        return 0
