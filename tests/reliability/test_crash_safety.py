"""kill -9 at random moments while artifacts, sessions and flags are being
written: afterwards everything that was listed still loads, and nothing that
was saved before is lost or half-written."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from explorer.model import artifact
from explorer.session import Session
from explorer.session.store import SessionStore

WRITER = textwrap.dedent('''
    import sys, torch
    torch.set_num_threads(1)
    from explorer.flywheel.pipeline import CycleSettings
    from explorer.session import Session
    s = Session.open(sys.argv[1])
    s.settings = CycleSettings(probe_states=0)  # grid checks only: many versions a second to kill into
    import explorer.session.jobs, explorer.flywheel.pipeline  # noqa: F401  (imports done before "ready")
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        f = s.flag((0.9 - 0.05 * (i % 30), 0.9, 0.9), 0.2)
        try:
            s.refine("local")                   # a new version: its artifact, then the journal line
        except Exception:
            pass
        if i % 3 == 0:
            s.save(s.root)                      # session.json rewritten
''')


@pytest.fixture(scope="module")
def seeded_session(tmp_path_factory, cube, cube_model):
    root = tmp_path_factory.mktemp("crash") / "session"
    s = Session(cube, cube_model.clone())
    s.save(root)
    s.close()
    return root


def test_kill_9_at_random_points_loses_nothing(seeded_session):
    root = seeded_session
    rng = random.Random(1)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    kills = 0
    recovered = 0
    seen_versions: set[int] = set()
    for attempt in range(8):
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE, env=env, text=True)
        assert p.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.2, 1.5))
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
        store, state, listed_again = SessionStore.open(root)   # session.json is always whole
        recovered += len(listed_again)
        versions = [e.version for e in state.versions]
        assert len(versions) == len(set(versions))
        assert seen_versions <= set(versions)      # nothing listed before is lost
        for e in state.versions:                   # every listed version loads completely
            artifact.load(root / e.directory)
        seen_versions = set(versions)
        s = Session.open(root)                     # and the session opens, journal replayed
        assert s.version in seen_versions and all(f.radius == 0.2 for f in s.flags)
        s.close()
    print(f"\nkill points tried: {kills}; versions afterwards: {len(seen_versions)}, all loadable; "
          f"unlisted versions recovered: {recovered}")
    assert kills == 8 and len(seen_versions) > 1
