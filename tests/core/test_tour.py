"""Tours as data: the built-in tours read, a bad tour file is refused in one line
naming the file and the field, and a tour's steps run as session calls with
Back going through the session's own undo history (no Qt)."""
from __future__ import annotations

import pytest

from explorer.tour import TourError, TourRun, available, for_world, load, parse
from explorer.tour.text import PLACEHOLDERS, fill


def _tour(**step) -> dict:
    base = {"title": "t", "text": "Some words.", "highlight": "view"}
    return {"format": "explorer-tour", "schema_version": 1, "title": "A tour", "world": "cube",
            "steps": [{**base, **step}]}


def test_the_built_in_tours_read_and_have_eight_steps():
    assert {"cube", "ridge"} <= set(available())
    for name in ("cube", "ridge"):
        t = for_world(name)
        assert t.world == name and len(t.steps) == 8
        assert all(s.title and s.text and s.highlight for s in t.steps)
        actions = [str(a) for s in t.steps for a in s.do]
        assert actions[:2] == ["train", "audit"] and actions[-1] == "apply"
        assert "reject:last" in actions and ("accept:1" in actions or "accept-all" in actions)


@pytest.mark.parametrize("step, field, expected", [
    ({"do": ["acept:1"]}, "steps[1].do[0]", "one of train, audit"),
    ({"do": ["accept:0"]}, "steps[1].do[0]", "accept:N"),
    ({"highlight": "nowhere"}, "steps[1].highlight", "one of view"),
    ({"camera": "region"}, "steps[1].camera", "region:N"),
    ({"overlays": {"flaws": "yes"}}, "steps[1].overlays.flaws", "true or false"),
    ({"overlays": {"fog": True}}, "steps[1].overlays.fog", "one of flaws"),
    ({"text": "There are {flawz} flaws."}, "steps[1].text", "placeholders from"),
    ({"text": "A broken { brace."}, "steps[1].text", "placeholders from"),
    ({"wait": 100}, "steps[1].wait", "from 0 to 60"),
    ({"colour": "red"}, "steps[1].colour", "one of the keys"),
    ({"title": ""}, "steps[1].title", "a non-empty string"),
])
def test_a_bad_step_is_refused_naming_the_file_and_the_field(step, field, expected):
    with pytest.raises(TourError) as err:
        parse(_tour(**step), "mytour.toml")
    msg = str(err.value)
    assert msg.startswith(f"mytour.toml: field '{field}': expected") and expected in msg and "\n" not in msg


def test_a_tour_file_that_is_not_toml_or_not_a_tour_is_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("format = 'explorer-tour'\nsteps = [\n")
    with pytest.raises(TourError, match="bad.toml: expected valid TOML"):
        load(bad)
    other = tmp_path / "other.toml"
    other.write_text('format = "reward-explorer-flags"\n')
    with pytest.raises(TourError, match="other.toml: field 'format': expected 'explorer-tour'"):
        load(other)
    with pytest.raises(TourError, match="field 'steps'"):
        parse({**_tour(), "steps": []}, "empty.toml")


def test_every_placeholder_fills_without_a_model_and_with_one(cube, cube_model):
    from explorer.session import Session
    text = " ".join("{" + k + "}" for k in PLACEHOLDERS)
    blank = fill(text, Session(cube))
    assert "{" not in blank and "cube" in blank
    s = Session(cube, cube_model.clone())
    assert f"v{s.version}" in fill("{version}", s) and fill("{flaws}", s) == f"{s.metrics()['flaws']:,}"


def test_a_tour_runs_as_session_calls_and_back_undoes_exactly_what_a_step_did(cube, cube_model):
    from explorer.session import Session
    tour = parse({"format": "explorer-tour", "schema_version": 1, "title": "flywheel", "world": "cube",
                  "steps": [{"title": "world", "text": "The world.", "highlight": "view"},
                            {"title": "audit", "text": "{regions}.", "highlight": "findings",
                             "do": ["audit"]},
                            {"title": "triage", "text": "{notes}.", "highlight": "accept",
                             "do": ["accept:1", "reject:last", "reject:9"]},
                            {"title": "apply", "text": "{flaws_before} -> {flaws_after}.", "highlight": "check",
                             "do": ["apply"]}]}, "test")
    s = Session(cube, cube_model.clone())
    run = TourRun(tour, s)

    def enter(i):
        gen = run.enter(i)
        outcome = None
        while True:
            try:
                job = gen.send(outcome) if outcome is not None else next(gen)
            except StopIteration:
                return
            outcome = s.run(job)

    for i in range(4):
        enter(i)
    assert s.version == 2 and s.last_check["passed"]
    notes = run.results[2].notes
    assert notes[0].startswith("region 1 accepted") and "no region 9 to reject" in notes[2]
    assert int(fill("{flaws_after}", s).replace(",", "")) < int(fill("{flaws_before}", s).replace(",", ""))
    run.back()                                   # undo the apply: v1 current, the triage back
    assert run.index == 2 and s.version == 1 and s.triage is not None and s.triage.counts()["accepted"] == 1
    run.back()                                   # undo the decisions
    assert s.triage.counts()["accepted"] == 0 and s.triage.counts()["rejected"] == 0
    run.back()                                   # undo the audit
    assert run.index == 0 and s.triage is None and not s.commands.done
    enter(1)
    enter(2)
    run.restart()
    assert run.index == -1 and s.triage is None and s.version == 1 and not s.commands.done
