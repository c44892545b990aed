"""Training on CPU with a tiny offline model: TRL in-process (fast) and Ray Train runs (integration)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

for module in ("torch", "transformers", "trl", "peft", "datasets", "accelerate"):
    pytest.importorskip(module, reason=f"training tests need the train extra ({module} is not installed): pip install -e '.[train]'")

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from jobs.export_train import export_dpo, export_sft  # noqa: E402
from jobs.tiny_model import build_tiny_model, tiny_model_dir  # noqa: E402
from jobs.train import TrainJobError, build_trainer, data_files, load_model, read_metrics, run_training, tokens_per_sample  # noqa: E402
from jobs.train_config import Lora, ModelSource, TinyModel, TrainConfig  # noqa: E402
from tests.jobs.corpus_fixtures import standard_corpus  # noqa: E402

# One thread: the tiny model gains nothing from more, and this machine's cores are shared.
torch.set_num_threads(1)

SPEC = TinyModel(vocab_size=400, hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2)


@pytest.fixture(scope="module")
def exports():
    """SFT and DPO exports of the standard corpus (24 train rows each), a tiny-model cache and room for runs.

    Not under pytest's tmp_path: other pytest processes of the same user prune those numbered folders, which
    would pull the files from under a minutes-long Ray run on a shared machine.
    """
    with tempfile.TemporaryDirectory(prefix="chardial-train-test-") as folder:
        root = Path(folder)
        corpus = standard_corpus(root / "run", per_character=8)
        export_sft(corpus, root / "sft-data")
        export_dpo(corpus, root / "dpo-data")
        yield root


@pytest.fixture
def scratch(exports, request):
    """A fresh folder per test inside the module's folder."""
    folder = exports / "scratch" / request.node.name.replace("[", "-").replace("]", "")
    folder.mkdir(parents=True)
    return folder


def tiny_source(root) -> ModelSource:
    return ModelSource(tiny=SPEC, cache_dir=str(root / "models"))


def config(kind: str, root, workers: int = 1, **args) -> TrainConfig:
    defaults = {
        "max_steps": 4,
        "per_device_train_batch_size": 2,
        "learning_rate": 5e-3,
        "max_length": 512,
        "logging_steps": 1,
        "save_steps": 2,
        "bf16": False,
    }
    return TrainConfig(
        kind=kind, model=tiny_source(root) if kind == "sft" else None, scaling={"num_workers": workers}, args=defaults | args
    )


def logits(model, tokenizer) -> torch.Tensor:
    batch = tokenizer(["Hello, I am Sam. 你好呀"], return_tensors="pt")
    model.eval()
    with torch.no_grad():
        return model(**batch).logits


def test_tiny_model_is_built_offline_once_with_a_training_chat_template(exports):
    folder = build_tiny_model(SPEC, str(exports / "models"))
    assert folder == tiny_model_dir(SPEC, str(exports / "models"))
    modified = os.path.getmtime(folder / "model.safetensors")
    assert build_tiny_model(SPEC, str(exports / "models")) == folder
    assert os.path.getmtime(folder / "model.safetensors") == modified
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.decode(tokenizer("你好呀，Ada!")["input_ids"]) == "你好呀，Ada!"
    assert "{% generation %}" in tokenizer.chat_template
    assert AutoModelForCausalLM.from_pretrained(folder).config.vocab_size == len(tokenizer)


def test_sft_trains_only_on_the_character_turns_of_the_export(exports, scratch):
    model, tokenizer = load_model(tiny_source(exports), None)
    files = data_files(str(exports / "sft-data"))
    trainer = build_trainer("sft", config("sft", exports), model, tokenizer, files, str(scratch), [])
    row = next(r for r in trainer.train_dataset if "你是林黛玉" in tokenizer.decode(r["input_ids"]))
    learned = tokenizer.decode([label for label in row["labels"] if label != -100])
    assert "你好呀，我是林黛玉，很高兴见到你。" in learned and "在读书写字，日子很安静。" in learned
    assert "朋友" not in learned and "你是林黛玉" not in learned  # user turns and the system prompt are context only
    assert learned.count("<|im_end|>") == 2  # the model learns to stop after each reply


def test_sft_loss_goes_down_and_the_checkpoint_reloads_with_the_same_logits(exports, scratch):
    model, tokenizer = load_model(tiny_source(exports), None)
    files = data_files(str(exports / "sft-data"))
    trainer = build_trainer("sft", config("sft", exports, max_steps=24, save_steps=24), model, tokenizer, files, str(scratch), [])
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert sum(losses[-4:]) / 4 < 0.8 * sum(losses[:4]) / 4, losses

    reloaded = AutoModelForCausalLM.from_pretrained(scratch / "checkpoint-24")
    reloaded_tokenizer = AutoTokenizer.from_pretrained(scratch / "checkpoint-24")
    trained = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    assert torch.equal(logits(trained, tokenizer), logits(reloaded, reloaded_tokenizer))


def test_dpo_loss_goes_down_from_the_starting_policy(exports, scratch):
    model, tokenizer = load_model(tiny_source(exports), None)
    files = data_files(str(exports / "dpo-data"))
    trainer = build_trainer("dpo", config("dpo", exports, max_steps=12, save_steps=12), model, tokenizer, files, str(scratch), [])
    assert {"prompt_ids", "chosen_ids", "rejected_ids"} <= set(trainer.train_dataset.column_names)
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses[0] == pytest.approx(0.6931, abs=0.01)  # log(2): policy == reference at the start
    assert losses[-1] < 0.5 * losses[0]


def test_a_lora_sft_checkpoint_is_merged_into_its_base_when_the_next_stage_loads_it(exports, scratch):
    model, tokenizer = load_model(tiny_source(exports), None)
    files = data_files(str(exports / "sft-data"))
    lora = config("sft", exports, max_steps=2, save_steps=2).model_copy(update={"lora": Lora(r=4, alpha=8, dropout=0.0)})
    trainer = build_trainer("sft", lora, model, tokenizer, files, str(scratch), [])
    trainer.train()
    checkpoint = scratch / "checkpoint-2"
    assert (checkpoint / "adapter_config.json").is_file() and not (checkpoint / "model.safetensors").exists()

    merged, merged_tokenizer = load_model(ModelSource(path=str(checkpoint)), None)
    assert type(merged).__name__ == "LlamaForCausalLM"  # plain weights again: DPO can put a fresh adapter on top
    trained = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    assert torch.allclose(logits(trained, tokenizer), logits(merged, merged_tokenizer), atol=1e-5)
    base, _ = load_model(tiny_source(exports), None)
    assert not torch.allclose(logits(base, tokenizer), logits(merged, merged_tokenizer), atol=1e-5)


def test_tokens_per_sample_counts_what_the_policy_sees_after_shuffles_and_filters():
    import datasets

    sft = datasets.Dataset.from_dict({"input_ids": [[1, 2, 3], [4]]}).select([1, 0, 1])
    assert tokens_per_sample("sft", sft) == pytest.approx(5 / 3)
    dpo = datasets.Dataset.from_dict({"prompt_ids": [[1, 2]], "chosen_ids": [[3]], "rejected_ids": [[4, 5, 6]]})
    assert tokens_per_sample("dpo", dpo) == 8  # the prompt goes through the model twice, with each reply


def test_a_job_without_train_split_or_with_the_wrong_export_is_refused(exports, scratch):
    with pytest.raises(TrainJobError, match="no train.parquet"):
        run_training("sft", config("sft", exports), str(scratch), str(scratch / "run"))
    with pytest.raises(TrainJobError, match="is a `dpo` export but this is a sft job"):
        run_training("sft", config("sft", exports), str(exports / "dpo-data"), str(scratch / "run"))
    with pytest.raises(TrainJobError, match="args.learning_rat is not an argument of trl.SFTConfig; did you mean 'learning_rate'"):
        run_training("sft", config("sft", exports, learning_rat=1e-3), str(exports / "sft-data"), str(scratch / "run"))
    with pytest.raises(TrainJobError, match="no starting model"):
        run_training("dpo", config("dpo", exports), str(exports / "dpo-data"), str(scratch / "run"))


@pytest.fixture(scope="module")
def sft_run(exports, ray_cluster):
    """SFT on Ray Train into a file:// URI: two workers for one epoch, then resumed on one worker to step 8."""
    run_dir = (exports / "sft").as_uri()
    two = run_training(
        "sft", config("sft", exports, workers=2, max_steps=-1, num_train_epochs=1, save_steps=3), str(exports / "sft-data"), run_dir
    )
    resumed = run_training("sft", config("sft", exports, max_steps=8), str(exports / "sft-data"), run_dir)
    return two, resumed


@pytest.mark.integration
def test_sft_with_two_workers_shards_the_data_once_and_writes_checkpoints_and_metrics(exports, sft_run):
    two, _ = sft_run
    # 24 rows, 2 per device, 2 workers: 6 steps an epoch. Sharding twice would give 3; not sharding, 12.
    assert two.metrics["step"] == 6 and two.metrics["world_size"] == 2
    assert two.checkpoint == (exports / "sft" / "checkpoint-0000006").as_uri()
    reports = read_metrics((exports / "sft").as_uri())
    assert [r["step"] for r in reports[:3]] == [3, 6, 6]
    assert all("eval_loss" in r for r in reports[:2])  # evaluated on the character-disjoint validation split at every save
    folder = exports / "sft" / "checkpoint-0000006" / "checkpoint"
    model, tokenizer = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    assert torch.isfinite(logits(model, tokenizer)).all()


@pytest.mark.integration
def test_sft_run_resumes_from_its_latest_checkpoint(exports, sft_run):
    _, resumed = sft_run
    assert (resumed.metrics["step"], resumed.metrics["world_size"]) == (8, 1)
    state = json.loads((exports / "sft" / "checkpoint-0000008" / "checkpoint" / "trainer_state.json").read_text())
    assert [entry["step"] for entry in state["log_history"] if "loss" in entry] == list(range(1, 9))  # steps 1-6 from the first run
    assert [r["step"] for r in read_metrics(str(exports / "sft"))] == [3, 6, 6, 8, 8]
    assert sorted(p.name for p in (exports / "sft").glob("checkpoint-*")) == ["checkpoint-0000006", "checkpoint-0000008"]
    summary = json.loads((exports / "sft" / "summary.json").read_text())
    assert summary["checkpoint"] == resumed.checkpoint and summary["metrics"]["final"] is True


@pytest.mark.integration
@pytest.mark.parametrize("workers", [1, 2])
def test_dpo_starts_from_the_sft_checkpoint(exports, sft_run, workers, scratch):
    summary = run_training(
        "dpo", config("dpo", exports, workers=workers), str(exports / "dpo-data"), str(scratch / "dpo"), init_from=str(exports / "sft")
    )
    assert summary.model == f"checkpoint {exports / 'sft' / 'checkpoint-0000008'}"
    assert summary.metrics["step"] == 4 and summary.metrics["world_size"] == workers
    first = read_metrics(str(scratch / "dpo"))[0]
    assert {"rewards/chosen", "rewards/rejected", "eval_loss"} <= set(first)
    assert os.path.isfile(os.path.join(summary.checkpoint, "checkpoint", "model.safetensors"))


@pytest.mark.integration
def test_a_run_folder_is_not_resumed_as_the_other_kind(exports, sft_run):
    with pytest.raises(TrainJobError, match="holds a sft run; resuming it as dpo would mix the two"):
        run_training("dpo", config("dpo", exports), str(exports / "dpo-data"), str(exports / "sft"), init_from=str(exports / "sft"))
