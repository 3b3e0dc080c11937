"""The package's one timing loop (the benchmark and the ablations time with it, as does
``tools/analysis/speed_vs_commit.py``), and the calls it times."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}


def time_calls(
    fns: dict[str, Callable[[], object]],
    warmup: int = 2,
    iters: int = 10,
    min_time: float = 0.0,
    clock: str = 'wall',
    settle: int = 1,
) -> dict[str, list[float]]:
    """Seconds of each timed call of each function in ``fns``.

    The functions take turns (``warmup`` untimed rounds, then rounds until every function has
    ``iters`` timed calls and ``min_time`` seconds), so that a change in the load of a shared
    machine slows all of them alike instead of whichever ran at the time. In each turn a
    function first makes ``settle`` untimed calls: the runtimes keep worker threads of their own
    (PyTorch's OpenMP pool, OpenVINO's TBB arena, onnxruntime's pool), and the first call after
    another runtime's meets that runtime's threads still holding the cores. Measured on a 2-core
    AMD EPYC, DFvT-T eager at batch 1 took 20 ms a call on its own, 32 ms timed right after
    OpenVINO calls, and 17-23 ms with one untimed call first. ``clock='cpu'`` measures the
    process's CPU time instead of wall time: on a core shared with other work it leaves out the
    time the process waits, so ratios stay steady; on an idle machine the wall clock is the
    measure.
    """
    now = CLOCKS[clock]
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    while any(len(t) < iters or sum(t) < min_time for t in times.values()):
        for name, fn in fns.items():
            for _ in range(settle):
                fn()
            start = now()
            fn()
            times[name].append(now() - start)
    return times


def time_interleaved(
    calls: dict[str, Callable[[], object]],
    rounds: int,
    warmup: int = 2,
    clock: str = 'wall',
    settle: int = 1,
) -> dict[str, float]:
    """Median seconds per call of each callable over ``rounds`` turns (:func:`time_calls`)."""
    times = time_calls(calls, warmup=warmup, iters=rounds, clock=clock, settle=settle)
    return {name: statistics.median(ts) for name, ts in times.items()}


def inference_call(model: nn.Module, x: Tensor) -> Callable[[], object]:
    """One inference forward pass of ``model`` on ``x`` (eval mode, ``torch.no_grad``)."""
    model.eval()

    def call() -> object:
        with torch.no_grad():
            return model(x)

    return call


def perturb_batchnorms(model: nn.Module, seed: int = 0, shift: float = 0.1) -> nn.Module:
    """Give every BatchNorm random statistics and affine parameters (in place, seeded), so that
    comparing a model with its BatchNorms folded is no trivially exact check.

    Means and biases are normal with standard deviation ``shift``; variances and weights uniform
    in [0.5, 1.5). Returns ``model``.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * shift)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * shift)
    return model
