"""Images/s of DFvT classifiers in onnxruntime next to eager PyTorch, on the CPU.

Each config is exported (random weights, its test pipeline's 224x224 crop, dynamic batch) with
``configs/deploy/classification_onnxruntime_dynamic-batch.py``, then both runtimes are timed on
the same random batch with the same number of threads::

    python tools/deployment/onnxruntime_speed.py configs/dfvt_t_in1k.py configs/dfvt_s_in1k.py \
        --batch-sizes 1 16 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os.path as osp
import platform
import sys
from collections.abc import Sequence

import numpy as np
import torch
from tabulate import tabulate

import dfvt_mm  # noqa: F401 (registers DFvT for the model configs)
from dfvt_mm.deployment import OnnxRuntimeModel, compare_speed, export_onnx, load_deploy_configs
from dfvt_mm.deployment.export import build_pytorch_model, build_task_processor

DEPLOY_CFG = 'configs/deploy/classification_onnxruntime_dynamic-batch.py'


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', help='classifier configs')
    parser.add_argument('--deploy-cfg', default=DEPLOY_CFG)
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 16])
    parser.add_argument('--threads', type=int, default=1, help='threads of both runtimes')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--min-time', type=float, default=3.0, help='seconds timed at least')
    parser.add_argument('--work-dir', default='work_dirs/onnxruntime_speed')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    image = np.random.RandomState(0).randint(0, 256, (256, 256, 3), dtype=np.uint8)
    results = []
    for config in args.configs:
        if not osp.isfile(config):
            sys.exit(f'error: config {config} does not exist')
        name = osp.splitext(osp.basename(config))[0]
        onnx_file = export_onnx(args.deploy_cfg, config, None, image, osp.join(args.work_dir, name))
        deploy_cfg, model_cfg = load_deploy_configs(args.deploy_cfg, config)
        processor = build_task_processor(deploy_cfg, model_cfg)
        model = build_pytorch_model(processor, None)
        ort_model = OnnxRuntimeModel(onnx_file, threads=args.threads)
        size = ort_model.session.get_inputs()[0].shape[2:]
        for batch_size in args.batch_sizes:
            batch = torch.randn(batch_size, 3, *size, generator=torch.Generator().manual_seed(0))
            speed = compare_speed(model, ort_model, batch, args.warmup, args.iters, args.min_time)
            results.append(dict(config=config, shape=list(size), threads=args.threads, **speed))
            print(f'{name} batch {batch_size}: {speed["speedup"]:.2f}x', flush=True)
    rows = [
        [
            r['config'],
            r['batch'],
            f'{r["eager_images_per_s"]:.1f}',
            f'{r["onnxruntime_images_per_s"]:.1f}',
            f'{r["speedup"]:.2f}x',
        ]
        for r in results
    ]
    print(tabulate(rows, headers=['config', 'batch', 'eager img/s', 'onnxruntime img/s', 'ratio']))
    with open(osp.join(args.work_dir, 'speed.json'), 'w') as f:
        json.dump(
            dict(machine=platform.processor() or platform.machine(), results=results), f, indent=2
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
