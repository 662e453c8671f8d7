"""A whole Alignment Flywheel, scripted with the Session API: what the window does,
from a script or a notebook.

    python examples/flywheel_session.py [--world cube] [--cycles 6] [--out DIR] [--small]

Each cycle: audit the current version (Phase 1); triage the regions as a person
would -- accept the ones far from the expert support, reject ("reviewed, fine")
the nearest one -- (Phase 2); apply the accepted findings: patch, regression
check, red team again, release (Phase 3). Then the session is saved, reopened,
and one undo shows that the history survived. ``--small`` (or
EXPLORER_EXAMPLE_SMALL=1) trains briefly and runs two cycles, for CI.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import torch

from explorer import Session


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--world", default="cube")
    p.add_argument("--cycles", type=int, default=6)
    p.add_argument("--out", help="session directory to write (default: a new temporary directory)")
    p.add_argument("--small", action="store_true", default=os.environ.get("EXPLORER_EXAMPLE_SMALL") == "1")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    s = Session.train(args.world, seed=0, steps=600 if args.small else None)
    print(f"{s.world.name} v{s.version}: {s.metrics()['flaws']:,} flaws, {s.metrics()['basin_cells']} basin cells")
    rows = []
    for cycle in range(1, (2 if args.small else args.cycles) + 1):
        report = s.audit()                                        # Phase 1
        regions = s.triage.regions
        if not regions:
            print(f"cycle {cycle}: the audit found nothing; the flywheel stops")
            break
        # Phase 2, as a person might: the region nearest the support is reviewed fine,
        # the others (farther out: spurious extrapolation) are accepted.
        nearest = min(regions, key=lambda r: r.representative.priority) if len(regions) > 1 else None
        for r in regions:
            s.decide("reject" if r is nearest else "accept", r.cluster)
        result = s.apply_accepted()                               # Phase 3
        m = s.metrics()
        rows.append({"cycle": cycle, "version": s.version, "findings": len(report.findings),
                     "regions": len(regions), "released": result.released, "flaws": m["flaws"],
                     "basin_cells": m["basin_cells"], "policy": m.get("policy_outcome")})
        print(f"cycle {cycle}: {len(report.findings)} findings in {len(regions)} regions, "
              f"{'released v' + str(s.version) if result.released else 'not released'}; flaws {m['flaws']:,}, "
              f"basin {m['basin_cells']} cells, value iteration ends: {m.get('policy_outcome')}")
        if not result.released:
            break
    out = Path(args.out or tempfile.mkdtemp(prefix="explorer-flywheel-")) / "session"
    s.save(out)
    t = Session.open(out)
    assert t.version == s.version and t.flags == s.flags and t.metrics() == s.metrics()
    undone = t.undo_text()
    t.undo()
    print(f"saved {out} and reopened it at v{s.version}; {undone.lower()} -> now v{t.version}")
    return {"rows": rows, "session": str(out), "final_version": s.version, "after_undo": t.version}


if __name__ == "__main__":
    main()
    sys.exit(0)
