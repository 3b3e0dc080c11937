"""What a run ran on: the CPU as ``lscpu`` describes it, the GPU, the versions.

``lscpu`` (util-linux) names the CPU model and its instruction-set flags on Linux; elsewhere
``platform`` gives what it can. The flags tell whether the CPU computes bfloat16 natively
(``avx512_bf16`` or AMX on x86, ``bf16`` on Arm): without them PyTorch's bf16 autocast runs, but
emulated, so the benchmark reports no bf16 figure there.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import subprocess

import torch

#: ``lscpu`` flags of native bfloat16 arithmetic.
BF16_FLAGS = ('avx512_bf16', 'amx_bf16', 'bf16')


@functools.lru_cache(maxsize=1)
def lscpu() -> dict[str, str]:
    """``lscpu``'s fields (``'Model name'``, ``'Flags'``...), empty where it is not there."""
    if shutil.which('lscpu') is None:
        return {}
    try:
        out = subprocess.run(['lscpu', '-J'], capture_output=True, text=True, timeout=10).stdout
        fields = json.loads(out)['lscpu']
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return {}
    # Newer lscpu versions nest fields under "children"; flatten them.
    flat: dict[str, str] = {}
    stack = list(fields)
    while stack:
        entry = stack.pop(0)
        flat[entry['field'].rstrip(':')] = entry.get('data') or ''
        stack.extend(entry.get('children', []))
    return flat


def cpu_model() -> str:
    """The CPU's model name (``lscpu``'s, e.g. ``'Intel(R) Xeon(R) Processor'``)."""
    return lscpu().get('Model name') or platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """The CPU's instruction-set flags as ``lscpu`` lists them (empty where unknown)."""
    return set(lscpu().get('Flags', '').split())


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (see :data:`BF16_FLAGS`)."""
    return bool(cpu_flags() & set(BF16_FLAGS))


def describe_device(device: torch.device | str) -> str:
    """The GPU's name, or the CPU's model and core count."""
    device = torch.device(device)
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'{cpu_model()} CPU, {os.cpu_count()} cores'


def machine() -> dict:
    """What a job ran on: device, CPU model, cores, torch threads, versions."""
    return dict(
        device=torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu',
        cpu=cpu_model(),
        cpu_count=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        python=platform.python_version(),
        torch=torch.__version__,
    )
