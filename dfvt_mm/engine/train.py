"""Train a model of any of the three tasks (mmpretrain, mmdet or mmseg config) with mmengine.

The task is the config's ``default_scope``; everything else is mmengine's ``Runner``. Without
GPUs, distributed runs (``tools/dist_train.sh CONFIG N``) use the gloo backend on CPU.
``tools/train.py`` and ``python -m dfvt_mm.engine.train`` are this module's command line.

Checkpoints are written crash-safe (:mod:`dfvt_mm.engine.crash_safe`), and ``--resume`` without a
path skips a newest checkpoint that is truncated or corrupt. A problem with a checkpoint or with
a sample of the dataset ends the run with one line: what is wrong and what to do.

Example:
    python tools/train.py configs/dfvt_t_in1k.py --work-dir work_dirs/dfvt_t_in1k
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .crash_safe import find_resumable_checkpoint
from .runner import build_runner, exit_on_bad_input, load_config, parse_run_args


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train a DFvT model (classification, detection '
        'or segmentation, chosen by the config)'
    )
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual total batch size',
    )
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint or, when no path is given, from the newest intact one '
        'in the work dir (newer truncated or corrupt ones are skipped with a warning)',
    )
    parser.add_argument('--no-validate', action='store_true', help='skip validation in training')
    parser.add_argument(
        '--skip-bad-samples',
        action='store_true',
        help='skip training samples whose files are missing or corrupt (another sample is drawn '
        'in their place; the count is logged) instead of stopping with one line',
    )
    return parse_run_args(parser, argv, 'train_cfg.max_epochs=1')


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    cfg, _ = load_config(
        args.config, args.launcher, args.cfg_options, args.work_dir, args.skip_bad_samples
    )
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise RuntimeError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None

    with exit_on_bad_input():
        if args.resume == 'auto':
            # The newest intact checkpoint of the work dir (None: nothing to resume, start over).
            cfg.load_from = find_resumable_checkpoint(cfg.work_dir)
            cfg.resume = cfg.load_from is not None
        elif args.resume is not None:
            cfg.resume, cfg.load_from = True, args.resume
        build_runner(cfg).train()


if __name__ == '__main__':
    main()
