"""A tiny run of the benchmark suite so it cannot rot. Nothing here asserts on
time: only that every section runs and reports its ratios."""
from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.render


def test_benchmark_sections_run_and_report(tmp_path):
    from benchmarks import core_bench, display_bench
    from benchmarks.__main__ import report
    from benchmarks.common import machine

    res = {"machine": machine(), "smoke": True,
           "reevaluation": core_bench.reevaluation(smoke=True),
           "display": display_bench.display_update(smoke=True),
           "audit": core_bench.audit_cost(smoke=True)}
    rows = res["reevaluation"]["rows"]
    assert {r["edit"] for r in rows} == {"psi edit", "patch edit"}
    for r in rows:
        assert r["cells"] > 0 and math.isfinite(r["speedup_vs_rerun"]) and math.isfinite(r["ratio_to_bound"])
    assert res["display"]["speedup"] > 0
    assert all(a["evaluations"] > 0 for a in res["audit"].values())
    text = report(res)
    assert "landscape re-evaluation" in text and "display update" in text and "audit and flywheel" in text
