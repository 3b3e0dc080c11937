"""Evaluate a checkpoint of any of the three tasks (mmpretrain, mmdet or mmseg config).

``tools/test.py`` and ``python -m dfvt_mm.engine.test`` are this module's command line. A problem
with the checkpoint or with a sample of the dataset ends the run with one line: what is wrong and
what to do.

Example:
    python tools/test.py configs/dfvt_t_in1k.py work_dirs/dfvt_t_in1k/epoch_300.pth
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from mmengine.config import Config
from mmengine.evaluator import DumpResults

from .runner import build_runner, exit_on_bad_input, load_config, parse_run_args


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a DFvT model checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation logs and metrics')
    parser.add_argument('--out', help='dump the predictions to this pickle file')
    parser.add_argument(
        '--show-dir', help="save pictures of the predictions in this dir (under the run's work dir)"
    )
    return parse_run_args(parser, argv, 'test_dataloader.batch_size=1')


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


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    cfg, task = load_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    cfg.load_from = args.checkpoint
    if args.show_dir:
        enable_visualization(cfg, task, args.show_dir)

    with exit_on_bad_input():
        runner = build_runner(cfg)
        if args.out:
            runner.test_evaluator.metrics.append(dump_metric(task, args.out))
        runner.test()


def dump_metric(task: str, out_file: str) -> DumpResults:
    """The metric that dumps the predictions to ``out_file`` (mmdet has its own)."""
    if task == 'mmdet':
        from mmdet.evaluation import DumpDetResults

        return DumpDetResults(out_file_path=out_file)
    return DumpResults(out_file_path=out_file)


if __name__ == '__main__':
    main()
