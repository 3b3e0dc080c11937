"""Parameters and FLOPs, with mmengine's complexity analysis: the package's one counter.

FLOPs count one multiply-add as one FLOP (fvcore's convention, the papers'), attention included
(``dfvt_mm`` registers a handle for ``scaled_dot_product_attention``). Detection and segmentation
models are traced in ``tensor`` mode on a preprocessed batch, as mmdet's own tool does (Mask
R-CNN through its RPN, box and mask heads).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config
from torch import nn

from ..models import DFvT
from ..utils.build import build_model, dummy_batch, load_model_config
from ..utils.metafile import load_models
from ..utils.tasks import task_of

#: The paper's FLOPs resolutions (H, W): ImageNet 224x224, COCO 1280x800, ADE20K 2048x512.
DEFAULT_SHAPES = {'cls': (224, 224), 'det': (800, 1280), 'seg': (512, 2048)}


def count(model: nn.Module, inputs: Sequence) -> dict[str, int]:
    """``params`` and ``flops`` of ``model(*inputs)`` (``get_model_complexity_info``)."""
    with torch.no_grad():
        info = get_model_complexity_info(
            model, inputs=tuple(inputs), show_table=False, show_arch=False
        )
    return dict(params=info['params'], flops=info['flops'])


def model_complexity(
    config: str | Config,
    shape: tuple[int, int] | None = None,
    cfg_options: dict | None = None,
) -> dict:
    """Parameters and FLOPs of the config's model on one ``shape`` (H, W) image.

    Args:
        config: A config path, ``'pkg::path'`` or a loaded Config.
        shape: The input; defaults to the paper's size for the task (:data:`DEFAULT_SHAPES`).
        cfg_options: Overrides of the config.

    Returns:
        ``dict(config, task, shape, params, flops)``.
    """
    cfg = load_model_config(config, cfg_options)
    task = task_of(cfg)
    shape = tuple(shape or DEFAULT_SHAPES[task])
    model = build_model(cfg)
    inputs, samples = dummy_batch(model, task, 1, shape)
    if samples is not None:
        model.forward = partial(model.forward, data_samples=samples, mode='tensor')
    return dict(config=cfg.filename, task=task, shape=list(shape), **count(model, (inputs,)))


def backbone_summary(shape: tuple[int, int] = (224, 224)) -> list[dict]:
    """DFvT-T/S/B at ``shape``: the dense backbone's per-stage output shapes (out_indices 0-3,
    the detection/segmentation setting) and the ImageNet classifier configs' parameters and
    FLOPs, beside the paper's (Table 1, at 224x224).

    Returns:
        One dict per size: ``backbone`` (label), ``config``, ``stage_shapes`` ((C, H, W) of each
        output), ``params``, ``flops``, ``paper_params``, ``paper_flops``.
    """
    rows = []
    for record in load_models('cls'):
        arch = load_model_config(record.config_path).model.backbone.arch
        backbone = DFvT(arch, out_indices=(0, 1, 2, 3), pad_small_map=True).eval()
        with torch.no_grad():
            outs = backbone(torch.rand(1, 3, *shape))
        size = model_complexity(record.config_path, shape)
        rows.append(
            dict(
                backbone=record.backbone,
                config=record.config,
                stage_shapes=[tuple(out.shape[1:]) for out in outs],
                params=size['params'],
                flops=size['flops'],
                paper_params=record.params,
                paper_flops=record.flops,
            )
        )
    return rows
