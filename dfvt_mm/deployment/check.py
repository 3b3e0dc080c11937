"""Check an exported model in its backend (onnxruntime, OpenVINO) against the PyTorch model it came
from, on one image.

- Classification: the logits that feed the graph's final Softmax and the class scores it outputs,
  against ``model(inputs, mode='tensor')`` and its softmax.
- Segmentation: the logits that feed the graph's final ArgMax (at input size) against
  ``model.encode_decode``, and its label map against their argmax.
- Instance segmentation: mmdeploy moves the post-processing (RPN and R-CNN NMS, RoIAlign, the mask
  head) into the graph and implements it differently from mmdet (the RPN runs one NMS over all
  levels where mmdet runs one per level; boxes are clipped to the padded input, not the image).
  So the reference is the same PyTorch model running
  mmdeploy's post-processing (its rewriters, in eager mode, as mmdeploy's own tests compare
  backends), and both outputs then go through the same mask pasting (mmdeploy's
  ``End2EndModel``): boxes, scores, labels and the pasted masks are compared detection by
  detection. The agreement with mmdet's own post-processing is reported for information.

Where the deploy config has a dynamic batch axis, every check runs at batch 1 and at batch 2
(the image and its mirror image) through the same file. Where height and width are dynamic too,
every check runs again on the image resized to each of the config's ``check_shapes``, through the
same file, and each check's name says the size the graph ran at (after the data preprocessor:
Mask R-CNN's pads to a multiple of 32).

The limits hold for f32 inference (onnxruntime; OpenVINO fp32, which forces f32). A model that
runs in bf16 or int8 is reported against the same references for information (no limits): the
accuracy check on a validation set (:mod:`.accuracy`) is what accepts it.
"""

from __future__ import annotations

import copy
import os.path as osp
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .export import (
    backend_of,
    build_pytorch_model,
    build_task_processor,
    check_shapes_of,
    create_input,
    deploy_task,
    load_deploy_configs,
    precision_of,
)
from .mmdeploy_patches import keep_rewritten_descriptors, openvino_wrapper
from .runtime import OnnxRuntimeModel, OpenVINOModel, last_node_input

LOGITS_TOL = 1e-4
# Box corners differ by float32 rounding between two implementations of the same decoding: up
# to 3e-5 px measured on the toy model; 0.01 px leaves room for 1344-pixel images (float32
# spacing there is 1.2e-4) and deeper models, and is still far below anything visible.
BOX_TOL = 0.01
# Pasted masks are thresholded at 0.5: a pixel whose probability sits at 0.5 within float32
# rounding may flip. 1 - IoU of each matched mask pair <= 1 %, not counting one flipped pixel:
# on the toy model's small masks one pixel is more than 1 % of a union (1 of 59 pixels flipped
# between two OpenVINO f32 compiles of the same graph, with and without its fused kernels).
MASK_TOL = 0.01
MASK_FLIPS_ALLOWED = 1


@dataclass
class Check:
    """One comparison of a deployed model with PyTorch.

    Args:
        name: What is compared.
        value: The measured number (a difference, or a count of disagreements).
        limit: The largest value that passes; None for rows reported for information only.
        detail: What the number means, for the report.
    """

    name: str
    value: float
    limit: float | None
    detail: str = ''

    @property
    def passed(self) -> bool | None:
        return None if self.limit is None else bool(self.value <= self.limit)

    def as_row(self) -> list[str]:
        status = {True: 'pass', False: 'FAIL', None: 'info'}[self.passed]
        limit = 'info' if self.limit is None else f'<= {self.limit:g}'
        return [self.name, f'{self.value:.3g}', limit, self.detail, status]


def check_onnx(
    onnx_file: str,
    deploy_cfg: Any,
    model_cfg: Any,
    checkpoint: str | None,
    img: str,
    device: str = 'cpu',
    cfg_options: dict | None = None,
    backend_file: str | None = None,
) -> list[Check]:
    """Run the exported model in its backend and the PyTorch model on ``img``; compare them.

    Args:
        onnx_file: The exported model (:func:`dfvt_mm.deployment.export_onnx`).
        deploy_cfg: The deploy config it was exported with (or its path); its backend and
            ``backend_config.precision`` say what runs.
        model_cfg: The model config (or its path).
        checkpoint: The checkpoint it was exported from (None: random weights, as exported).
        img: A test image.
        device: Device of the PyTorch model.
        cfg_options: The model config overrides used for the export.
        backend_file: OpenVINO: the IR to run (default: ``onnx_file`` with ``.xml``, what
            :func:`dfvt_mm.deployment.to_openvino` writes); onnxruntime runs ``onnx_file``.

    Returns:
        The checks, in the order of the report.
    """
    from mmdeploy.utils import is_dynamic_batch

    deploy_cfg, model_cfg = load_deploy_configs(deploy_cfg, model_cfg, cfg_options)
    if backend_of(deploy_cfg) == 'onnxruntime':
        backend_file = onnx_file
    elif backend_file is None:
        backend_file = osp.splitext(onnx_file)[0] + '.xml'
    processor = build_task_processor(deploy_cfg, model_cfg, device)
    torch_model = build_pytorch_model(processor, checkpoint)
    task = deploy_task(deploy_cfg)
    batch_sizes = (1, 2) if is_dynamic_batch(deploy_cfg) else (1,)
    # The export image as the test pipeline gives it, then resized to each of check_shapes.
    input_shapes = [None, *check_shapes_of(deploy_cfg)]
    sized = len(input_shapes) > 1
    checks: list[Check] = []
    if task == 'det':
        with openvino_wrapper():
            backend = processor.build_backend_model(
                [backend_file], data_preprocessor_updater=processor.update_data_preprocessor
            )
        for shape in input_shapes:
            for n in batch_sizes:
                checks += _check_instance_seg(
                    backend, processor, deploy_cfg, torch_model, img, n, shape, sized
                )
        return _unlimited(checks) if _reduced(deploy_cfg) else checks
    # The logits are the input of the graph's last Softmax (classification) or ArgMax
    # (segmentation); a segmentation graph without argmax outputs them itself.
    final_op = 'Softmax' if task == 'cls' else 'ArgMax'
    with_argmax = deploy_cfg.codebase_config.get('with_argmax', True)
    logits = [last_node_input(onnx_file, final_op)] if task == 'cls' or with_argmax else []
    runtime = _runtime(deploy_cfg, backend_file, logits)
    for shape in input_shapes:
        _, inputs = create_input(processor, deploy_cfg, img, torch_model, input_shape=shape)
        for n in batch_sizes:
            batch = inputs if n == 1 else torch.cat([inputs, inputs.flip(-1)])
            label = _label(batch, sized)
            if task == 'cls':
                checks += _check_classification(runtime, torch_model, batch, label)
            else:
                checks += _check_segmentation(runtime, torch_model, batch, label)
    return _unlimited(checks) if _reduced(deploy_cfg) else checks


def _label(batch: torch.Tensor, sized: bool) -> str:
    """What the names of the checks on ``batch`` end with: ``batch N``, and the size the graph
    ran at (``HxW, batch N``) where it runs at several."""
    n, _, height, width = batch.shape
    return f'{height}x{width}, batch {n}' if sized else f'batch {n}'


def _runtime(
    deploy_cfg: Any, backend_file: str, extra_outputs: list[str]
) -> OnnxRuntimeModel | OpenVINOModel:
    if backend_of(deploy_cfg) == 'onnxruntime':
        return OnnxRuntimeModel(backend_file, extra_outputs=extra_outputs)
    return OpenVINOModel(
        backend_file, precision=precision_of(deploy_cfg), extra_outputs=extra_outputs
    )


def _reduced(deploy_cfg: Any) -> bool:
    """Whether the model runs in less than f32 here (bf16 runs f32 where the CPU has none)."""
    from .runtime import bf16_unsupported_reason

    precision = precision_of(deploy_cfg)
    return precision == 'int8' or (precision == 'bf16' and bf16_unsupported_reason() is None)


def _unlimited(checks: list[Check]) -> list[Check]:
    """The checks for information: the f32 limits do not apply to bf16 or int8."""
    return [
        c
        if c.limit is None
        else Check(c.name, c.value, None, f'{c.detail} (limit {c.limit:g} is for f32)')
        for c in checks
    ]


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        raise ValueError(f'the backend gave shape {a.shape}, PyTorch {b.shape}')
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def _close(name: str, a: np.ndarray, b: np.ndarray, tol: float = LOGITS_TOL) -> Check:
    return Check(name, _max_abs(a, b), tol, 'max |backend - PyTorch|')


def _check_classification(
    ort: OnnxRuntimeModel | OpenVINOModel, model: torch.nn.Module, batch: torch.Tensor, label: str
) -> list[Check]:
    n = batch.shape[0]
    with torch.no_grad():
        logits = model(batch, mode='tensor')
    out = ort(batch)
    scores_name, logits_name = ort.output_names[0], ort.output_names[-1]
    ref_top1 = logits.argmax(1).numpy()
    top1 = out[scores_name].argmax(1)
    return [
        _close(f'logits, {label}', out[logits_name], logits.numpy()),
        _close(f'class scores, {label}', out[scores_name], logits.softmax(1).numpy()),
        Check(
            f'top-1 classes differing, {label}',
            int((top1 != ref_top1).sum()),
            0,
            f'of {n} images',
        ),
    ]


def _check_segmentation(
    ort: OnnxRuntimeModel | OpenVINOModel, model: torch.nn.Module, batch: torch.Tensor, label: str
) -> list[Check]:
    n = batch.shape[0]
    size = tuple(batch.shape[2:])
    metas = [dict(img_shape=size, pad_shape=size, ori_shape=size) for _ in range(n)]
    with torch.no_grad():
        logits = model.encode_decode(batch, metas)
    out = ort(batch)
    output, logits_name = ort.output_names[0], ort.output_names[-1]
    # Exported with with_argmax=False, the graph's output is the logits themselves.
    labels = out[output] if output != logits_name else out[logits_name].argmax(1)
    labels = labels.reshape(n, *size)
    ref = logits.argmax(1).numpy()
    # A pixel whose two best classes are closer than the logits tolerance may flip either way.
    top2 = logits.topk(2, dim=1).values
    near_tie = ((top2[:, 0] - top2[:, 1]) <= LOGITS_TOL).numpy()
    differ = labels != ref
    return [
        _close(f'seg logits, {label}', out[logits_name], logits.numpy()),
        Check(
            f'label pixels differing, {label}',
            int((differ & ~near_tie).sum()),
            0,
            f'{int(differ.sum())} of {differ.size} differ, all but these at near ties',
        ),
    ]


class _EagerRewrittenWrapper(torch.nn.Module):
    """Stands in for mmdeploy's backend wrapper in its ``End2EndModel``: the PyTorch model
    with mmdeploy's rewriters for the backend applied, run eagerly on the same data samples."""

    def __init__(
        self, model: torch.nn.Module, deploy_cfg: Any, data_samples: list, output_names: list[str]
    ) -> None:
        from mmdeploy.core import patch_model
        from mmdeploy.utils import IR

        super().__init__()
        self.backend = backend_of(deploy_cfg)
        self.model = patch_model(model, cfg=deploy_cfg, backend=self.backend, ir=IR.ONNX)
        self.deploy_cfg = deploy_cfg
        self.data_samples = data_samples
        self.output_names = output_names

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        from mmdeploy.core import RewriterContext
        from mmdeploy.utils import IR

        opset = self.deploy_cfg.onnx_config.get('opset_version', 11)
        with (
            keep_rewritten_descriptors(),
            RewriterContext(cfg=self.deploy_cfg, backend=self.backend, ir=IR.ONNX, opset=opset),
            torch.no_grad(),
        ):
            # The rewritten forward writes img_shape into the samples: give it copies.
            outputs = self.model(
                next(iter(inputs.values())), copy.deepcopy(self.data_samples), mode='predict'
            )
        return dict(zip(self.output_names, outputs))

    def output_to_list(self, outputs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        return [outputs[name] for name in self.output_names]


def _box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    from mmdet.structures.bbox import bbox_overlaps

    return bbox_overlaps(a, b)


def _compare_detections(results: list, references: list) -> dict[str, float]:
    """Match two lists of detection results image by image, one to one, by label and box IoU
    (best pairs first, IoU >= 0.5), and measure the matched pairs' largest differences."""
    from mmdet.structures.bbox import bbox_overlaps

    stats = dict(matched=0, total=0, reference_total=0, box=0.0, score=0.0, mask=0.0)
    for result, reference in zip(results, references):
        a, b = result.pred_instances, reference.pred_instances
        stats['total'] += len(a)
        stats['reference_total'] += len(b)
        if len(a) == 0 or len(b) == 0:
            continue
        iou = bbox_overlaps(a.bboxes, b.bboxes)
        iou[a.labels[:, None] != b.labels[None, :]] = -1
        while iou.max() >= 0.5:
            i, j = divmod(int(iou.argmax()), iou.shape[1])
            iou[i, :] = iou[:, j] = -1
            stats['matched'] += 1
            stats['box'] = max(stats['box'], float((a.bboxes[i] - b.bboxes[j]).abs().max()))
            stats['score'] = max(stats['score'], float((a.scores[i] - b.scores[j]).abs()))
            ma, mb = a.masks[i].bool(), b.masks[j].bool()
            union = int((ma | mb).sum())
            flipped = max(int((ma ^ mb).sum()) - MASK_FLIPS_ALLOWED, 0)
            if union:
                stats['mask'] = max(stats['mask'], flipped / union)
    return stats


def _check_instance_seg(
    backend: Any,
    processor: Any,
    deploy_cfg: Any,
    torch_model: torch.nn.Module,
    img: str,
    n: int,
    input_shape: tuple[int, int] | None,
    sized: bool,
) -> list[Check]:
    import mmcv

    images = (
        [img] if n == 1 else [mmcv.imread(img), np.ascontiguousarray(mmcv.imread(img)[:, ::-1])]
    )
    # Raw test-pipeline data: test_step below runs each model's data preprocessor once.
    data, _ = create_input(processor, deploy_cfg, images if n > 1 else img, input_shape=input_shape)
    ort_results = backend.test_step(copy.deepcopy(data))
    processed = backend.data_preprocessor(copy.deepcopy(data), False)
    label = _label(processed['inputs'], sized)
    ort_wrapper = backend.wrapper
    backend.wrapper = _EagerRewrittenWrapper(
        torch_model, deploy_cfg, processed['data_samples'], list(ort_wrapper.output_names)
    )
    ref_results = backend.test_step(copy.deepcopy(data))
    backend.wrapper = ort_wrapper
    with torch.no_grad():
        mmdet_results = torch_model.test_step(copy.deepcopy(data))

    ref = _compare_detections(ort_results, ref_results)
    mmdet = _compare_detections(ort_results, mmdet_results)
    unmatched = ref['total'] + ref['reference_total'] - 2 * ref['matched']
    # Differences of unmatched detections are not measured: a set that does not match fails all.
    fail = float('inf') if unmatched else 0.0
    return [
        Check(
            f'unmatched detections, {label}',
            unmatched,
            0,
            f'{ref["matched"]} matched of {ref["total"]} / {ref["reference_total"]}',
        ),
        Check(f'box corners, {label}', max(ref['box'], fail), BOX_TOL, 'max |diff| in pixels'),
        Check(f'scores, {label}', max(ref['score'], fail), LOGITS_TOL, 'max |diff|'),
        Check(
            f'masks, {label}',
            max(ref['mask'], fail),
            MASK_TOL,
            'max 1 - IoU of pasted masks, one pixel aside',
        ),
        Check(
            f"vs mmdet's own post-processing, {label}",
            mmdet['total'] + mmdet['reference_total'] - 2 * mmdet['matched'],
            None,
            f'unmatched; {mmdet["matched"]} matched of {mmdet["total"]} / '
            f"{mmdet['reference_total']} (mmdeploy's NMS differs)",
        ),
    ]
