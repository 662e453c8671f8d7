"""Timing helpers: every figure is a median over repeats with its spread, and
every target is a ratio against a baseline measured in the same process."""
from __future__ import annotations

import platform
import statistics
import time
from typing import Callable

import numpy as np
import torch


def timeit(fn: Callable[[], object], repeats: int = 7, warmup: int = 1, min_time: float = 0.0) -> dict:
    for _ in range(warmup):
        fn()
    xs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = 0
        while True:
            fn()
            n += 1
            if time.perf_counter() - t0 >= min_time:
                break
        xs.append((time.perf_counter() - t0) / n)
    return {"median_s": statistics.median(xs), "min_s": min(xs), "max_s": max(xs), "repeats": repeats}


def peak_flops(n: int = 1536, repeats: int = 5) -> float:
    """Measured fp32 matmul FLOP/s of this CPU with the current torch threads."""
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    t = timeit(lambda: a @ b, repeats=repeats)
    return 2 * n ** 3 / t["min_s"]


def memory_bandwidth(mb: int = 256, repeats: int = 5) -> float:
    """Measured bytes/s of a large float32 copy (read + write)."""
    src = np.ones(mb * 1024 * 1024 // 4, np.float32)
    dst = np.empty_like(src)
    t = timeit(lambda: np.copyto(dst, src), repeats=repeats)
    return 2 * src.nbytes / t["min_s"]


def machine() -> dict:
    import os
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "platform": platform.platform()}


def exponent(sizes, times) -> float:
    """Slope of log(time) against log(size): the scaling exponent."""
    x, y = np.log(np.asarray(sizes, float)), np.log(np.asarray(times, float))
    return float(np.polyfit(x, y, 1)[0])
