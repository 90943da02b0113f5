#!/usr/bin/env bash
# The GPU check: the nano architecture with random weights, a few GRPO and RREDCoT steps at 1,024 completion
# tokens, one-pass vs naive values, MC rollouts through vLLM (where installed) and, with 2 GPUs, two ZeRO-3
# steps with 2 processes; one JSON file (see scripts/gpu_check.py). At most 9 minutes after the install.
#
# Here, with network, fill wheels/gpu_check/ for the GPU machine's Python (default 3.12):
#     scripts/gpu_check.sh --download [PYTHON_VERSION]
# There (torch, transformers and accelerate installed, no network), from the repository root:
#     scripts/gpu_check.sh [OUT_JSON [OPTIONS]]        # default results/gpu_check.json; OPTIONS go to gpu_check.py
# The folder may hold only what the machine lacks (its own numpy, pandas, scipy... then serve). The wheels go,
# without their dependencies, into a virtual environment that sees the system's packages
# (python3 -m venv --system-site-packages), ahead of them: the GPU machine's torch is used, never replaced.
# (A plain --target folder outside the interpreter's prefix breaks datasets' fingerprinting through dill.)
# rredcot runs from the checkout (no install).
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=wheels/gpu_check
VENV=${GPU_CHECK_VENV:-/tmp/rredcot-gpu-check}

if [[ "${1:-}" == "--download" ]]; then
    python3 -m pip download --no-deps --only-binary=:all: --python-version "${2:-3.12}" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$WHEELS" -r scripts/gpu_check_requirements.txt
    exit
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv --system-site-packages "$VENV"
    # python3 may itself run in a virtual environment (the machine's torch in it), which a new venv's
    # system site does not include: name its site-packages in a .pth, behind the venv's own.
    python3 -c 'import site; print("\n".join(site.getsitepackages()))' \
        >"$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/machine-site.pth"
fi
# Every wheel in the folder: all of the requirements, or only those the machine lacks or has at other versions.
"$VENV/bin/python" -m pip install -q --no-index --no-deps --no-compile --ignore-installed "$WHEELS"/*.whl
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
timeout 540 "$VENV/bin/python" scripts/gpu_check.py --out "${1:-results/gpu_check.json}" "${@:2}"
