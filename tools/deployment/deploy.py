"""Export a DFvT model to ONNX with mmdeploy, then check onnxruntime against PyTorch on an image.

Shaped like mmdeploy's ``tools/deploy.py``::

    python tools/deployment/deploy.py DEPLOY_CFG MODEL_CFG CHECKPOINT IMG --work-dir DIR

Prints one table of checks (see ``dfvt_mm.deployment.check``) and exits with status 1 if one fails.
"""

from __future__ import annotations

import argparse
import json
import os.path as osp
import sys
from collections.abc import Sequence

from mmengine.config import DictAction
from tabulate import tabulate

import dfvt_mm  # noqa: F401 (registers DFvT for the model configs)
from dfvt_mm.deployment import (
    check_onnx,
    export_onnx,
    load_deploy_configs,
    save_random_checkpoint,
    task_of,
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('deploy_cfg', help='deploy config, e.g. configs/deploy/*.py')
    parser.add_argument('model_cfg', help='model config')
    parser.add_argument(
        'checkpoint',
        help="model checkpoint; 'none' saves seeded random weights to WORK_DIR/random_weights.pth "
        'and uses them',
    )
    parser.add_argument('img', help='image traced through the model and used for the checks')
    parser.add_argument('--work-dir', default='work_dirs/deploy', help='where the ONNX file goes')
    parser.add_argument('--device', default='cpu', help='device to export on (default cpu)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='model config overrides, e.g. model.backbone.init_cfg=None',
    )
    parser.add_argument('--skip-check', action='store_true', help='export only')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    for path, what in ((args.deploy_cfg, 'deploy config'), (args.model_cfg, 'model config')):
        if not osp.isfile(path):
            sys.exit(f'error: {what} {path} does not exist')
    deploy_cfg, model_cfg = load_deploy_configs(args.deploy_cfg, args.model_cfg, args.cfg_options)
    if checkpoint is None:
        # The export and the check each build the model: give both the same random weights.
        checkpoint = save_random_checkpoint(
            deploy_cfg, model_cfg, osp.join(args.work_dir, 'random_weights.pth')
        )
        print(f'no checkpoint: random weights saved to {checkpoint}')
    onnx_file = export_onnx(
        deploy_cfg, model_cfg, checkpoint, args.img, args.work_dir, args.device, args.cfg_options
    )
    print(f'exported {task_of(deploy_cfg)} model to {onnx_file}')
    if args.skip_check:
        return 0
    checks = check_onnx(
        onnx_file, deploy_cfg, model_cfg, checkpoint, args.img, args.device, args.cfg_options
    )
    rows = [check.as_row() for check in checks]
    print(
        tabulate(
            rows, headers=['check (onnxruntime vs PyTorch)', 'value', 'limit', 'meaning', 'result']
        )
    )
    with open(osp.join(args.work_dir, 'checks.json'), 'w') as f:
        json.dump([dict(vars(c), passed=c.passed) for c in checks], f, indent=2)
    failed = [check.name for check in checks if check.passed is False]
    if failed:
        print(f'FAILED: {", ".join(failed)}')
        return 1
    print(f'all {sum(c.passed is True for c in checks)} checks passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
