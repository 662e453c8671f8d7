"""Worlds: the 3D toy worlds the explorer opens (built-in or a user's own TOML file).

    >>> import worlds
    >>> worlds.available()
    ['canyon', 'cube', 'ridge', 'twin-goals']
    >>> w = worlds.load("cube")            # or worlds.load("path/to/my_world.toml")
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import InputError, WorldError
from .loader import SCHEMA_VERSION, load_file, parse_bytes
from .world import Grid, Norm, Region, World

DEFAULT_WORLD = "cube"

__all__ = ["load", "available", "builtin_path", "World", "Grid", "Norm", "Region",
           "WorldError", "InputError", "DEFAULT_WORLD", "SCHEMA_VERSION", "parse_bytes"]


def _builtin_dir() -> Path:
    return Path(str(resources.files(__package__) / "builtin"))


def available() -> list[str]:
    """Names of the built-in worlds."""
    return sorted(p.stem for p in _builtin_dir().glob("*.toml"))


def builtin_path(name: str) -> Path:
    return _builtin_dir() / f"{name}.toml"


def load(name_or_path: str | Path) -> World:
    """Load a built-in world by name, or a user's world file by path."""
    text = str(name_or_path)
    if text in available():
        return load_file(builtin_path(text), source=f"builtin:{text}")
    path = Path(text).expanduser()
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise WorldError(text, "", "an existing world file (.toml)", "no such file", has_got=True)
        return load_file(path)
    raise WorldError(text, "", f"a built-in world ({', '.join(available())}) or a path to a .toml file",
                     text)
