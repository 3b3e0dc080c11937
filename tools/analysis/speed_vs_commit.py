"""Speed of this DFvT (eager, deploy, onnxruntime) against the DFvT of another commit, one process.

Make a worktree of the commit to compare with, then run this from the repository root:

    git worktree add /tmp/dfvt_prev <commit>
    python tools/analysis/speed_vs_commit.py /tmp/dfvt_prev --threads 2 [--onnxruntime]

Both models get the same weights and the same random 224x224 input (fp32, CPU unless torch puts
it elsewhere); the variants are timed in turn, round by round, and each ratio is the older model's
median time divided by the variant's (above 1: faster). The table's last columns are the largest
output differences to the older model. See dfvt_mm.analysis.speed for what is timed.
"""

import argparse
import json
import sys

from tabulate import tabulate

import dfvt_mm  # noqa: F401
from dfvt_mm.analysis import compare_with_previous


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
        '--onnxruntime',
        action='store_true',
        help='also time the deploy model exported to ONNX in onnxruntime (deploy extras)',
    )
    parser.add_argument('--out', help='also write the rows to this json file')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        rows = compare_with_previous(
            args.previous,
            archs=args.archs,
            batch_sizes=args.batch_sizes,
            train_batch_size=args.train_batch_size,
            rounds=args.rounds,
            image_size=args.image_size,
            threads=args.threads,
            clock=args.clock,
            onnxruntime=args.onnxruntime,
        )
    except FileNotFoundError as e:
        sys.exit(f'error: {e}')
    variants = ['eager', 'deploy'] + (['onnxruntime'] if args.onnxruntime else [])
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
