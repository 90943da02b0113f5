#!/usr/bin/env bash
# The GPU check: the nano architecture with random weights on one GPU, a few GRPO and RREDCoT steps at 1,024
# completion tokens, one-pass vs naive values; one JSON file (see scripts/gpu_check.py). At most 8 minutes.
#
# Here, with network, fill wheels/gpu_check/ for the GPU machine's Python (default 3.12):
#     scripts/gpu_check.sh --download [PYTHON_VERSION]
# There (torch, transformers and accelerate installed, no network), from the repository root:
#     scripts/gpu_check.sh [OUT_JSON]                  # default results/gpu_check.json
# The wheels go, without their dependencies, into their own folder ahead of the system's packages: the GPU
# machine's torch is never replaced. rredcot runs from the checkout (no install).
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=wheels/gpu_check
SITE=${GPU_CHECK_SITE:-/tmp/rredcot-gpu-check}

if [[ "${1:-}" == "--download" ]]; then
    python3 -m pip download --no-deps --only-binary=:all: --python-version "${2:-3.12}" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$WHEELS" -r scripts/gpu_check_requirements.txt
    exit
fi

python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$SITE" \
    --find-links "$WHEELS" -r scripts/gpu_check_requirements.txt
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
timeout 420 python3 scripts/gpu_check.py --out "${1:-results/gpu_check.json}"
