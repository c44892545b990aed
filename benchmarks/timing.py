"""Timing helpers the benchmark scripts share: best-of-N wall times."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_times(repeat: int, variants: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Best wall time of each variant; runs interleave round-robin so machine load hits all of them alike."""
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(repeat):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def best(repeat: int, work: Callable[[], object]) -> float:
    """Best wall time of `repeat` runs of `work`."""
    return best_times(repeat, {"work": work})["work"]
