#!/usr/bin/env bash
# backend: vllm end to end on one GPU, offline: a tiny random model -> profiles -> dialogues; reports tokens/s.
# Needs the GPU environment (see docs/synthesis.md, "A GPU node"): PYTHON points at a venv with the project's
# `vllm` extra (vllm, transformers, tokenizers, ray 2.60). No hub access is needed. Stops after 8 minutes.
# Usage: PYTHON=/opt/chardial-gpu/bin/python benchmarks/gpu_synthesis.sh [--characters 16 --dialogues 4 --json out.json]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" -c "import vllm, ray; print('vllm', vllm.__version__, 'ray', ray.__version__)" || {
  echo "no vllm in $PYTHON: install the GPU environment first (docs/synthesis.md)" >&2; exit 2; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
exec timeout 480 "$PYTHON" benchmarks/gpu_synthesis.py "$@"
