"""kill -9 at random moments while artifacts, sessions and flags are being
written: afterwards everything that was listed still loads, and nothing that
was saved before is lost or half-written."""
from __future__ import annotations

import json
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
from explorer.model.flags import load_flags
from explorer.session.store import History

WRITER = textwrap.dedent('''
    import sys, time, torch
    torch.set_num_threads(1)
    import worlds
    from explorer.model.flags import FlagSet
    from explorer.session.store import History
    from explorer.model.learning import config_for, train
    root = sys.argv[1]
    w = worlds.load("cube")
    m = train(w, config_for(w, steps=50))
    h = History.open(root)
    fs = FlagSet()
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        fs.add((0.1 * (i % 10), 0.0, 0.0), 0.2)
        fs.save(root + "/flags.json", "cube")
        child = m.next_version()
        child.metrics = {"i": i}
        h.add(child, f"write {i}")
''')


@pytest.fixture(scope="module")
def seeded_session(tmp_path_factory, cube, cube_model):
    root = tmp_path_factory.mktemp("crash") / "session"
    History.create(root, cube_model)
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
        time.sleep(rng.uniform(0.05, 0.6))
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
        h = History.open(root)                     # session.json is always whole
        recovered += len(h.recovered)
        versions = [e.version for e in h.entries]
        assert len(versions) == len(set(versions))
        assert seen_versions <= set(versions)      # nothing listed before is lost
        for e in h.entries:                        # every listed version loads completely
            artifact.load(root / e.directory)
        seen_versions = set(versions)
        if (root / "flags.json").exists():
            flags, world = load_flags(root / "flags.json")
            assert world == "cube"
    print(f"\nkill points tried: {kills}; versions afterwards: {len(seen_versions)}, all loadable; "
          f"unlisted versions recovered: {recovered}")
    assert kills == 8 and len(seen_versions) > 1
