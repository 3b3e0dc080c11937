"""Speed of this DFvT against the DFvT of another commit, in one process.

The other commit is a git worktree (``git worktree add /tmp/dfvt_prev <commit>``); its
``DFvT`` class is imported from there under another module name, unregistered. Both models get
the same weights (the older model's, with every BatchNorm's statistics and affine perturbed so
that folding them is not trivially exact), the outputs are compared, and the calls are timed
interleaved: each round times every variant once, in turn, so that a slow spell of a shared
machine hits all of them. A variant's time is the median over the rounds; a ratio is the older
model's median divided by the variant's (above 1: faster than the older commit).

Variants: ``eager`` (this DFvT as built, inference in eval mode under ``torch.no_grad``),
``deploy`` (the same after :meth:`DFvT.switch_to_deploy`), ``onnxruntime`` (the deploy model
exported to ONNX as the deploy configs export it, run in an onnxruntime CPU session; needs the
deploy extras), and a training step of the eager model (train mode, forward, ``sum`` of the
outputs' means, backward, SGD step).
"""

from __future__ import annotations

import copy
import importlib
import os.path as osp
import statistics
import sys
import tempfile
import time
import types
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING
from unittest import mock

import torch
from mmengine.registry import MODELS
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..models import DFvT

if TYPE_CHECKING:
    from ..deployment import OnnxRuntimeModel


def load_previous_dfvt(worktree: str, name: str = 'dfvt_mm_previous') -> type[nn.Module]:
    """The ``DFvT`` class of another checkout of this repository, imported under ``name``.

    Only ``dfvt_mm/models`` of the checkout is imported (not the package's ``__init__``, which
    patches mmengine), and its ``@MODELS.register_module()`` is made a no-op so that the class
    does not clash with this package's registered ``DFvT``.

    Args:
        worktree: Root of the other checkout (the folder holding ``dfvt_mm/``).
        name: Module name for the other ``dfvt_mm`` package.
    """
    package_dir = osp.join(osp.abspath(worktree), 'dfvt_mm')
    if not osp.isfile(osp.join(package_dir, 'models', 'backbones', 'dfvt.py')):
        raise FileNotFoundError(
            f'{worktree} has no dfvt_mm/models/backbones/dfvt.py; make a worktree of the commit '
            f'to compare with: git worktree add {worktree} <commit>'
        )
    if name not in sys.modules:
        # Empty parent packages: importing a submodule then runs only the models' own files.
        for sub, path in (('', package_dir), ('.models', osp.join(package_dir, 'models'))):
            package = types.ModuleType(name + sub)
            package.__path__ = [path]
            sys.modules[name + sub] = package
        with mock.patch.object(MODELS, 'register_module', lambda *a, **k: lambda cls: cls):
            importlib.import_module(f'{name}.models.backbones.dfvt')
    return sys.modules[f'{name}.models.backbones.dfvt'].DFvT


def perturb_batchnorms(model: nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm random statistics and affine parameters (in place, seeded)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)


def build_models(
    previous_cls: type[nn.Module], arch: str, out_indices: Sequence[int] = (3,), seed: int = 0
) -> dict[str, nn.Module]:
    """The older model and this one (``eager``, ``deploy``) with the same weights.

    PyTorch's default initialisation, not the authors' (under theirs the classification output
    barely depends on the input, which would make the output comparison a weak check).
    """
    torch.manual_seed(seed)
    previous = previous_cls(arch=arch, out_indices=tuple(out_indices))
    perturb_batchnorms(previous, seed)
    eager = DFvT(arch=arch, out_indices=tuple(out_indices))
    eager.load_state_dict(previous.state_dict(), strict=True)
    deploy = copy.deepcopy(eager).eval()
    deploy.switch_to_deploy()
    return dict(previous=previous, eager=eager, deploy=deploy)


def inference_outputs(model: nn.Module, x: Tensor) -> tuple[Tensor, ...]:
    """A model's outputs on ``x`` (eval mode, no grad)."""
    with torch.no_grad():
        return tuple(model.eval()(x))


def max_difference(outputs: Sequence[Tensor], references: Sequence[Tensor]) -> float:
    """Largest absolute difference between two sequences of outputs."""
    return max((o - r).abs().max().item() for o, r in zip(outputs, references, strict=True))


def inference_call(model: nn.Module, x: Tensor) -> Callable[[], object]:
    """One inference forward pass (eval mode, ``torch.no_grad``)."""
    model.eval()

    def call() -> object:
        with torch.no_grad():
            return model(x)

    return call


def train_step_call(model: nn.Module, x: Tensor) -> Callable[[], object]:
    """One training step: forward in train mode, backward of the outputs' means, SGD step."""
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)

    def call() -> object:
        optimizer.zero_grad(set_to_none=True)
        loss = sum(out.mean() for out in model(x))
        loss.backward()
        optimizer.step()
        return loss

    return call


def onnxruntime_session(model: nn.Module, x: Tensor, threads: int) -> OnnxRuntimeModel:
    """``model`` exported to ONNX as the classification deploy config exports classifiers
    (:func:`dfvt_mm.deployment.export_module_onnx`; batch dynamic, height and width those of
    ``x``) in an onnxruntime CPU session with ``threads`` threads."""
    from ..deployment import OnnxRuntimeModel, export_module_onnx
    from ..utils.metafile import metafile_root
    from .benchmark import DEPLOY_CFG

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # The tracer's notes on the shape checks it freezes: the graph is for this size.
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        path = export_module_onnx(
            model, x, osp.join(tmp, 'model.onnx'), osp.join(metafile_root(), DEPLOY_CFG)
        )
        return OnnxRuntimeModel(path, threads=threads, custom_ops=False)


CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}


def time_calls(
    fns: dict[str, Callable[[], object]],
    warmup: int = 2,
    iters: int = 10,
    min_time: float = 0.0,
    clock: str = 'wall',
) -> dict[str, list[float]]:
    """Seconds of each timed call of each function in ``fns``: the one timing loop of the
    package (the benchmark, the ablations and the comparison with an older commit use it).

    The functions take turns, call by call (``warmup`` untimed rounds, then rounds until every
    function has ``iters`` calls and ``min_time`` seconds), so that a change in the load of a
    shared machine slows all of them alike instead of whichever ran at the time. ``clock='cpu'``
    measures the process's CPU time instead of wall time: on a core shared with other work it
    leaves out the time the process waits, so ratios stay steady; on an idle machine the wall
    clock is the measure.
    """
    now = CLOCKS[clock]
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    while any(len(t) < iters or sum(t) < min_time for t in times.values()):
        for name, fn in fns.items():
            start = now()
            fn()
            times[name].append(now() - start)
    return times


def time_interleaved(
    calls: dict[str, Callable[[], object]], rounds: int, warmup: int = 2, clock: str = 'wall'
) -> dict[str, float]:
    """Median seconds per call of each callable over ``rounds`` turns (:func:`time_calls`)."""
    times = time_calls(calls, warmup=warmup, iters=rounds, clock=clock)
    return {name: statistics.median(ts) for name, ts in times.items()}


def compare_with_previous(
    worktree: str,
    archs: Sequence[str] = ('tiny', 'small', 'base'),
    batch_sizes: Sequence[int] = (16, 1),
    train_batch_size: int = 8,
    rounds: int = 10,
    image_size: int = 224,
    threads: int | None = None,
    out_indices: Sequence[int] = (3,),
    clock: str = 'wall',
    onnxruntime: bool = False,
) -> list[dict]:
    """Time this DFvT (eager, deploy and, if asked, onnxruntime) against the DFvT of
    ``worktree``.

    Args:
        worktree: Root of the older checkout (see :func:`load_previous_dfvt`).
        archs: DFvT sizes.
        batch_sizes: Inference batch sizes.
        train_batch_size: Batch size of the training step (0 skips it).
        rounds: Timed rounds per measurement (each variant runs once per round).
        image_size: Side of the square random input.
        threads: ``torch.set_num_threads`` (None leaves torch's default).
        out_indices: Outputs of both models ((3,): the classification backbone).
        clock: ``'wall'`` or ``'cpu'`` (see :func:`time_interleaved`).
        onnxruntime: Also time the deploy model in onnxruntime (:func:`onnxruntime_session`).

    Returns:
        One dict per arch and measurement: ``arch``, ``mode`` (``inference`` or ``train``),
        ``batch``, median seconds per variant, ``ratio_<variant>`` (older / variant) and, for
        inference, ``max_diff_<variant>`` (largest output difference to the older model).
    """
    if threads:
        torch.set_num_threads(threads)
    previous_cls = load_previous_dfvt(worktree)
    rows = []
    for arch in archs:
        models = build_models(previous_cls, arch, out_indices)
        session = None
        for batch in batch_sizes:
            x = torch.rand(batch, 3, image_size, image_size)
            row = dict(arch=arch, mode='inference', batch=batch)
            references = inference_outputs(models['previous'], x)
            for name in ('eager', 'deploy'):
                outputs = inference_outputs(models[name], x)
                row[f'max_diff_{name}'] = max_difference(outputs, references)
            calls = {name: inference_call(model, x) for name, model in models.items()}
            if onnxruntime:
                # One export per arch: the graph's batch is dynamic.
                if session is None:
                    session = onnxruntime_session(models['deploy'], x, torch.get_num_threads())
                array = x.numpy()
                calls['onnxruntime'] = partial(session, array)
                outputs = [torch.from_numpy(out) for out in session(array).values()]
                row['max_diff_onnxruntime'] = max_difference(outputs, references)
            seconds = time_interleaved(calls, rounds, clock=clock)
            rows.append(_with_ratios(row, seconds))
        if train_batch_size:
            x = torch.rand(train_batch_size, 3, image_size, image_size)
            pair = {name: copy.deepcopy(models[name]) for name in ('previous', 'eager')}
            seconds = time_interleaved(
                {name: train_step_call(model, x) for name, model in pair.items()},
                rounds,
                clock=clock,
            )
            rows.append(
                _with_ratios(dict(arch=arch, mode='train', batch=train_batch_size), seconds)
            )
    return rows


def _with_ratios(row: dict, seconds: dict[str, float]) -> dict:
    row.update({f'seconds_{name}': s for name, s in seconds.items()})
    for name, s in seconds.items():
        if name != 'previous':
            row[f'ratio_{name}'] = seconds['previous'] / s
    return row
