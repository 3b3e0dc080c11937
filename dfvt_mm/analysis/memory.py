"""Peak memory of one call: ``torch.cuda``'s peak statistics on a GPU, the profiler's allocator
events on the CPU.

On the CPU PyTorch keeps no peak statistic. ``torch.profiler`` with ``profile_memory=True``
records one event per allocation (+bytes) and per free (-bytes) of its CPU allocator; their
running sum in time order is the memory in use since the start, and its maximum the peak. The
events are read from the profiler's kineto results (``prof.profiler.kineto_results``, not a
documented API) because no public one gives them in time order: ``key_averages()`` sums them per
operator (no peak), and ``export_memory_timeline``, the public timeline, is deprecated in torch
2.13 (it warns) and measured wrong here (36 MiB for three 4 MiB tensors held together, 13 GiB
for a ResNet-18 pass on two 64x64 images); ``torch.cuda.memory._record_memory_history`` is
CUDA-only. What it sees: every tensor and operator workspace that goes through PyTorch's CPU
allocator; not memory a library allocates itself (oneDNN's primitive caches, onnxruntime's
arena) nor Python objects.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile


def cpu_peak_memory(fn: Callable[[], Any]) -> int:
    """The most bytes ``fn`` holds at once in PyTorch's CPU allocator, over what it started
    with. Memory freed during ``fn`` but allocated before shows as negative and so cannot raise
    the peak. Results ``fn`` returns count until they are dropped here."""
    # Kineto logs every profiler start and stop at its default level (and, without a GPU, a
    # device-count error); one profiler runs per measured model.
    os.environ.setdefault('KINETO_LOG_LEVEL', '99')
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [
        (event.start_ns(), event.nbytes())
        for event in prof.profiler.kineto_results.events()
        if event.name() == '[memory]' and event.device_type() == torch.autograd.DeviceType.CPU
    ]
    in_use = peak = 0
    for _, nbytes in sorted(events):
        in_use += nbytes
        peak = max(peak, in_use)
    return peak


def peak_memory(fn: Callable[[], Any], device: torch.device) -> dict[str, int]:
    """Memory of one call of ``fn`` on ``device``.

    Returns:
        ``activation_peak``: the most the call holds at once over what was allocated before it;
        on a GPU also ``peak``: ``torch.cuda.max_memory_allocated`` (weights and inputs
        included). On the CPU the caller adds weights and inputs (see :func:`cpu_peak_memory`).
    """
    gc.collect()
    if device.type != 'cuda':
        return dict(activation_peak=cpu_peak_memory(fn))
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device)
    return dict(activation_peak=peak - base, peak=peak)
