"""What a result was computed on: CPU model, the instruction set torch's kernels use, threads, libraries.

CPU runs here are bit-reproducible on one machine (seeded draws, deterministic algorithms) but not across
machines: a different CPU or instruction set (AVX2 vs AVX-512 kernels) or thread count changes floating-point
sums, hence the SFT base model and everything trained from it. Each SFT and RL run writes this record next to
its model (``machine.json``) and the report lists the machines behind its numbers.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import torch

from rredcot.io import read_json, write_json

MACHINE_FILE = "machine.json"
LIBRARIES = ("torch", "transformers", "trl", "accelerate", "numpy")
# The CPU flags that select different torch kernels (and so different floating-point results).
ISA_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")


def _cpu_info() -> tuple[str, list[str]]:
    """CPU model name and the :data:`ISA_FLAGS` it has, from /proc/cpuinfo (Linux) or ``platform``."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine(), []
    fields = dict(
        line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith(" ")
    )
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = set(fields.get("flags", "").split())
    return fields.get("model name", platform.machine()), [flag for flag in ISA_FLAGS if flag in flags]


def describe_machine() -> dict:
    """The record written as ``machine.json``: enough to tell whether two runs can be bit-identical."""
    model, flags = _cpu_info()
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_model": model,
        "cpu_flags": flags,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "processes": int(os.environ.get("WORLD_SIZE", 1)),  # the ranks of a distributed run
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "libraries": versions,
    }


def write_machine(directory: str | os.PathLike) -> Path:
    """Write :func:`describe_machine` to ``directory/machine.json``; return its path."""
    path = Path(directory) / MACHINE_FILE
    path.write_text(json.dumps(describe_machine(), indent=1, sort_keys=True) + "\n")
    return path


def collect_machines(
    directories: Sequence[str | os.PathLike], out: str | os.PathLike, log: str | os.PathLike | None = None
) -> None:
    """The ``machine.json`` of each model directory that has one, in the order given, as one log: a list of
    ``{"model": directory, "machine": record}``; ``log`` gets how many had one. The report's machines table
    reads it, and it ships with the other logs, so a clone without the models lists the same machines."""
    found = [Path(d) for d in directories if (Path(d) / MACHINE_FILE).exists()]
    write_json(out, [{"model": str(d), "machine": read_json(d / MACHINE_FILE)} for d in found])
    if log is not None:
        Path(log).write_text(f"{len(found)} of {len(directories)} model directories have a {MACHINE_FILE}\n")
