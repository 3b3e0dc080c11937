"""Evaluate a checkpoint of any of the three tasks (mmpretrain, mmdet or mmseg config).

Example:
    python tools/test.py configs/dfvt_t_in1k.py work_dirs/dfvt_t_in1k/epoch_300.pth
"""

import argparse
import os
import sys

from mmengine.config import Config, DictAction
from mmengine.evaluator import DumpResults

from dfvt_mm.engine.runner import build_runner, load_config
from dfvt_mm.utils.checkpoint import CheckpointError


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a DFvT model checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation logs and metrics')
    parser.add_argument('--out', help='dump the predictions to this pickle file')
    parser.add_argument(
        '--show-dir', help="save pictures of the predictions in this dir (under the run's work dir)"
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. test_dataloader.batch_size=1',
    )
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_visualization(cfg: Config, task: str, show_dir: str) -> None:
    """Turn on the task's visualization hook so it draws test predictions into ``show_dir``."""
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise RuntimeError('--show-dir needs default_hooks.visualization in the config')
    if task == 'mmpretrain':
        hook.update(enable=True, out_dir=show_dir)
    elif task == 'mmdet':
        hook.update(draw=True, test_out_dir=show_dir)
    else:  # mmseg draws into the visualizer's save_dir
        hook.update(draw=True, interval=1)
        cfg.visualizer.save_dir = show_dir


def main() -> None:
    args = parse_args()
    cfg, task = load_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    cfg.load_from = args.checkpoint
    if args.show_dir:
        enable_visualization(cfg, task, args.show_dir)

    runner = build_runner(cfg)
    if args.out:
        if task == 'mmdet':
            from mmdet.evaluation import DumpDetResults

            runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
        else:
            runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    try:
        runner.test()
    except (CheckpointError, FileNotFoundError) as e:
        # A checkpoint that cannot be loaded (missing, corrupt, refused as unsafe): one line.
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
