"""Accuracy of each deploy runtime and precision on the toy validation sets: the main job's
trained checkpoints (``make demo``: ``work_dirs/<toy config>/``) exported, converted, quantized
(:func:`dfvt_mm.deployment.pipeline.deploy`) and measured against the same model in PyTorch fp32
(:func:`dfvt_mm.deployment.check_accuracy`, the issue limits). The benchmark puts these beside
the speed of the same runtimes (:func:`precision_table`).
"""

from __future__ import annotations

import os.path as osp
from collections.abc import Callable, Sequence

from mmengine.config import Config

from ..toy.main_job import TOY_TASKS, checkpoint_of, work_dir_of
from ..utils.paths import resolve
from ..utils.tasks import TASKS
from .runtimes import LABELS, RUNTIMES, runtime_not_available

#: Metric key -> its column title, per toy task.
METRICS = {
    'cls': {'accuracy/top1': 'top-1'},
    'det': {'coco/bbox_mAP': 'bbox mAP', 'coco/segm_mAP': 'segm mAP'},
    'seg': {'mIoU': 'mIoU'},
}


def toy_checkpoints(root: str = '.') -> dict[str, str]:
    """The main job's checkpoints under ``root/work_dirs``, by toy task key (those present)."""
    found = {}
    for key, task in TOY_TASKS.items():
        work_dir = osp.join(root, work_dir_of(task))
        if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
            checkpoint = osp.join(root, checkpoint_of(work_dir))
            if osp.isfile(checkpoint):
                found[key] = checkpoint
    return found


def deploy_config(task: str, mode: str) -> Config:
    """The dynamic-batch deploy config of a toy task for the backend and precision of ``mode``."""
    backend, precision = RUNTIMES[mode]
    name = f'{TASKS[task].deploy}_{backend}_dynamic-batch.py'
    cfg = Config.fromfile(resolve(osp.join('configs', 'deploy', name)))
    if backend == 'openvino':
        cfg.backend_config.precision = precision
    return cfg


def precision_accuracy(
    modes: Sequence[str] = tuple(RUNTIMES),
    root: str = '.',
    work_dir: str = 'work_dirs/benchmark/precision',
    val_images: int | None = None,
    calib_images: int | None = None,
    threads: int = 1,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Measure every runtime mode on every toy task whose checkpoint exists (run from the
    directory holding the main job's ``data/`` and ``work_dirs/``).

    Returns:
        One dict per (task, mode): ``task``, ``mode``, ``num_images``, ``pytorch`` and
        ``backend`` (the metrics of :data:`METRICS`), ``checks`` (name, value, limit, passed),
        ``passed``; a mode that cannot run here has ``n_a`` (why) instead.
    """
    from ..deployment import check_accuracy
    from ..deployment.pipeline import deploy

    rows = []
    for task, checkpoint in toy_checkpoints(root).items():
        toy = TOY_TASKS[task]
        model_cfg = toy.config_path
        image = osp.join(root, toy.data_root, toy.samples[0])
        for mode in modes:
            row = dict(task=task, mode=mode)
            rows.append(row)
            reason = runtime_not_available(mode)
            if reason:
                row['n_a'] = reason
                continue
            log(f'[{task}] {LABELS[mode]}: export and accuracy check')
            folder = osp.join(work_dir, f'{task}_{mode}')
            deploy_cfg = deploy_config(task, mode)
            deployed = deploy(
                deploy_cfg, model_cfg, checkpoint, image, folder, calib_images=calib_images
            )
            report = check_accuracy(
                deployed.backend_file,
                deploy_cfg,
                model_cfg,
                checkpoint,
                num_images=val_images,
                threads=threads,
            )
            keys = METRICS[task]
            row.update(
                num_images=report.num_images,
                pytorch={k: report.metrics['pytorch'][k] for k in keys},
                backend={k: report.metrics['backend'][k] for k in keys},
                checks=[
                    dict(name=c.name, value=c.value, limit=c.limit, passed=c.passed)
                    for c in report.checks
                ],
                passed=report.passed,
                calibration_images=len(deployed.calibration_files),
            )
    return rows
