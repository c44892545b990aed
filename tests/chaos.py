"""A test operator that stops in the middle of a run once, so a test can kill a Ray worker or the driver.

Loaded by import path (`op: tests.chaos:PauseOnce`), as any user operator would be.
"""

from __future__ import annotations

import os
import time
from typing import ClassVar

import pyarrow as pa
from pydantic import Field

from operators.base import Operator, OperatorConfig
from operators.columns import INPUT_FILE


class PauseOnceConfig(OperatorConfig):
    marker_dir: str = Field(description="Folder for the marker file; the pause happens once per marker.")
    on_file: str = Field("", description="Pause only on a block from an input file whose path contains this.")
    seconds: float = Field(120.0, description="How long to wait to be killed.")


class PauseOnce(Operator):
    name: ClassVar[str] = "tests.pause_once"
    Config = PauseOnceConfig
    summary = "Writes its pid to MARKER_DIR/paused and sleeps, once; a pass-through afterwards."

    def __call__(self, batch: pa.Table) -> pa.Table:
        config: PauseOnceConfig = self.config  # type: ignore[assignment]
        files = set(batch.column(INPUT_FILE).to_pylist())
        marker = os.path.join(config.marker_dir, "paused")
        if any(config.on_file in (f or "") for f in files) and not os.path.exists(marker):
            os.makedirs(config.marker_dir, exist_ok=True)
            with open(marker + ".tmp", "w") as handle:
                handle.write(str(os.getpid()))
            os.replace(marker + ".tmp", marker)
            time.sleep(config.seconds)
        return batch
