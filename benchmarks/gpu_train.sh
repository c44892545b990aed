#!/usr/bin/env bash
# SFT then DPO on one GPU through the real job (Ray Train + TRL), a few hundred steps each, with a
# ~190M-parameter Llama-style model built offline (no downloads), and a report of tokens/s and MFU.
#
#   PYTHON=/path/to/venv/bin/python benchmarks/gpu_train.sh [OUT_DIR]
#
# Needs the `train` extra with a CUDA build of torch in $PYTHON's environment; nothing is fetched.
# Budget: under 8 minutes on an H100/H200 (model build ~20 s, SFT 300 steps, DPO 200 steps).
# Knobs: SFT_STEPS, DPO_STEPS, BATCH, HIDDEN, LAYERS, PEAK_TFLOPS (default: dense bf16 peak of the
# detected card). USE_GPU=false DTYPE=float32 HIDDEN=64 LAYERS=2 SFT_STEPS=4 DPO_STEPS=4 BATCH=2 is a CPU
# smoke run of the script itself (its MFU line is then meaningless).
# MFU is an estimate: 6·N FLOPs per trained token (SFT), 8·N for DPO (policy forward+backward plus the
# reference forward), N = parameters; attention FLOPs are left out, so MFU is slightly understated.
set -euo pipefail

PYTHON=${PYTHON:-python}
OUT=${1:-${OUT:-out/gpu-train-bench}}
SFT_STEPS=${SFT_STEPS:-300}
DPO_STEPS=${DPO_STEPS:-200}
BATCH=${BATCH:-16}
HIDDEN=${HIDDEN:-1024}
LAYERS=${LAYERS:-16}
USE_GPU=${USE_GPU:-true}
DTYPE=${DTYPE:-bfloat16}
BF16=$([ "$DTYPE" = bfloat16 ] && echo true || echo false)
export RAY_AUTH_MODE=disabled HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -rf "$OUT/corpus" "$OUT/sft-data" "$OUT/dpo-data" "$OUT/sft" "$OUT/dpo"

"$PYTHON" - "$OUT" <<'EOF'
import sys
from pathlib import Path
from tests.jobs.corpus_fixtures import standard_corpus
from jobs.export_train import export_dpo, export_sft

out = Path(sys.argv[1])
corpus = standard_corpus(out / "corpus", per_character=400)   # 2,000 dialogues, 2,000 pairs, zh and en
export_sft(corpus, out / "sft-data")
export_dpo(corpus, out / "dpo-data")
EOF

model_block() {
  cat <<EOF
  tiny:
    vocab_size: 2048
    hidden_size: $HIDDEN
    intermediate_size: $((HIDDEN * 11 / 4))
    num_hidden_layers: $LAYERS
    num_attention_heads: 16
    num_key_value_heads: 8
    max_position_embeddings: 2048
  cache_dir: $OUT/models
  dtype: $DTYPE
  attn_implementation: sdpa
EOF
}

cat > "$OUT/sft.yaml" <<EOF
kind: sft
model:
$(model_block)
scaling: {num_workers: 1, use_gpu: $USE_GPU, cpus_per_worker: 1}
checkpoint: {num_to_keep: 1}
args:
  max_steps: $SFT_STEPS
  per_device_train_batch_size: $BATCH
  learning_rate: 3.0e-4
  warmup_steps: 20
  max_length: 1024
  bf16: $BF16
  logging_steps: 25
  save_steps: $SFT_STEPS
  eval_strategy: "no"
  dataloader_num_workers: 2
EOF

cat > "$OUT/dpo.yaml" <<EOF
kind: dpo
model:
  dtype: $DTYPE
  attn_implementation: sdpa
  run: $OUT/sft
scaling: {num_workers: 1, use_gpu: $USE_GPU, cpus_per_worker: 1}
checkpoint: {num_to_keep: 1}
args:
  max_steps: $DPO_STEPS
  per_device_train_batch_size: $BATCH
  learning_rate: 5.0e-6
  beta: 0.1
  max_length: 1024
  bf16: $BF16
  logging_steps: 25
  save_steps: $DPO_STEPS
  eval_strategy: "no"
  dataloader_num_workers: 2
EOF

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -n 1 > "$OUT/gpu.txt" || echo "no GPU" > "$OUT/gpu.txt"
cat "$OUT/gpu.txt"
for kind in sft dpo; do
  start=$SECONDS
  "$PYTHON" -m jobs.train "$kind" --config "$OUT/$kind.yaml" --data "$OUT/$kind-data" --output "$OUT/$kind" > "$OUT/$kind.log" 2>&1 \
    || { tail -n 60 "$OUT/$kind.log"; exit 1; }
  tail -n 12 "$OUT/$kind.log"
  echo "$kind: $((SECONDS - start)) s wall, Ray start and model load included"
done

"$PYTHON" - "$OUT" <<'EOF'
import json
import os
import sys
from pathlib import Path

out = Path(sys.argv[1])
gpu = (out / "gpu.txt").read_text().split(",")[0].strip()
# Dense bf16 peak per card (TFLOPS); H100 SXM and H200 share the same tensor cores.
peaks = {"H200": 989.4, "H100 80GB HBM3": 989.4, "H100 NVL": 835.0, "H100 PCIe": 756.0, "A100": 312.0}
peak = float(os.environ.get("PEAK_TFLOPS") or next((v for k, v in peaks.items() if k in gpu), 989.4))
rows = []
for kind, flops_per_token in (("sft", 6), ("dpo", 8)):
    metrics = json.loads((out / kind / "summary.json").read_text())["metrics"]
    runtime = metrics["train_runtime"]
    if "num_tokens" in metrics:
        tokens = metrics["num_tokens"]  # TRL's own count of tokens fed to the policy (padding excluded)
    else:
        tokens = metrics["tokens_per_sample"] * metrics["train_samples_per_second"] * runtime
    tokens_per_s = tokens / runtime
    mfu = flops_per_token * metrics["num_parameters"] * tokens_per_s / (peak * 1e12)
    rows.append((kind, metrics["step"], metrics["num_parameters"], runtime, tokens_per_s, mfu, metrics.get("train_loss")))
report = [f"GPU: {gpu} (peak {peak} TFLOPS bf16 dense)", "kind  steps  params       runtime_s  tokens/s    MFU     train_loss"]
for kind, steps, params, runtime, tps, mfu, loss in rows:
    report.append(f"{kind:5} {steps:6} {params:12,} {runtime:9.1f} {tps:10,.0f} {mfu:7.2%} {loss:10.4f}")
print("\n".join(report))
(out / "report.txt").write_text("\n".join(report) + "\n")
EOF
