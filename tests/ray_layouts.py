"""Run an operator's Ray plan (`apply`) over a table shuffled and cut into blocks: layout-independence tests."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa


def apply_on_ray(operator: Any, data: pa.Table, blocks: int, seed: int) -> pa.Table:
    """`operator.apply` over `data` in shuffled order (by `seed`), cut into about `blocks` Ray blocks; all rows back."""
    import ray

    order = list(range(data.num_rows))
    random.Random(seed).shuffle(order)
    shuffled = data.take(pa.array(order))
    size = -(-data.num_rows // blocks)
    ds = ray.data.from_arrow([shuffled.slice(i, size) for i in range(0, data.num_rows, size)])
    return pa.concat_tables([ray.get(ref) for ref in operator.apply(ds).to_arrow_refs()])
