"""The training job's YAML config: model, scaling, LoRA, checkpointing and the TRL trainer arguments.

Kept free of torch imports so that `--help`, config validation and job submission work on a machine
without the `train` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.tables import format_validation_error

Kind = Literal["sft", "dpo"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TinyModel(_Strict):
    """A randomly initialised Llama-style model with a byte-level BPE tokenizer, built offline."""

    vocab_size: int = Field(512, ge=300, description="BPE vocabulary size (special tokens included).")
    hidden_size: int = Field(64, ge=8)
    intermediate_size: int = Field(128, ge=8)
    num_hidden_layers: int = Field(2, ge=1)
    num_attention_heads: int = Field(4, ge=1)
    num_key_value_heads: int = Field(2, ge=1)
    max_position_embeddings: int = Field(1024, ge=64)
    seed: int = Field(0, description="Seed of the weight initialisation: the same spec gives the same model.")


class ModelSource(_Strict):
    """Where the starting weights come from: exactly one of `path`, `run` or `tiny`."""

    path: str | None = Field(None, description="A Hugging Face model id or a local model folder, e.g. Qwen/Qwen2.5-7B-Instruct.")
    run: str | None = Field(
        None, description="A previous training run folder (local path or fsspec URI): start from its latest checkpoint."
    )
    tiny: TinyModel | None = Field(None, description="Build a tiny random model offline (tests, CPU smoke runs).")
    cache_dir: str = Field("~/.cache/characterdial/models", description="Where tiny models are built and kept.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field("auto", description="Weight dtype when loading.")
    attn_implementation: str | None = Field(None, description="e.g. 'sdpa' or 'flash_attention_2'; None lets transformers choose.")
    chat_template: str | None = Field(
        None,
        description="A TRL training chat template by name (e.g. 'qwen2_5_training') or a .jinja path; "
        "None keeps the tokenizer's (TRL swaps in its training variant for known templates).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ModelSource:
        given = [name for name in ("path", "run", "tiny") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of model.path, model.run, model.tiny (got {', '.join(given) or 'none'})")
        return self


class Scaling(_Strict):
    """Ray Train workers: one per GPU on a GPU cluster."""

    num_workers: int = Field(1, ge=1, description="Data-parallel training workers.")
    use_gpu: bool = Field(False, description="One GPU per worker; the NCCL backend.")
    cpus_per_worker: float = Field(1, gt=0)
    accelerator_type: str | None = Field(None, description="Ray accelerator type to schedule on, e.g. 'H100'.")


class Lora(_Strict):
    """PEFT LoRA adapters instead of full fine-tuning."""

    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"


class Checkpointing(_Strict):
    """How many Ray Train checkpoints to keep in the run folder, and which."""

    num_to_keep: int | None = Field(2, ge=1, description="None keeps every checkpoint.")
    score_attribute: str | None = Field(None, description="Keep the best by this metric (e.g. eval_loss) instead of the latest.")
    score_order: Literal["min", "max"] = "min"


class TrainConfig(_Strict):
    """One training job: `kind` and `args` choose TRL's SFTConfig or DPOConfig."""

    kind: Kind
    model: ModelSource | None = Field(None, description="Starting weights; for DPO usually given by --init-from (the SFT run).")
    scaling: Scaling = Field(default_factory=Scaling)
    lora: Lora | None = None
    checkpoint: Checkpointing = Field(default_factory=Checkpointing)
    max_failures: int = Field(0, ge=-1, description="Worker-group restarts from the latest checkpoint before the run fails (-1: forever).")
    args: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments of trl.SFTConfig / trl.DPOConfig (max_steps, learning_rate, max_length, ...)."
    )


RESERVED_ARGS = {"output_dir", "report_to", "use_cpu"}


def load_config(path: Path, kind: Kind | None = None) -> TrainConfig:
    """Read and validate a YAML config; errors name the file and the field path."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: config file not found") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a training config is a mapping (kind, model, scaling, args, ...)")
    try:
        config = TrainConfig.model_validate(data)
    except ValidationError as error:
        raise ValueError(format_validation_error(error, str(path))) from None
    if kind is not None and config.kind != kind:
        raise ValueError(f"{path}: this is a {config.kind} config, not {kind}")
    reserved = RESERVED_ARGS & config.args.keys()
    if reserved:
        raise ValueError(f"{path}: args.{sorted(reserved)[0]} is set by the job (from --output and scaling.use_gpu); remove it")
    return config
