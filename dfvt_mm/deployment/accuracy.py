"""Accuracy of a deployed model on a validation set, against the fp32 PyTorch model.

Both models run on the same batches of the model config's validation split (its test pipeline,
at the deploy config's input size), and each one's predictions go through the model config's own
``val_evaluator`` (mmpretrain's ``Accuracy``, mmseg's ``IoUMetric``, mmdet's ``CocoMetric``) in an
mmengine ``Evaluator``. The backend runs as mmdeploy's backend model (``End2EndModel``) of the
task; the reference is the model as trained (BatchNorm not folded), so the check covers the
export, the folding and the reduced precision together.

Limits (:data:`LIMITS`): classification top-1 within 1.0 point, and the top-1 class equal to
PyTorch's on at least 98 % of the images (measured with the same ``Accuracy`` metric, PyTorch's
predicted classes as the labels); segmentation mIoU within 1.0; Mask R-CNN bbox and segm mAP
within 0.02.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
from mmengine.config import Config

from .check import Check
from .data import dataloader_of, split_dataset
from .export import (
    backend_of,
    build_pytorch_model,
    build_task_processor,
    deploy_task,
    load_deploy_configs,
    precision_of,
)
from .mmdeploy_patches import openvino_wrapper

#: (metric key, what the report calls it, largest |backend - PyTorch| that passes), per task.
LIMITS = {
    'cls': [('accuracy/top1', 'top-1 (%)', 1.0)],
    'seg': [('mIoU', 'mIoU', 1.0)],
    'det': [('coco/bbox_mAP', 'bbox mAP', 0.02), ('coco/segm_mAP', 'segm mAP', 0.02)],
}
#: Classification: the largest share of images, in %, whose top-1 class differs from PyTorch's.
MAX_TOP1_DIFFERING = 2.0


@dataclass
class AccuracyReport:
    """The accuracy check of one backend file.

    Args:
        backend: What ran (e.g. ``'openvino int8'``).
        num_images: Validation images measured.
        metrics: The evaluators' results, ``{'pytorch': {...}, 'backend': {...}}``.
        checks: The comparisons, in the order of the report.
    """

    backend: str
    num_images: int
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed is not False for check in self.checks)


def _evaluator(model_cfg: Config, dataset: Any) -> Any:
    from mmengine.evaluator import Evaluator
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope(model_cfg.default_scope):
        evaluator = Evaluator(copy.deepcopy(model_cfg.val_evaluator))
    evaluator.dataset_meta = dataset.metainfo
    return evaluator


def _restrict_coco_metric(evaluator: Any, dataset: Any) -> None:
    """Evaluate mmdet's ``CocoMetric`` on the images measured only: with its annotation file it
    otherwise scores every image of the file, and images not run count as missed."""
    from mmdet.evaluation import CocoMetric

    ids = [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))]
    for metric in evaluator.metrics:
        if isinstance(metric, CocoMetric):
            metric.img_ids = ids


def _as_labels(results: list, reference: list) -> list:
    """Copies of ``results`` labelled with the reference's predicted classes."""
    labelled = []
    for result, ref in zip(results, reference):
        result = copy.deepcopy(result)
        result.set_gt_label(ref.pred_label)
        labelled.append(result)
    return labelled


def check_accuracy(
    backend_file: str,
    deploy_cfg: str | Config,
    model_cfg: str | Config,
    checkpoint: str | None,
    num_images: int | None = None,
    seed: int = 0,
    batch_size: int = 1,
    device: str = 'cpu',
    cfg_options: dict | None = None,
    threads: int = 1,
) -> AccuracyReport:
    """Measure ``backend_file`` and the fp32 PyTorch model on the validation split.

    Args:
        backend_file: The deployed model (ONNX for onnxruntime, the IR for OpenVINO; its
            precision is the deploy config's ``backend_config.precision``).
        deploy_cfg: The deploy config it was made with (or its path).
        model_cfg: The model config (its val dataloader and val evaluator).
        checkpoint: The checkpoint it was exported from (None: random weights).
        num_images: Measure a seeded sample of this many validation images (None: all).
        seed: Seed of the sample.
        batch_size: Images per batch (the graphs' batch is dynamic).
        device: Device of the PyTorch model.
        cfg_options: The model config overrides used for the export.
        threads: The backend's threads (OpenVINO).

    Returns:
        The metrics of both models and the checks against :data:`LIMITS`.
    """
    deploy_cfg, model_cfg = load_deploy_configs(deploy_cfg, model_cfg, cfg_options)
    task = deploy_task(deploy_cfg)
    processor = build_task_processor(deploy_cfg, model_cfg, device)
    torch_model = build_pytorch_model(processor, checkpoint)
    with openvino_wrapper(threads):
        backend = processor.build_backend_model(
            [backend_file], data_preprocessor_updater=processor.update_data_preprocessor
        )
    dataset = split_dataset(processor, deploy_cfg, 'val', num_images, seed)
    evaluators = {
        'pytorch': _evaluator(model_cfg, dataset),
        'backend': _evaluator(model_cfg, dataset),
    }
    if task == 'cls':
        evaluators['agreement'] = _evaluator(model_cfg, dataset)
    if task == 'det':
        for evaluator in evaluators.values():
            _restrict_coco_metric(evaluator, dataset)
    for data in dataloader_of(processor, dataset, batch_size):
        with torch.no_grad():
            reference = torch_model.test_step(copy.deepcopy(data))
            results = backend.test_step(copy.deepcopy(data))
        evaluators['pytorch'].process(reference, data)
        evaluators['backend'].process(results, data)
        if 'agreement' in evaluators:
            evaluators['agreement'].process(_as_labels(results, reference), data)
    metrics = {name: ev.evaluate(len(dataset)) for name, ev in evaluators.items()}
    name = f'{backend_of(deploy_cfg)} {precision_of(deploy_cfg)}'
    report = AccuracyReport(name, len(dataset), metrics)
    ref, got = metrics['pytorch'], metrics['backend']
    for key, what, limit in LIMITS[task]:
        report.checks.append(
            Check(
                f'{what}: |{name} - PyTorch fp32|',
                abs(got[key] - ref[key]),
                limit,
                f'{ref[key]:.4g} (PyTorch) -> {got[key]:.4g} on {len(dataset)} val images',
            )
        )
    if task == 'cls':
        differing = 100.0 - metrics['agreement']['accuracy/top1']
        report.checks.append(
            Check(
                'top-1 classes differing from PyTorch (%)',
                differing,
                MAX_TOP1_DIFFERING,
                f'{round(differing * len(dataset) / 100)} of {len(dataset)} val images',
            )
        )
    return report
