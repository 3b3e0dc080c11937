"""The paper's DFvT-S ablations (Tables 2-5): sizes and speed of every variant, beside the paper's.

One row per model of configs/ablations/metafile.yml: parameters and FLOPs (mmengine's analysis,
224x224, with and without the stem, which the authors' counter left out), inference throughput on
this machine as a ratio to DFvT-S (all variants in one process, timed in turn, median over the
rounds), and the paper's parameters, FLOPs, top-1 and FPS ratio (Table 2 only). With --train,
each variant is also trained on the built-in toy dataset (configs/toy/dfvt_t_toy_in1k.py's data
and schedule, the variant's DFvT-S-shaped backbone) and its top-1 printed next to the paper's:
toy scale, so the ranking need not be the paper's.

Example:
    python tools/analysis/ablations.py --threads 1 --rounds 10
    python tools/analysis/ablations.py --no-speed --train --epochs 5 \
        --variants dfvt_s_in1k dfvt_s_cm_in1k
"""

import argparse
import json
import os.path as osp
import sys

import torch
from tabulate import tabulate

import dfvt_mm  # noqa: F401
from dfvt_mm.analysis.ablations import METAFILE, load_ablations, measure, train_toy

REFERENCE = 'dfvt_s_in1k'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--metafile', default=METAFILE, help='the paper numbers and configs')
    parser.add_argument('--variants', nargs='+', help='metafile names to run (default: all)')
    parser.add_argument('--image-size', type=int, default=224)
    parser.add_argument('--no-speed', action='store_true', help='sizes only, no timing')
    parser.add_argument('--batch-size', type=int, default=8, help='batch of the timed calls')
    parser.add_argument('--rounds', type=int, default=10, help='timed rounds (every variant each)')
    parser.add_argument('--threads', type=int, default=1, help='torch threads; 0: torch default')
    parser.add_argument(
        '--clock',
        choices=['wall', 'cpu'],
        default='wall',
        help='wall time (an idle machine), or the process CPU time (a core shared with others)',
    )
    parser.add_argument('--train', action='store_true', help='also train each on the toy data')
    parser.add_argument('--epochs', type=int, help="toy epochs (default: the toy config's 15)")
    parser.add_argument(
        '--data-root', default='data/toy_imagenet', help='toy dataset (written if missing)'
    )
    parser.add_argument('--work-dir', default='work_dirs/ablations', help='toy runs go here')
    parser.add_argument('--tablefmt', default='github', help="tabulate's table format")
    parser.add_argument('--out', help='also write the rows to this json file')
    return parser.parse_args()


def millions(n: float, scale: float = 1e6) -> str:
    return f'{n / scale:.2f}'


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        ablations = load_ablations(args.metafile)
    except (FileNotFoundError, KeyError) as e:
        sys.exit(f'error: {e.args[0]}')
    if args.variants:
        unknown = sorted(set(args.variants) - {a.name for a in ablations})
        if unknown:
            sys.exit(
                f'error: unknown variants {unknown}; the metafile has {[a.name for a in ablations]}'
            )
        ablations = [a for a in ablations if a.name in args.variants]
    speed = None
    if not args.no_speed:
        if REFERENCE not in {a.name for a in ablations}:
            sys.exit(
                f'error: speed is relative to {REFERENCE}: add it to --variants, or --no-speed'
            )
        speed = dict(batch_size=args.batch_size, rounds=args.rounds, clock=args.clock)
    rows = measure(ablations, REFERENCE, args.image_size, speed)
    if args.train:
        for ablation, row in zip(ablations, rows):
            work_dir = osp.join(args.work_dir, ablation.name)
            print(f'training {ablation.name} on the toy data ({work_dir}) ...', flush=True)
            try:
                row.update(toy=train_toy(ablation.config, work_dir, args.epochs, args.data_root))
            except (RuntimeError, ValueError) as e:
                sys.exit(f'error: {e}')

    headers = [
        'variant', 'paper rows', 'params M', 'no stem', 'paper', 'FLOPs G', 'no stem', 'paper',
        'speed x DFvT-S', 'paper', 'paper top-1',
    ]  # fmt: skip
    if args.train:
        headers += ['toy top-1', 'toy min']
    table = []
    for row in rows:
        line = [
            row['name'],
            '; '.join(row['rows']),
            millions(row['params']),
            millions(row['params_no_stem']),
            f'{row["paper_params"] / 1e6:g}',
            millions(row['flops'], 1e9),
            millions(row['flops_no_stem'], 1e9),
            f'{row["paper_flops"] / 1e9:g}',
            '-' if row['speed_ratio'] is None else f'{row["speed_ratio"]:.2f}',
            '-' if row['paper_speed_ratio'] is None else f'{row["paper_speed_ratio"]:.2f}',
            f'{row["paper_top1"]:.1f}',
        ]
        if args.train:
            line += [f'{row["toy"]["top1"]:.1f}', f'{row["toy"]["seconds"] / 60:.1f}']
        table.append(line)
    print(tabulate(table, headers=headers, tablefmt=args.tablefmt, disable_numparse=True))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(settings=vars(args), rows=rows), f, indent=2)


if __name__ == '__main__':
    main()
