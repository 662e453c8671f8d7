"""Tour files: a guided tour of the explorer as data (TOML), so a teacher can write
their own (docs/tours.md describes the format).

A tour names a world and lists steps. Each step has a title, two or three
sentences, the control it is about (``highlight``), what the session does when
the step is entered (``do``: session calls such as ``audit`` or ``accept:1``)
and how the view looks (camera, compare mode, overlays, the policy drawn, the
side-panel tab). Everything is validated when the file is read; a mistake is one
line naming the file, the field and what was expected, e.g.
``mytour.toml: field 'steps[3].do[0]': expected one of train, audit, ..., got 'acept:1'``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from worlds.errors import InputError
from worlds.limits import MAX_TOML_DEPTH, read_bounded, toml_depth

from .text import PLACEHOLDERS, unknown_placeholder

TOUR_FORMAT = "explorer-tour"
TOUR_SCHEMA = 1
MAX_TOUR_BYTES = 200_000
MAX_STEPS = 40
MAX_TITLE = 80
MAX_TEXT = 700

# Controls a step may point at (the window highlights them; docs/tours.md lists what each is).
HIGHLIGHTS = ("view", "world", "train", "progress", "flaw_overlay", "legend", "headline", "audit",
              "findings", "accept", "reject", "apply", "readouts", "check", "history", "plot", "policy",
              "flags", "refine", "psi", "undo")
# Actions: a name, or name:argument.
ACTIONS = ("train", "audit", "accept", "reject", "accept-all", "apply", "flag", "refine", "restore")
CAMERAS = ("keep", "default", "top", "spurious", "region", "basin")
COMPARES = ("after", "before", "difference")
OVERLAY_KEYS = ("flaws", "ghosts", "expert", "goals", "hazards", "boundary", "slice", "iso")
POLICIES = ("off", "value", "gradient", "compare")
TABS = ("refine", "flywheel")
STEP_KEYS = {"title", "text", "highlight", "do", "camera", "compare", "overlays", "policy", "tab", "wait"}
TOP_KEYS = {"format", "schema_version", "title", "world", "description", "steps"}


class TourError(InputError):
    """A tour file that cannot be used: names the file, the field and what was expected."""


@dataclass(frozen=True)
class Action:
    name: str
    arg: str = ""

    def __str__(self) -> str:
        return f"{self.name}:{self.arg}" if self.arg else self.name


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    highlight: str
    do: tuple[Action, ...] = ()
    camera: str = "keep"
    compare: str = "after"
    overlays: dict = field(default_factory=dict)
    policy: str = "off"
    tab: str = ""
    wait: float = 0.0             # autoplay: extra seconds to hold the step (a live view)


@dataclass(frozen=True)
class Tour:
    title: str
    world: str
    steps: tuple[Step, ...]
    description: str = ""
    source: str = ""


# ------------------------------------------------------------------ reading
def load(path: str | Path) -> Tour:
    """Read and validate a tour file."""
    path = Path(path)
    src = str(path)
    raw = read_bounded(path, src, "tour file", MAX_TOUR_BYTES, TourError)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TourError(src, "", "UTF-8 text", f"a byte that is not ({exc.reason})") from None
    if toml_depth(text) > MAX_TOML_DEPTH:
        raise TourError(src, "", f"TOML nested at most {MAX_TOML_DEPTH} deep", "deeper nesting")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TourError(src, "", "valid TOML", " ".join(str(exc).split())) from None
    return parse(data, src)


def parse(data: dict, src: str = "tour") -> Tour:
    """Validate a parsed tour (a dict as tomllib gives it)."""
    if not isinstance(data, dict):
        raise TourError(src, "", "a table", data)
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise TourError(src, unknown[0], "one of the keys " + ", ".join(sorted(TOP_KEYS)), unknown[0])
    if data.get("format") != TOUR_FORMAT:
        raise TourError(src, "format", repr(TOUR_FORMAT), data.get("format"), has_got="format" in data)
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= TOUR_SCHEMA:
        raise TourError(src, "schema_version", f"a whole number from 1 to {TOUR_SCHEMA}", version,
                        has_got="schema_version" in data)
    title = _string(data, "title", src, "title", MAX_TITLE)
    world = _string(data, "world", src, "world", 200)
    description = _string(data, "description", src, "description", MAX_TEXT, required=False)
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise TourError(src, "steps", "a list of steps ([[steps]] tables), at least one", steps,
                        has_got="steps" in data)
    if len(steps) > MAX_STEPS:
        raise TourError(src, "steps", f"at most {MAX_STEPS} steps", f"{len(steps)} steps")
    return Tour(title, world, tuple(_step(s, src, f"steps[{i}]") for i, s in enumerate(steps, 1)),
                description, src)


def _step(d, src: str, at: str) -> Step:
    if not isinstance(d, dict):
        raise TourError(src, at, "a table", d)
    unknown = sorted(set(d) - STEP_KEYS)
    if unknown:
        raise TourError(src, f"{at}.{unknown[0]}", "one of the keys " + ", ".join(sorted(STEP_KEYS)), unknown[0])
    title = _string(d, "title", src, f"{at}.title", MAX_TITLE)
    text = " ".join(_string(d, "text", src, f"{at}.text", MAX_TEXT).split())
    bad = unknown_placeholder(text)
    if bad is not None:
        raise TourError(src, f"{at}.text", "placeholders from " + ", ".join("{" + k + "}" for k in PLACEHOLDERS)
                        + " ({{ and }} for braces)", "{" + bad + "}" if bad != "{" else "an unmatched brace")
    highlight = _choice(d, "highlight", HIGHLIGHTS, src, at, required=True)
    do = d.get("do", [])
    if not isinstance(do, list):
        raise TourError(src, f"{at}.do", "a list of actions, e.g. [\"audit\"]", do)
    actions = tuple(_action(a, src, f"{at}.do[{j}]") for j, a in enumerate(do))
    camera = d.get("camera", "keep")
    name = camera.split(":", 1)[0] if isinstance(camera, str) else None
    if name not in CAMERAS or (name == "region") != (":" in camera) or \
            (name == "region" and not _positive(camera.split(":", 1)[1])):
        raise TourError(src, f"{at}.camera", "one of " + ", ".join(c for c in CAMERAS if c != "region")
                        + " or region:N (N >= 1)", camera)
    overlays = d.get("overlays", {})
    if not isinstance(overlays, dict):
        raise TourError(src, f"{at}.overlays", "a table overlay = true/false", overlays)
    for key, value in overlays.items():
        if key not in OVERLAY_KEYS:
            raise TourError(src, f"{at}.overlays.{key}", "one of " + ", ".join(OVERLAY_KEYS), key)
        if not isinstance(value, bool):
            raise TourError(src, f"{at}.overlays.{key}", "true or false", value)
    wait = d.get("wait", 0.0)
    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 <= wait <= 60:
        raise TourError(src, f"{at}.wait", "a number of seconds from 0 to 60", wait)
    return Step(title, text, highlight, actions, camera,
                _choice(d, "compare", COMPARES, src, at, default="after"), dict(overlays),
                _choice(d, "policy", POLICIES, src, at, default="off"),
                _choice(d, "tab", TABS + ("",), src, at, default=""), float(wait))


def _action(a, src: str, at: str) -> Action:
    expected = ("one of train, audit, accept:N, reject:N, accept:last, reject:last, accept-all, apply, "
                "flag:spurious, refine:local, refine:data, restore:N")
    if not isinstance(a, str):
        raise TourError(src, at, expected, a)
    name, _, arg = a.partition(":")
    ok = {
        "train": arg == "", "audit": arg == "", "accept-all": arg == "", "apply": arg == "",
        "accept": arg == "last" or _positive(arg), "reject": arg == "last" or _positive(arg),
        "flag": arg == "spurious", "refine": arg in ("local", "data"), "restore": _positive(arg),
    }.get(name, False)
    if not ok:
        raise TourError(src, at, expected, a)
    return Action(name, arg)


def _positive(text: str) -> bool:
    return text.isdigit() and int(text) >= 1


def _string(d: dict, key: str, src: str, at: str, limit: int, required: bool = True) -> str:
    if key not in d:
        if required:
            raise TourError(src, at, "this field (it is required)", has_got=False)
        return ""
    v = d[key]
    if not isinstance(v, str) or not v.strip():
        raise TourError(src, at, "a non-empty string", v)
    if len(v) > limit:
        raise TourError(src, at, f"at most {limit} characters", f"{len(v)} characters")
    return v.strip()


def _choice(d: dict, key: str, options, src: str, at: str, default: str = "", required: bool = False) -> str:
    if key not in d:
        if required:
            raise TourError(src, f"{at}.{key}", "one of " + ", ".join(options), has_got=False)
        return default
    v = d[key]
    if v not in options:
        raise TourError(src, f"{at}.{key}", "one of " + ", ".join(o for o in options if o), v)
    return v


# ------------------------------------------------------------------ built-in tours
BUILTIN = Path(__file__).with_name("builtin")


def available() -> list[str]:
    """Worlds that ship a tour."""
    return sorted(p.stem for p in BUILTIN.glob("*.toml"))


def for_world(name: str) -> Tour:
    """The built-in tour of a world (``cube``, ``ridge``)."""
    path = BUILTIN / f"{name}.toml"
    if not path.is_file():
        raise TourError("tour", "world", "a world with a built-in tour (" + ", ".join(available()) + ")", name)
    return load(path)


def resolve(name_or_path: str | Path) -> Tour:
    """A built-in tour by world name, or a tour file by path."""
    text = str(name_or_path)
    if text in available():
        return for_world(text)
    if text.endswith(".toml") or "/" in text or Path(text).exists():
        return load(text)
    return for_world(text)
