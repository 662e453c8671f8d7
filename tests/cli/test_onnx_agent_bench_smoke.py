"""The ONNX and agent benchmark sections run at smoke sizes and report their
ratios (nothing here asserts on time)."""
from __future__ import annotations

import math

import pytest


def test_onnx_benchmark_reports_ratios():
    from benchmarks.onnx_bench import onnx_landscape, report
    res = onnx_landscape(smoke=True)
    assert res["rows"] and all(math.isfinite(r["onnx_over_torch"]) for r in res["rows"])
    assert all(math.isfinite(r["served_onnx_over_torch_numpy"]) for r in res["rows"])
    assert "onnx/torch" in "\n".join(report(res))


def test_agent_benchmark_reports_ppo_time_and_batching():
    pytest.importorskip("stable_baselines3")
    from benchmarks.agent_bench import ppo_speed, report
    res = ppo_speed(smoke=True)
    assert res["ppo_steps"] >= 2048 and res["ppo_seconds_per_10k_steps"] > 0 and res["batching_speedup"] > 0
    assert "per 10,000 steps" in "\n".join(report(res))
