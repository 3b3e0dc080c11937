"""Speed and memory of DFvT and the paper's peers, every speed mode side by side, in one process.

A command line over :mod:`dfvt_mm.analysis.benchmark` (what is timed and how), whose models and
paper numbers come from ``configs/metafiles``. Classifiers: eager fp32, deploy (BN folded),
``torch.compile``, onnxruntime, OpenVINO fp32/bf16/int8 and bf16 autocast (on a CPU with native
bf16; fp16 on a GPU), DFvT-T/S/B at batch 1 and 16 next to the peers; Mask R-CNN and UperNet:
eager fp32 (and fp16 on a GPU). Ratios DFvT / peer stand beside the paper's. Where the main
job's toy checkpoints are in ``work_dirs/`` (``make demo``), each runtime and precision is also
measured on the toy validation sets against PyTorch fp32 (:mod:`dfvt_mm.analysis.precision`),
and the precision table puts that accuracy beside the speed.

Examples:
    python tools/analysis/benchmark.py                       # everything (an idle machine)
    python tools/analysis/benchmark.py --tasks cls --models dfvt_t resnet50 --modes eager deploy
    python tools/analysis/benchmark.py --quick --models dfvt_t resnet18   # seconds, for tests
    python tools/analysis/benchmark.py --readme docs/results/benchmark.md README.md
                                            # the generated blocks of these files from this run
"""

from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
import time
from collections.abc import Sequence

import torch

import dfvt_mm  # noqa: F401  (registers DFvT)
from dfvt_mm.analysis.benchmark import (
    MODES,
    Settings,
    default_settings,
    peer_ratios,
    run_benchmark,
    select_models,
)
from dfvt_mm.analysis.plots import plot_speed_accuracy
from dfvt_mm.analysis.precision import precision_accuracy
from dfvt_mm.analysis.runtimes import RUNTIMES
from dfvt_mm.analysis.tables import precision_table, readme_blocks, replace_readme_block, report
from dfvt_mm.utils.machine import describe_device, machine
from dfvt_mm.utils.metafile import load_models, peers_path
from dfvt_mm.utils.tasks import TASKS


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('--tasks', nargs='+', choices=list(TASKS), default=list(TASKS))
    parser.add_argument('--models', nargs='+', metavar='NAME', help='default: all (see --list)')
    parser.add_argument('--list', action='store_true', help='list the models and exit')
    parser.add_argument(
        '--modes',
        nargs='+',
        choices=MODES,
        default=list(MODES),
        help="DFvT classifiers' speed modes (default: all)",
    )
    parser.add_argument(
        '--peer-modes',
        nargs='+',
        choices=MODES,
        default=['eager'],
        help="the peers' classifiers' speed modes (default: eager)",
    )
    parser.add_argument(
        '--device', choices=['cpu', 'cuda'], help='default: cuda when there is a GPU, else cpu'
    )
    parser.add_argument(
        '--quick',
        action='store_true',
        help='64x64 inputs, batch 1 (and 2), 2 timed calls: seconds per model',
    )
    parser.add_argument('--batch-sizes', type=int, nargs='+', help='classification batches')
    parser.add_argument(
        '--shape', type=int, nargs='+', metavar='SIZE', help='classification input: H or H W'
    )
    for task in ('det', 'seg'):
        parser.add_argument(f'--{task}-batch-size', type=int, help=f'{task} batch size')
        parser.add_argument(
            f'--{task}-shape', type=int, nargs='+', metavar='SIZE', help=f'{task} input: H or H W'
        )
    parser.add_argument('--warmup', type=int, help='untimed rounds')
    parser.add_argument('--iters', type=int, help='timed calls per model and mode, at least')
    parser.add_argument(
        '--min-time', type=float, default=0.0, help='timed seconds per model and mode, at least'
    )
    parser.add_argument(
        '--threads',
        type=int,
        default=os.cpu_count(),
        help='CPU threads of torch and onnxruntime (default: all cores, for an '
        'idle machine; on a shared one --threads 1 gives steadier ratios)',
    )
    parser.add_argument('--compile-backend', default='inductor', help='torch.compile backend')
    parser.add_argument(
        '--out-dir',
        default='work_dirs/benchmark',
        help='benchmark.json, speed_accuracy.png and the ONNX exports',
    )
    parser.add_argument('--markdown', help='write the tables as markdown to this file')
    parser.add_argument(
        '--readme',
        nargs='+',
        metavar='FILE',
        help="replace the generated blocks (benchmark, precision) these files have with this run's",
    )
    parser.add_argument(
        '--no-accuracy',
        action='store_true',
        help="skip the runtimes' accuracy on the toy validation sets",
    )
    parser.add_argument(
        '--val-images', type=int, help='accuracy: a seeded sample of this many images per task'
    )
    args = parser.parse_args(argv)
    for flag in ('shape', 'det_shape', 'seg_shape'):
        value = getattr(args, flag)
        if value is not None and len(value) not in (1, 2):
            parser.error(f'--{flag.replace("_", "-")} takes H or H W, got {value}')
    try:
        if args.models:
            select_models(args.tasks[0], args.models)
    except ValueError as error:
        parser.error(str(error))
    return args


def make_settings(args: argparse.Namespace) -> Settings:
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    defaults = default_settings(device, args.quick)
    batch_sizes, shapes = dict(defaults['batch_sizes']), dict(defaults['shapes'])
    if args.batch_sizes:
        batch_sizes['cls'] = tuple(args.batch_sizes)
    for task, batch, shape in (
        ('cls', None, args.shape),
        ('det', args.det_batch_size, args.det_shape),
        ('seg', args.seg_batch_size, args.seg_shape),
    ):
        if batch:
            batch_sizes[task] = (batch,)
        if shape:
            shapes[task] = (shape[0], shape[-1])
    return Settings(
        device=device,
        tasks=tuple(args.tasks),
        models=args.models,
        modes=tuple(args.modes),
        peer_modes=tuple(args.peer_modes),
        batch_sizes=batch_sizes,
        shapes=shapes,
        warmup=defaults['warmup'] if args.warmup is None else args.warmup,
        iters=args.iters or defaults['iters'],
        min_time=args.min_time,
        compile_backend=args.compile_backend,
        work_dir=osp.join(args.out_dir, 'onnx'),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for task in args.tasks:
            print(task, ' '.join(r.key for r, _ in select_models(task)))
        return 0
    settings = make_settings(args)
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    if load > 0.5:
        print(
            f'warning: load average {load:.1f} on {os.cpu_count()} cores: other work shares '
            'the CPU, so the figures are indicative only',
            file=sys.stderr,
        )
    start = time.perf_counter()
    results = run_benchmark(settings)
    runtimes = [m for m in settings.modes if m in RUNTIMES]
    accuracy = (
        []
        if args.no_accuracy or settings.device != 'cpu'
        else precision_accuracy(
            runtimes, work_dir=osp.join(args.out_dir, 'precision'), val_images=args.val_images
        )
    )
    records = load_models() + load_models(path=peers_path())
    ratios = peer_ratios(results, records)
    device = describe_device(settings.device)
    if settings.device == 'cpu':
        device += f', {args.threads} thread' + ('s' if args.threads > 1 else '')
    seconds = time.perf_counter() - start
    print(f'\nDevice: {device}, torch {torch.__version__}; {seconds / 60:.1f} min')
    print('\n' + report(results, ratios, settings.device))
    if accuracy:
        print('\n' + precision_table(results, accuracy, settings.device, 'simple'))

    os.makedirs(args.out_dir, exist_ok=True)
    png = osp.join(args.out_dir, 'speed_accuracy.png')
    if not plot_speed_accuracy(results, records, png, device):
        png = None
    summary = dict(
        command=' '.join(['python tools/analysis/benchmark.py', *(argv or sys.argv[1:])]),
        machine=machine(),
        device=device,
        threads=args.threads,
        load_average_at_start=load,
        minutes=seconds / 60,
        settings={k: v for k, v in vars(settings).items()},
        results=results,
        ratios=ratios,
        accuracy=accuracy,
        paper={
            f'{r.task}/{r.key}': dict(
                throughput=r.throughput and r.throughput.value,
                memory=r.memory and r.memory.value,
                metrics=r.metrics,
                note=r.throughput and r.throughput.note,
            )
            for r in records
        },
        plot=png,
    )
    with open(osp.join(args.out_dir, 'benchmark.json'), 'w') as f:
        json.dump(summary, f, indent=2, default=str)
    blocks = dict(
        benchmark=f'Measured with `{summary["command"]}` on {device}, torch {torch.__version__}, '
        f'load average {load:.1f} at the start, {seconds / 60:.1f} min in all.\n\n'
        + report(results, ratios, settings.device, markdown=True)
    )
    if accuracy:
        blocks['precision'] = (
            f'Measured with `{summary["command"]}` on {device}: speed of DFvT-T/S/B at 224x224 '
            "(random weights), accuracy of the main job's toy models on the toy validation sets "
            '(int8 calibrated on training images):\n\n'
            + precision_table(results, accuracy, settings.device, 'github')
        )
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write('\n\n'.join(blocks.values()) + '\n')
    for path in args.readme or ():
        with open(path) as f:
            text = f.read()
        for name in readme_blocks(text):
            if name in blocks:
                text = replace_readme_block(text, name, blocks[name])
        with open(path, 'w') as f:
            f.write(text)
    print(f'\nWrote {osp.join(args.out_dir, "benchmark.json")}' + (f' and {png}' if png else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
