"""Ray Train jobs: SFT then DPO with TRL over the exported Parquet files.

`python -m jobs.train sft|dpo --config CONFIG.yaml --data EXPORT_DIR --output RUN_DIR`

The driver starts a `TorchTrainer`; each worker loads the *full* export with `datasets` and hands it to
TRL's `SFTTrainer` (assistant-only loss) or `DPOTrainer`, and accelerate shards it across the workers.
(Giving TRL a per-worker Ray shard would shard it twice: see docs/training.md.) RUN_DIR is the Ray
Train run folder (a local path or any fsspec URI such as s3://bucket/runs/sft-1): checkpoints go
there as `checkpoint-<step>/checkpoint/` (a Hugging Face model folder), metrics are reported to Ray
and logged to `metrics.jsonl`, and `summary.json` is written at the end. Running the same command
again with the same RUN_DIR resumes from the latest checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from jobs.train_config import Kind, ModelSource, TrainConfig

SPLIT_FILES = {"train": "train.parquet", "validation": "validation.parquet"}
CHECKPOINT_SUBDIR = "checkpoint"  # the Hugging Face folder inside a Ray checkpoint (as RayTrainReportCallback lays it out)
SNAPSHOT_FILE = "checkpoint_manager_snapshot.json"


class TrainJobError(ValueError):
    """The job cannot start as asked; the message says what to fix."""


@dataclass
class TrainSummary:
    """What a finished run produced; written as `summary.json` in the run folder."""

    kind: str
    run_dir: str
    data: str
    model: str
    checkpoint: str | None
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


def filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the path inside it, for a local path or a URI (pyarrow's own schemes, else fsspec's)."""
    if "://" not in location:
        return pafs.LocalFileSystem(), str(Path(location).expanduser().resolve())
    try:
        return pafs.FileSystem.from_uri(location)
    except (pa.ArrowInvalid, ValueError):
        import fsspec  # schemes pyarrow lacks (gcs via gcsfs, abfs, ...) go through fsspec

        fs, path = fsspec.core.url_to_fs(location)
        return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


def join(location: str, *parts: str) -> str:
    """Join onto a local path or a URI."""
    return posixpath.join(location, *parts) if "://" in location else os.path.join(location, *parts)


def _exists(location: str) -> bool:
    fs, path = filesystem(location)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def data_files(data: str) -> dict[str, str]:
    """The export's split files that training uses: train (required) and validation (optional)."""
    if "://" not in data:
        data = str(Path(data).expanduser().resolve())
    files = {split: join(data, name) for split, name in SPLIT_FILES.items() if _exists(join(data, name))}
    if "train" not in files:
        raise TrainJobError(f"{data}: no train.parquet; pass the folder written by `chardial export sft|dpo`")
    return files


def check_export_kind(data: str, kind: Kind) -> None:
    """Refuse an SFT export for DPO and the other way round, by the export's own record."""
    manifest = join(data, "export.json")
    if not _exists(manifest):
        return
    fs, path = filesystem(manifest)
    with fs.open_input_stream(path) as stream:
        exported = json.loads(stream.read()).get("kind")
    if exported and exported != kind:
        raise TrainJobError(f"{data} is a `{exported}` export but this is a {kind} job; export with `chardial export {kind}`")


def check_trainer_args(kind: Kind, args: dict[str, Any]) -> None:
    """Catch a misspelt trainer argument on the driver, before any worker starts."""
    import dataclasses
    import difflib

    from trl import DPOConfig, SFTConfig

    known = {f.name for f in dataclasses.fields(SFTConfig if kind == "sft" else DPOConfig)}
    for name in sorted(set(args) - known):
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TrainJobError(f"args.{name} is not an argument of trl.{'SFTConfig' if kind == 'sft' else 'DPOConfig'}{hint}")


def resolve_init(init_from: str) -> ModelSource:
    """--init-from: a previous run folder (its latest checkpoint), or a model folder / hub id."""
    if _exists(join(init_from, SNAPSHOT_FILE)) or _exists(join(init_from, CHECKPOINT_SUBDIR)):
        return ModelSource(run=init_from)
    return ModelSource(path=init_from)


def latest_checkpoint(run: str) -> Any:
    """The checkpoint a run folder starts from: its latest, or the folder itself when it is one checkpoint."""
    import ray.train

    fs, path = filesystem(run)
    if _exists(join(run, CHECKPOINT_SUBDIR)):
        return ray.train.Checkpoint(path, filesystem=fs)
    if not _exists(join(run, SNAPSHOT_FILE)):
        raise TrainJobError(f"{run}: not a training run folder (no {SNAPSHOT_FILE}) and not a checkpoint (no {CHECKPOINT_SUBDIR}/)")
    checkpoint = ray.train.Result.from_path(path, storage_filesystem=fs).checkpoint
    if checkpoint is None:
        raise TrainJobError(f"{run}: the run has no checkpoint yet; train it first")
    return checkpoint


# ----------------------------------------------------------------------------- worker side


def load_model(source: ModelSource, checkpoint: Any) -> tuple[Any, Any]:
    """Model and tokenizer on this worker: from a run checkpoint, a tiny offline build, or a path / hub id."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from jobs.tiny_model import build_tiny_model, chat_template

    dtype = "auto" if source.dtype == "auto" else getattr(torch, source.dtype)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if source.attn_implementation:
        kwargs["attn_implementation"] = source.attn_implementation

    def load(folder: str) -> tuple[Any, Any]:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        if os.path.isfile(os.path.join(folder, "adapter_config.json")):
            # A LoRA checkpoint: fold the adapter into its base so the next stage starts from full weights.
            from peft import AutoPeftModelForCausalLM

            model = AutoPeftModelForCausalLM.from_pretrained(folder, **kwargs).merge_and_unload()
        else:
            model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
        return model, tokenizer

    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            model, tokenizer = load(os.path.join(folder, CHECKPOINT_SUBDIR))
    elif source.tiny is not None:
        model, tokenizer = load(str(build_tiny_model(source.tiny, source.cache_dir)))
    else:
        model, tokenizer = load(str(source.path))
    if source.chat_template:
        tokenizer.chat_template = chat_template(source.chat_template)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def trainer_arguments(kind: Kind, config: TrainConfig, output_dir: str, has_validation: bool) -> Any:
    """TRL's SFTConfig / DPOConfig: the job's defaults, then the config's `args` on top."""
    from trl import DPOConfig, SFTConfig

    defaults: dict[str, Any] = {
        "save_strategy": "steps",
        "save_steps": 50,
        "logging_steps": 10,
        "save_total_limit": 2,  # local copies only; the run folder keeps checkpoint.num_to_keep
        "eval_strategy": "steps" if has_validation else "no",
        "per_device_eval_batch_size": config.args.get("per_device_train_batch_size", 8),
        "dataloader_num_workers": 0,
        "dataset_num_proc": None,  # TRL's multiprocess map can hang inside Ray workers (trl#1964)
    }
    if kind == "sft":
        defaults["assistant_only_loss"] = True
    merged = defaults | config.args
    if has_validation and "eval_steps" not in config.args:
        # Evaluate whenever we save, so every reported checkpoint carries its eval_loss.
        merged["eval_steps"] = merged["save_steps"]
    merged |= {"output_dir": output_dir, "report_to": "none", "use_cpu": not config.scaling.use_gpu}
    return (SFTConfig if kind == "sft" else DPOConfig)(**merged)


def _report_callback() -> Any:
    """A TrainerCallback that reports every save to Ray Train; rank 0 attaches the checkpoint."""
    import ray.train
    from transformers import TrainerCallback

    class ReportToRay(TrainerCallback):
        """Like Ray's RayTrainReportCallback, but only rank 0 uploads (no N copies of the same weights)."""

        def on_save(self, args, state, control, **kwargs):
            metrics: dict[str, Any] = {}
            for entry in state.log_history:
                metrics.update(entry)
            metrics["step"] = state.global_step
            name = f"checkpoint-{state.global_step:07d}"
            source = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            if ray.train.get_context().get_world_rank() != 0 or not os.path.isdir(source):
                ray.train.report(metrics, checkpoint=None, checkpoint_dir_name=name)
                return
            with tempfile.TemporaryDirectory() as staging:
                # Hard links: the upload reads the files Trainer just wrote without copying gigabytes.
                shutil.copytree(source, os.path.join(staging, CHECKPOINT_SUBDIR), copy_function=_link_or_copy)
                ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(staging), checkpoint_dir_name=name)

    return ReportToRay()


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def build_trainer(
    kind: Kind, config: TrainConfig, model: Any, tokenizer: Any, files: dict[str, str], output_dir: str, callbacks: list
) -> Any:
    """The TRL trainer over the full export; accelerate shards batches across the workers."""
    import datasets
    from trl import DPOTrainer, SFTTrainer

    columns = ["messages"] if kind == "sft" else ["prompt", "chosen", "rejected"]
    loaded = datasets.load_dataset("parquet", data_files=files)
    missing = set(columns) - set(loaded["train"].column_names)
    if missing:
        raise TrainJobError(f"{files['train']}: no column {sorted(missing)[0]!r}; is this a `chardial export {kind}` folder?")
    loaded = loaded.select_columns(columns)
    args = trainer_arguments(kind, config, output_dir, "validation" in loaded)
    peft_config = None
    if config.lora is not None:
        from peft import LoraConfig

        lora = config.lora
        peft_config = LoraConfig(
            r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=lora.target_modules, task_type="CAUSAL_LM"
        )
    trainer_class = SFTTrainer if kind == "sft" else DPOTrainer
    return trainer_class(
        model=model,
        args=args,
        train_dataset=loaded["train"],
        eval_dataset=loaded.get("validation"),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )


def tokens_per_sample(kind: Kind, dataset: Any) -> float:
    """Mean tokens a sample feeds through the policy (DPO: prompt + chosen and prompt + rejected)."""
    import pyarrow.compute as pc

    weights = {"input_ids": 1} if kind == "sft" else {"prompt_ids": 2, "chosen_ids": 1, "rejected_ids": 1}
    total = 0
    # Arrow batches: token counts without turning millions of token lists into Python objects.
    for batch in dataset.with_format("arrow").iter(batch_size=8192):
        total += sum(weight * pc.sum(pc.list_value_length(batch[column])).as_py() for column, weight in weights.items())
    return total / max(len(dataset), 1)


def train_loop_per_worker(loop_config: dict[str, Any]) -> None:
    """One Ray Train worker: load model and data, resume if a checkpoint exists, train, report."""
    import ray.train
    import torch.distributed as dist

    kind: Kind = loop_config["kind"]
    config = TrainConfig.model_validate(loop_config["config"])
    context = ray.train.get_context()
    model, tokenizer = load_model(ModelSource.model_validate(loop_config["model"]), loop_config["init_checkpoint"])

    # One local folder per node, shared by its ranks (rank files of a checkpoint land together), emptied per run.
    output_dir = os.path.join(tempfile.gettempdir(), "characterdial-train", loop_config["run_key"])
    if context.get_local_rank() == 0:
        shutil.rmtree(output_dir, ignore_errors=True)
        os.makedirs(output_dir, exist_ok=True)
    if dist.is_available() and dist.is_initialized():
        dist.barrier()

    trainer = build_trainer(kind, config, model, tokenizer, loop_config["files"], output_dir, [_report_callback()])
    resume = ray.train.get_checkpoint()
    if resume is not None:
        with resume.as_directory() as folder:
            result = trainer.train(resume_from_checkpoint=os.path.join(folder, CHECKPOINT_SUBDIR))
    else:
        result = trainer.train()

    metrics: dict[str, Any] = {}
    for entry in trainer.state.log_history:
        metrics.update(entry)
    metrics |= result.metrics
    metrics |= {
        "step": trainer.state.global_step,
        "num_parameters": sum(p.numel() for p in trainer.model.parameters()),
        "trainable_parameters": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        "tokens_per_sample": tokens_per_sample(kind, trainer.train_dataset),
        "world_size": context.get_world_size(),
        "final": True,
    }
    ray.train.report(metrics)
    # Every checkpoint is in the run folder now; the node-local copies (gigabytes for a real model) can go.
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
    if context.get_local_rank() == 0:
        shutil.rmtree(output_dir, ignore_errors=True)


# ----------------------------------------------------------------------------- driver side


def _metrics_log(run_uri: str) -> Any:
    """A Ray Train callback (runs in the controller) that appends every rank-0 report to metrics.jsonl."""
    import ray.train

    class MetricsLog(ray.train.UserCallback):
        def __init__(self, uri: str):
            self.uri = uri
            self.lines: list[str] = []

        def after_report(self, run_context, metrics, checkpoint):
            fs, path = filesystem(self.uri)
            log = posixpath.join(path, "metrics.jsonl")
            if not self.lines and fs.get_file_info(log).type == pafs.FileType.File:
                with fs.open_input_stream(log) as stream:  # a resumed run continues the log of the runs before it
                    self.lines = stream.read().decode().splitlines()
            entry = {"checkpoint": checkpoint.path if checkpoint else None, **(metrics[0] if metrics else {})}
            self.lines.append(json.dumps(entry, default=str))
            fs.create_dir(path, recursive=True)
            # Rewritten whole: object stores cannot append, and the log stays small (one line per save).
            with fs.open_output_stream(log) as stream:
                stream.write(("\n".join(self.lines) + "\n").encode())

    return MetricsLog(run_uri)


def read_metrics(run_dir: str) -> list[dict[str, Any]]:
    """The reports of a run, oldest first (one per checkpoint, then the final one)."""
    fs, path = filesystem(run_dir)
    log = posixpath.join(path, "metrics.jsonl")
    if fs.get_file_info(log).type != pafs.FileType.File:
        return []
    with fs.open_input_stream(log) as stream:
        return [json.loads(line) for line in stream.read().decode().splitlines() if line.strip()]


def run_training(
    kind: Kind, config: TrainConfig, data: str, output: str, *, init_from: str | None = None, ray_address: str | None = None
) -> TrainSummary:
    """Run (or resume) one SFT or DPO job on Ray Train and write `summary.json` into the run folder."""
    if config.kind != kind:
        raise TrainJobError(f"the config is for {config.kind}, not {kind}")
    source = resolve_init(init_from) if init_from else config.model
    if source is None:
        raise TrainJobError(
            "no starting model: set model: in the config or pass --init-from (for DPO: the SFT run folder, e.g. --init-from runs/sft)"
        )
    files = data_files(data)
    check_export_kind(data, kind)
    check_trainer_args(kind, config.args)
    run_dir = output if "://" in output else str(Path(output).expanduser().resolve())
    storage_fs, run_path = filesystem(run_dir)
    storage_path, name = posixpath.split(run_path.rstrip("/"))
    storage_fs.create_dir(storage_path, recursive=True)
    summary_file = posixpath.join(run_path, "summary.json")
    if storage_fs.get_file_info(summary_file).type == pafs.FileType.File:
        with storage_fs.open_input_stream(summary_file) as stream:
            previous = json.loads(stream.read()).get("kind")
        if previous != kind:
            raise TrainJobError(f"{output} holds a {previous} run; resuming it as {kind} would mix the two. Pick another --output")

    import ray
    import ray.train
    from ray.train.torch import TorchTrainer

    if not ray.is_initialized():
        # "local" rather than None: never attach by accident to some other Ray instance running on this machine.
        ray.init(address=ray_address or os.environ.get("RAY_ADDRESS") or "local")
    init_checkpoint = latest_checkpoint(source.run) if source.run else None
    scaling = config.scaling
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={
            "kind": kind,
            "config": config.model_dump(),
            "model": source.model_dump(),
            "init_checkpoint": init_checkpoint,
            "files": files,
            "run_key": f"{name}-{hashlib.sha256(run_dir.encode()).hexdigest()[:12]}",
        },
        scaling_config=ray.train.ScalingConfig(
            num_workers=scaling.num_workers,
            use_gpu=scaling.use_gpu,
            resources_per_worker={"CPU": scaling.cpus_per_worker} | ({"GPU": 1} if scaling.use_gpu else {}),
            accelerator_type=scaling.accelerator_type,
        ),
        run_config=ray.train.RunConfig(
            name=name,
            storage_path=storage_path,
            storage_filesystem=storage_fs,
            checkpoint_config=ray.train.CheckpointConfig(
                num_to_keep=config.checkpoint.num_to_keep,
                checkpoint_score_attribute=config.checkpoint.score_attribute,
                checkpoint_score_order=config.checkpoint.score_order,
            ),
            failure_config=ray.train.FailureConfig(max_failures=config.max_failures),
            callbacks=[_metrics_log(run_dir)],
            # Ray Train's print patch tees even captured prints to the log, so dill's internal dis.dis()
            # (run by datasets' fingerprinting) would flood the worker logs with bytecode.
            worker_runtime_env={"env_vars": {"RAY_TRAIN_ENABLE_PRINT_PATCH": "0"}},
        ),
    )
    result = trainer.fit()
    reports = read_metrics(run_dir)
    final = next((r for r in reversed(reports) if r.get("final")), reports[-1] if reports else {})
    summary = TrainSummary(
        kind=kind,
        run_dir=run_dir,
        data=data,
        model=f"checkpoint {init_checkpoint.path}" if init_checkpoint is not None else str(source.path or "tiny"),
        checkpoint=join(run_dir, posixpath.relpath(result.checkpoint.path, run_path)) if result.checkpoint else None,
        metrics={k: v for k, v in final.items() if k != "checkpoint"},
        config=config.model_dump(),
    )
    with storage_fs.open_output_stream(posixpath.join(run_path, "summary.json")) as stream:
        stream.write((json.dumps(asdict(summary), indent=2, default=str) + "\n").encode())
    return summary


if __name__ == "__main__":
    from jobs.cli_train import train_app

    train_app(prog_name="python -m jobs.train")
