"""Speed of this DFvT (eager, deploy, onnxruntime) against the DFvT of another commit, one process.

Make a worktree of the commit to compare with, then run this from the repository root:

    git worktree add /tmp/dfvt_prev <commit>
    python tools/analysis/speed_vs_commit.py /tmp/dfvt_prev --threads 2 \
        [--runtimes onnxruntime openvino openvino-int8]

The older ``DFvT`` class is imported from the worktree under another module name, unregistered.
Both models get the same weights (the older model's, every BatchNorm's statistics and affine
perturbed so that folding them is not trivially exact) and the same random input (fp32). The
variants are timed interleaved (``dfvt_mm.analysis.speed``): each round times every variant
once, in turn, after one untimed call of it (the runtimes' worker threads), so that a slow spell
of a shared machine hits all of them; a variant's time is the
median over the rounds and its ratio the older model's median divided by its own (above 1:
faster). Variants: ``eager`` (this DFvT as built, eval mode, ``torch.no_grad``), ``deploy`` (after
``switch_to_deploy()``), the ``--runtimes`` (the deploy model exported as the classification deploy
config of the backend exports it, then run by onnxruntime or OpenVINO in fp32, bf16 or int8:
:mod:`dfvt_mm.analysis.runtimes`; deploy extras; int8 is calibrated on random images, a speed
figure only), and a training step of the eager model (train mode, forward, ``sum`` of the
outputs' means, backward, SGD step). The table's last columns are the largest output differences
to the older model.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import os.path as osp
import sys
import tempfile
import types
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from unittest import mock

import torch
from mmengine.registry import MODELS
from tabulate import tabulate
from torch import Tensor, nn

import dfvt_mm  # noqa: F401
from dfvt_mm.analysis.benchmark import DEPLOY_CFGS
from dfvt_mm.analysis.runtimes import (
    RUNTIMES,
    load_runtime,
    random_calibration,
    runtime_file,
    runtime_not_available,
)
from dfvt_mm.analysis.speed import inference_call, perturb_batchnorms, time_interleaved
from dfvt_mm.models import DFvT
from dfvt_mm.utils.paths import resolve


def load_previous_dfvt(worktree: str, name: str = 'dfvt_mm_previous') -> type[nn.Module]:
    """The ``DFvT`` class of another checkout, imported under ``name``: only its
    ``dfvt_mm/models`` (not the package's ``__init__``, which patches mmengine), with
    ``@MODELS.register_module()`` a no-op so that it does not clash with this ``DFvT``."""
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


def build_models(previous_cls: type[nn.Module], arch: str, seed: int = 0) -> dict[str, nn.Module]:
    """The older model and this one (``eager``, ``deploy``) with the same weights, the
    classification backbone (out_indices (3,)). PyTorch's default initialisation, not the
    authors' (under theirs the output barely depends on the input: a weak comparison)."""
    torch.manual_seed(seed)
    previous = previous_cls(arch=arch, out_indices=(3,))
    perturb_batchnorms(previous, seed)
    eager = DFvT(arch=arch, out_indices=(3,))
    eager.load_state_dict(previous.state_dict(), strict=True)
    deploy = copy.deepcopy(eager).eval()
    deploy.switch_to_deploy()
    return dict(previous=previous, eager=eager, deploy=deploy)


def max_difference(outputs: Sequence[Tensor], references: Sequence[Tensor]) -> float:
    return max((o - r).abs().max().item() for o, r in zip(outputs, references, strict=True))


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


def runtime_session(mode: str, model: nn.Module, x: Tensor, threads: int, work_dir: str):
    """``model`` exported to ONNX as the classification deploy config of the backend of ``mode``
    exports classifiers (batch dynamic, height and width those of ``x``), in that runtime."""
    from dfvt_mm.deployment import export_module_onnx  # the deploy extras

    backend = RUNTIMES[mode][0]
    path = osp.join(work_dir, f'{backend}.onnx')
    if not osp.isfile(path):
        with warnings.catch_warnings():
            # The tracer's notes on the shape checks it freezes: the graph is for this size.
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            export_module_onnx(model, x, path, resolve(DEPLOY_CFGS[backend]))
    calibration = random_calibration(x.shape[1:])
    return load_runtime(mode, runtime_file(mode, path, calibration), threads)


def compare_with_previous(
    worktree: str,
    archs: Sequence[str] = ('tiny', 'small', 'base'),
    batch_sizes: Sequence[int] = (16, 1),
    train_batch_size: int = 8,
    rounds: int = 10,
    image_size: int = 224,
    threads: int | None = None,
    clock: str = 'wall',
    runtimes: Sequence[str] = (),
) -> list[dict]:
    """One dict per arch and measurement: ``arch``, ``mode`` (``inference`` or ``train``),
    ``batch``, ``seconds_<variant>`` (median), ``ratio_<variant>`` (older / variant) and, for
    inference, ``max_diff_<variant>`` (largest output difference to the older model)."""
    if threads:
        torch.set_num_threads(threads)
    previous_cls = load_previous_dfvt(worktree)
    rows = []
    for arch in archs:
        models = build_models(previous_cls, arch)
        sessions = {}
        work_dir = tempfile.mkdtemp(prefix=f'speed_vs_commit_{arch}_')
        for batch in batch_sizes:
            x = torch.rand(batch, 3, image_size, image_size)
            row = dict(arch=arch, mode='inference', batch=batch)
            calls = {name: inference_call(model, x) for name, model in models.items()}
            references = calls['previous']()
            for name in ('eager', 'deploy'):
                row[f'max_diff_{name}'] = max_difference(calls[name](), references)
            for mode in runtimes:
                # One export per arch and backend: the graph's batch is dynamic.
                if mode not in sessions:
                    sessions[mode] = runtime_session(
                        mode, models['deploy'], x, torch.get_num_threads(), work_dir
                    )
                calls[mode] = partial(sessions[mode], x.numpy())
                outputs = [torch.from_numpy(out) for out in calls[mode]().values()]
                row[f'max_diff_{mode}'] = max_difference(outputs, references)
            rows.append(_with_ratios(row, time_interleaved(calls, rounds, clock=clock)))
        if train_batch_size:
            x = torch.rand(train_batch_size, 3, image_size, image_size)
            calls = {
                name: train_step_call(copy.deepcopy(models[name]), x)
                for name in ('previous', 'eager')
            }
            row = dict(arch=arch, mode='train', batch=train_batch_size)
            rows.append(_with_ratios(row, time_interleaved(calls, rounds, clock=clock)))
    return rows


def _with_ratios(row: dict, seconds: dict[str, float]) -> dict:
    row.update({f'seconds_{name}': s for name, s in seconds.items()})
    row.update(
        {f'ratio_{n}': seconds['previous'] / s for n, s in seconds.items() if n != 'previous'}
    )
    return row


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('previous', help='root of a worktree of the commit to compare with')
    parser.add_argument('--archs', nargs='+', default=['tiny', 'small', 'base'])
    parser.add_argument('--batch-sizes', nargs='+', type=int, default=[16, 1])
    parser.add_argument(
        '--train-batch-size', type=int, default=8, help='batch of the training step; 0 skips it'
    )
    parser.add_argument('--rounds', type=int, default=10, help='timed rounds per measurement')
    parser.add_argument('--threads', type=int, default=None, help="torch threads (torch's default)")
    parser.add_argument('--image-size', type=int, default=224)
    parser.add_argument(
        '--clock',
        choices=['wall', 'cpu'],
        default='wall',
        help='wall time (an idle machine), or the process CPU time (a core shared with others)',
    )
    parser.add_argument(
        '--runtimes',
        nargs='+',
        choices=list(RUNTIMES),
        default=[],
        help='also time the deploy model exported to ONNX in these runtimes (deploy extras)',
    )
    parser.add_argument('--out', help='also write the rows to this json file')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    settings = {k: v for k, v in vars(args).items() if k not in ('previous', 'out')}
    for mode in args.runtimes:
        if reason := runtime_not_available(mode):
            sys.exit(f'error: {mode}: {reason}')
    try:
        rows = compare_with_previous(args.previous, **settings)
    except FileNotFoundError as e:
        sys.exit(f'error: {e}')
    variants = ['eager', 'deploy', *args.runtimes]
    table = [
        [
            r['arch'],
            r['mode'],
            r['batch'],
            f'{r["seconds_previous"] * 1e3:.1f}',
            f'{r["seconds_eager"] * 1e3:.1f}',
            *(f'{r[f"ratio_{v}"]:.2f}' if f'ratio_{v}' in r else '-' for v in variants),
            *(f'{r[f"max_diff_{v}"]:.1e}' if f'max_diff_{v}' in r else '-' for v in variants),
        ]
        for r in rows
    ]
    headers = [
        'arch', 'mode', 'batch', 'previous ms', 'eager ms',
        *(f'{v} x' for v in variants), *(f'{v} diff' for v in variants),
    ]  # fmt: skip
    print(tabulate(table, headers=headers))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(settings=vars(args), rows=rows), f, indent=2)


if __name__ == '__main__':
    main()
