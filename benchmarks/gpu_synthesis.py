"""End-to-end check of `backend: vllm` on one GPU: tiny random model -> profiles -> dialogues, tokens/s.

Run by benchmarks/gpu_synthesis.sh in an environment with the `vllm` extra. The model is random, so the
text is noise and most rows end as rejects (checks fail); what this proves is the plumbing: the engine
runs under ray.data.llm, structured outputs come back as JSON, every planned row comes out (ledger),
usage is counted, and how many tokens/s the path moves.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from operators.base import RunContext
from operators.columns import REJECT_REASON
from operators.synthesis.dialogues import DialoguesConfig, SynthesizeDialogues
from operators.synthesis.plan import PlanConfig, SynthesisPlan
from operators.synthesis.profiles import ProfilesConfig, SynthesizeProfiles
from operators.synthesis.usage import summarize
from operators.synthesis.vllm_backend import apply_vllm

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def make_tiny_model(directory: Path) -> None:
    """A 2-layer random Llama and a byte-level BPE tokenizer trained on a few lines, saved offline."""
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    corpus = ["{\"name\": \"Ada\", \"turns\": [{\"role\": \"user\", \"text\": \"hello\"}]}", "你好，今天天气很好。", "The character talks with a fan."] * 50
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                                               initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    hf_tokenizer = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<|endoftext|>")
    hf_tokenizer.chat_template = CHATML
    config = LlamaConfig(vocab_size=len(hf_tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=8192, pad_token_id=hf_tokenizer.pad_token_id,
                         eos_token_id=hf_tokenizer.eos_token_id, bos_token_id=None)
    LlamaForCausalLM(config).save_pretrained(directory)
    hf_tokenizer.save_pretrained(directory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--characters", type=int, default=16, help="Invented characters (one seed, count=N).")
    parser.add_argument("--dialogues", type=int, default=4, help="Dialogues per character.")
    parser.add_argument("--max-tokens", type=int, default=256, help="Completion cap per request.")
    parser.add_argument("--workdir", default=None, help="Where to put the model, seeds and staging (default: a temp dir).")
    parser.add_argument("--json", default=None, help="Also write the figures to this JSON file.")
    args = parser.parse_args()

    import ray

    work = Path(args.workdir or tempfile.mkdtemp(prefix="chardial-gpu-"))
    model = work / "tiny-model"
    started = time.perf_counter()
    make_tiny_model(model)
    seeds = work / "seeds.yaml"
    seeds.write_text(f"- {{category: daily_life, brief: a baker, language: en, count: {args.characters}}}\n", encoding="utf-8")
    planned = pa.concat_tables(list(SynthesisPlan(PlanConfig(paths=[str(seeds)], dialogues_per_character=args.dialogues)).read(str(seeds), 1000)))

    ray.init(runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}})
    context = RunContext("gpu-check", str(work / "staging"))
    llm = {"backend": "vllm", "model": str(model), "max_tokens": args.max_tokens, "temperature": 0.8,
           "vllm": {"engine_kwargs": {"max_model_len": 8192, "gpu_memory_utilization": 0.5, "enforce_eager": True}, "batch_size": 64}}
    ds = ray.data.from_arrow(planned)
    ds = apply_vllm(ds, SynthesizeProfiles, ProfilesConfig(llm=llm), context)
    ds = apply_vllm(ds, SynthesizeDialogues, DialoguesConfig(llm=llm, turns=4), context)
    generation_started = time.perf_counter()
    out = pa.concat_tables(ray.get(ds.to_arrow_refs()))
    elapsed = time.perf_counter() - generation_started

    usage = summarize(pq.read_table(work / "staging" / "llm_usage"))
    prompt = sum(u["prompt_tokens"] for u in usage)
    completion = sum(u["completion_tokens"] for u in usage)
    reasons = collections.Counter(out.column(REJECT_REASON).to_pylist())
    figures = {
        "planned_rows": planned.num_rows, "rows_out": out.num_rows, "ledger_balanced": out.num_rows == planned.num_rows,
        "live": reasons.pop(None, 0), "rejected_by_reason": dict(reasons), "usage": usage,
        "generation_s": round(elapsed, 2), "total_s": round(time.perf_counter() - started, 2),
        "prompt_tokens_per_s": round(prompt / elapsed, 1), "completion_tokens_per_s": round(completion / elapsed, 1),
    }
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
    if not figures["ledger_balanced"] or completion == 0:
        raise SystemExit("FAILED: rows lost or no tokens generated")


if __name__ == "__main__":
    main()
