"""A tiny randomly initialised Llama-style model and a byte-level BPE tokenizer, built offline and cached.

For tests and CPU smoke runs: nothing is downloaded. The tokenizer is byte-level, so any text (Chinese
included) encodes; it uses the Qwen2.5 chat tokens and TRL's shipped `qwen2_5_training.jinja` template,
whose `{% generation %}` markers make assistant-only loss work. The folder name is a hash of the spec,
and one process builds it under a file lock while the others wait, so workers never see half a model.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import shutil
import tempfile
from pathlib import Path

from jobs.train_config import TinyModel

SPECIAL_TOKENS = ["<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TRAINING_TEMPLATE = "qwen2_5_training"

# Enough text in both corpus languages for the BPE merges to be more than single bytes.
_TOKENIZER_TEXT = [
    "system user assistant You are talking with a fan in a casual chat. Stay in character for the whole conversation.",
    "Hello, how are you today? I am fine, thank you. What are you doing lately? Reading and writing, a quiet life.",
    "About you: Gender, Age, Occupation, Relationships, Experiences, Hobbies. How you talk: Style, Catchphrases, Example.",
    "你是谁？你好呀，很高兴见到你。请在整段对话中始终保持角色，以第一人称说话。你正在与朋友对话，随意闲聊。",
    "你的信息：性别、年龄、职业、人际关系、经历、爱好。你的说话方式：风格、口头禅、示例。最近在忙什么？在读书写字。",
]


def chat_template(name: str) -> str:
    """The text of a TRL-shipped chat template (`qwen2_5_training`), or of a .jinja file path."""
    if name.endswith(".jinja") or os.sep in name:
        return Path(name).expanduser().read_text(encoding="utf-8")
    resource = importlib.resources.files("trl") / "chat_templates" / f"{name}.jinja"
    if not resource.is_file():
        raise ValueError(f"TRL ships no chat template {name!r} (see trl/chat_templates/*.jinja)")
    return resource.read_text(encoding="utf-8")


def tiny_model_dir(spec: TinyModel, cache_dir: str) -> Path:
    """The cache folder of a spec: the same spec always maps to the same folder."""
    digest = hashlib.sha256(json.dumps(spec.model_dump(), sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_dir).expanduser() / f"tiny-llama-{digest}"


def build_tiny_model(spec: TinyModel, cache_dir: str) -> Path:
    """Build (once) and return the folder of a tiny model and its tokenizer."""
    from filelock import FileLock

    target = tiny_model_dir(spec, cache_dir)
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Workers on one node start together: one builds, the others wait for it and reuse the folder.
    with FileLock(str(target) + ".lock"):
        if not (target / "config.json").is_file():
            _build(spec, target)
    return target


def _build(spec: TinyModel, target: Path) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(_TOKENIZER_TEXT, trainer)
    hf_tokenizer = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<|endoftext|>")
    hf_tokenizer.chat_template = chat_template(TRAINING_TEMPLATE)

    config = LlamaConfig(
        vocab_size=len(hf_tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.max_position_embeddings,
        pad_token_id=hf_tokenizer.pad_token_id,
        eos_token_id=hf_tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    torch.manual_seed(spec.seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = hf_tokenizer.pad_token_id

    # Built beside the target and renamed into place: a crash never leaves half a model behind.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(staging)
        hf_tokenizer.save_pretrained(staging)
        (staging / "tiny_model.json").write_text(json.dumps(spec.model_dump(), indent=2) + "\n", encoding="utf-8")
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
