"""Export a DFvT model with mmdeploy to onnxruntime or OpenVINO, then check it against PyTorch.

Shaped like mmdeploy's ``tools/deploy.py``::

    python tools/deployment/deploy.py DEPLOY_CFG MODEL_CFG CHECKPOINT IMG --work-dir DIR \\
        [--precision fp32|bf16|int8] [--accuracy]

Exports to ONNX (``end2end.onnx``); an OpenVINO deploy config also converts it to OpenVINO IR
(``end2end.xml``) and, for int8, quantizes that with NNCF on training images
(``end2end_int8.xml``). Prints the checks against PyTorch on IMG (see
``dfvt_mm.deployment.check``); with ``--accuracy``, and always for bf16 and int8, also the
accuracy check on the model config's validation set (``dfvt_mm.deployment.accuracy``). Writes
``checks.json`` (and ``accuracy.json``) to the work dir and exits with status 1 if a check fails.
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
    backend_of,
    bf16_unsupported_reason,
    check_accuracy,
    check_onnx,
    deploy_task,
    load_deploy_configs,
    precision_of,
    save_random_checkpoint,
)
from dfvt_mm.deployment.pipeline import deploy
from dfvt_mm.utils.tasks import TASKS

HEADERS = ['check', 'value', 'limit', 'meaning', 'result']


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
    parser.add_argument('--work-dir', default='work_dirs/deploy', help='where the files go')
    parser.add_argument('--device', default='cpu', help='device to export on (default cpu)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='model config overrides, e.g. model.backbone.init_cfg=None',
    )
    parser.add_argument(
        '--precision',
        choices=['fp32', 'bf16', 'int8'],
        help="OpenVINO's precision (default: the deploy config's backend_config.precision, fp32)",
    )
    parser.add_argument(
        '--accuracy',
        action='store_true',
        help='also run the accuracy check on the validation set (always done for bf16, int8)',
    )
    parser.add_argument(
        '--val-images', type=int, help='accuracy check on a seeded sample of this many images'
    )
    parser.add_argument(
        '--calib-images',
        type=int,
        help='int8: calibration images from the train split (default calib_config.num_images)',
    )
    parser.add_argument('--threads', type=int, default=1, help="the backend's threads")
    parser.add_argument('--skip-check', action='store_true', help='export (and quantize) only')
    return parser.parse_args(argv)


def print_checks(title: str, checks: list) -> None:
    print(tabulate([check.as_row() for check in checks], headers=[title, *HEADERS[1:]]))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    for path, what in ((args.deploy_cfg, 'deploy config'), (args.model_cfg, 'model config')):
        if not osp.isfile(path):
            sys.exit(f'error: {what} {path} does not exist')
    deploy_cfg, model_cfg = load_deploy_configs(args.deploy_cfg, args.model_cfg, args.cfg_options)
    if args.precision:
        deploy_cfg.backend_config.precision = args.precision
        deploy_cfg, model_cfg = load_deploy_configs(deploy_cfg, model_cfg)  # validates it
    backend, precision = backend_of(deploy_cfg), precision_of(deploy_cfg)
    if precision == 'bf16' and (reason := bf16_unsupported_reason()):
        print(reason)
    if checkpoint is None:
        # The export and the check each build the model: give both the same random weights.
        checkpoint = save_random_checkpoint(
            deploy_cfg, model_cfg, osp.join(args.work_dir, 'random_weights.pth')
        )
        print(f'no checkpoint: random weights saved to {checkpoint}')
    deployed = deploy(
        deploy_cfg,
        model_cfg,
        checkpoint,
        args.img,
        args.work_dir,
        calib_images=args.calib_images,
        device=args.device,
        cfg_options=args.cfg_options,
    )
    onnx_file, backend_file = deployed.onnx_file, deployed.backend_file
    print(f'exported {TASKS[deploy_task(deploy_cfg)].name} model to {onnx_file}')
    if backend == 'openvino':
        print(f'converted to OpenVINO IR {osp.splitext(onnx_file)[0]}.xml')
        if precision == 'int8':
            print(
                f'quantized to int8 on {len(deployed.calibration_files)} training images: '
                f'{backend_file}'
            )
    if args.skip_check:
        return 0
    checks = check_onnx(
        onnx_file,
        deploy_cfg,
        model_cfg,
        checkpoint,
        args.img,
        args.device,
        args.cfg_options,
        backend_file=backend_file,
    )
    print_checks(f'check ({backend} {precision} vs PyTorch)', checks)
    with open(osp.join(args.work_dir, 'checks.json'), 'w') as f:
        json.dump([dict(vars(c), passed=c.passed) for c in checks], f, indent=2)
    if args.accuracy or precision != 'fp32':
        report = check_accuracy(
            backend_file,
            deploy_cfg,
            model_cfg,
            checkpoint,
            num_images=args.val_images,
            device=args.device,
            cfg_options=args.cfg_options,
            threads=args.threads,
        )
        print_checks(f'accuracy ({report.backend} vs PyTorch fp32)', report.checks)
        with open(osp.join(args.work_dir, 'accuracy.json'), 'w') as f:
            json.dump(
                dict(
                    backend=report.backend,
                    backend_file=backend_file,
                    num_images=report.num_images,
                    metrics=report.metrics,
                    checks=[dict(vars(c), passed=c.passed) for c in report.checks],
                ),
                f,
                indent=2,
            )
        checks = checks + report.checks
    failed = [check.name for check in checks if check.passed is False]
    if failed:
        print(f'FAILED: {", ".join(failed)}')
        return 1
    print(f'all {sum(c.passed is True for c in checks)} checks passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
