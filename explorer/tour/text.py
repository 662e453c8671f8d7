"""A step's text with the session's live numbers in it.

Tour texts may name values in braces -- ``{flaws}`` cells break a norm -- so
the words always match what the window shows, whatever the model learned this
time. ``PLACEHOLDERS`` lists them (a tour file naming another is refused when it
is read); a value that does not exist yet (e.g. ``{regions}`` before an audit)
reads as "-".
"""
from __future__ import annotations

import string

PLACEHOLDERS = {
    "world": "the world's name",
    "expert_samples": "how many expert samples the learner sees",
    "floor": "the reward floor",
    "boundary": "the norm boundary B (distance from the expert support)",
    "version": "the current version",
    "versions": "how many versions the session holds",
    "flaws": "cells breaking a norm with reward above the floor, now",
    "flaw_max": "the highest reward on such a cell, now",
    "strong_flaws": "cells breaking a norm with reward of 0.5 or more",
    "basin": "cells of the expert's basin, now",
    "regions": "regions the last audit found, with the noun ('1 region', '3 regions')",
    "findings": "findings of the last audit, with the noun ('108 findings')",
    "accepted": "regions accepted",
    "rejected": "regions rejected (reviewed, fine)",
    "flaws_before": "flaws before the last refinement",
    "flaws_after": "flaws after it",
    "retention": "basin reward kept by the last refinement (percent)",
    "check": "the last regression check's verdict (passed / FAILED)",
    "policy_before": "the policy on the version before: where it ends",
    "policy_after": "the same policy on the current version",
    "notes": "what this step's actions did",
}


def names_in(text: str) -> list[str]:
    """The placeholder names a text uses (raises ValueError on a broken brace)."""
    return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]


def unknown_placeholder(text: str) -> str | None:
    """The first name in braces that is not a placeholder ('{' alone: a broken brace)."""
    try:
        names = names_in(text)
    except ValueError:
        return "{"
    return next((n for n in names if n not in PLACEHOLDERS), None)


def values(session, run=None, pair=None) -> dict:
    s = session
    w = s.world
    out = {k: "-" for k in PLACEHOLDERS}
    out.update(world=w.name, expert_samples=f"{w.expert_count}", floor=f"{w.floor:g}", boundary=f"{w.boundary:g}")
    if s.ready:
        r = s.reward()
        flawed = s.land.flaw_mask(r)
        out.update(version=f"v{s.version}", versions=f"{len(s.versions)}", flaws=f"{int(flawed.sum()):,}",
                   flaw_max=f"{float(r[flawed].max()):.2f}" if flawed.any() else "0",
                   strong_flaws=f"{int((flawed & (r >= 0.5)).sum()):,}",
                   basin=f"{int(s.land.basin_mask(r).sum()):,}")
    t = s.triage
    if t is not None:
        c = t.counts()
        out.update(regions=_n(c["regions"], "region"), findings=_n(c["findings"], "finding"),
                   accepted=f"{c['accepted']}", rejected=f"{c['rejected']}")
    chk = s.last_check
    if chk is not None:
        out.update(flaws_before=f"{chk['flaws_before']:,}", flaws_after=f"{chk['flaws_after']:,}",
                   retention=f"{chk['basin_retention']:.1%}", check="passed" if chk["passed"] else "FAILED")
    if pair is not None:
        out.update(policy_before=pair.describe("before"), policy_after=pair.describe("after"))
    if run is not None and run.index in run.results:
        notes = run.results[run.index].notes
        out["notes"] = "; ".join(notes) if notes else "-"
    return out


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def fill(text: str, session, run=None, pair=None) -> str:
    return text.format(**values(session, run, pair))
