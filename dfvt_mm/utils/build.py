"""Build a config's model without weights, and make a batch for it: what the analysis tools, the
benchmark and the tests share.

A config is a file of this repository or an upstream one (``'mmdet::mask_rcnn/...py'``, in the
installed package's ``.mim/configs``). The model is built through its own task's registry (the
config's ``default_scope``), with no weights: ``Pretrained`` ``init_cfg`` entries and
``pretrained`` keys are removed (nothing here may need a file or a download), SyncBN becomes BN
(mmengine's ``revert_sync_batchnorm``: one process, any device).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from mmengine.config import Config, ConfigDict
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.registry import MODELS, DefaultScope, init_default_scope
from torch import nn

from .paths import resolve
from .tasks import TASKS, task_of


def load_model_config(config: str | Config, cfg_options: dict | None = None) -> Config:
    """Load a config (a path, ``'pkg::path'`` or a Config, which is copied) and merge
    ``cfg_options`` (mmengine's dotted keys).

    Raises:
        ValueError: The config names no ``default_scope``, so its registry is unknown.
    """
    cfg = config.copy() if isinstance(config, Config) else Config.fromfile(resolve(config))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    task_of(cfg)  # the scope is one of the three
    return cfg


def strip_pretrained(node: Any) -> Any:
    """A copy of a model config without ``pretrained`` values or ``Pretrained`` initialisers."""
    if isinstance(node, Mapping):
        out = {}
        for key, value in node.items():
            if key == 'pretrained':
                out[key] = None
            elif key == 'init_cfg' and _is_pretrained_init(value):
                out[key] = None
            elif key == 'init_cfg' and isinstance(value, (list, tuple)):
                out[key] = [v for v in value if not _is_pretrained_init(v)] or None
            else:
                out[key] = strip_pretrained(value)
        return out
    if isinstance(node, (list, tuple)):
        return type(node)(strip_pretrained(v) for v in node)
    return node


def _is_pretrained_init(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get('type') == 'Pretrained'


def build_model(
    config: str | Config,
    cfg_options: dict | None = None,
    pretrained: bool = False,
    device: str | torch.device = 'cpu',
) -> nn.Module:
    """The config's model, built in its own scope's registry, in eval mode. No weights are
    loaded (``init_weights`` is not called): PyTorch's default initialisation.

    Args:
        config: A config path, ``'pkg::path'`` or a loaded Config.
        cfg_options: Overrides, mmengine's dotted keys (``{'model.backbone.arch': 'small'}``).
        pretrained: Keep the config's ``Pretrained`` initialisers and ``pretrained`` keys, so
            that a later ``init_weights()`` loads them. By default they are removed.
        device: Where to put the model.
    """
    cfg = load_model_config(config, cfg_options)
    scope = cfg.default_scope
    model_cfg = cfg.model if pretrained else ConfigDict(strip_pretrained(cfg.model.to_dict()))
    if cfg.get('data_preprocessor') is not None:
        # As mmengine's Runner does: mmpretrain configs give the preprocessor at the top level.
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    # Components looked up at run time (mmdet's task modules) use the global default scope.
    init_default_scope(scope)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(model_cfg)
    return revert_sync_batchnorm(model).to(device).eval()


def dummy_batch(
    model: nn.Module, task: str, batch_size: int, shape: tuple[int, int], seed: int = 0
) -> tuple[torch.Tensor, list | None]:
    """A fixed random batch for ``model``, on the model's device.

    Classification: an already normalised (N, 3, H, W) batch and no data samples. Detection and
    segmentation: random uint8 images of ``shape`` through the model's data preprocessor
    (normalised, padded as the config pads) and data samples whose metainfo says the images
    are that size, unscaled: what ``model(inputs, data_samples, mode=...)`` takes.

    Args:
        model: A model built by :func:`build_model`.
        task: A key of :data:`~dfvt_mm.utils.tasks.TASKS`.
        batch_size: Images in the batch.
        shape: ``(H, W)`` of each image.
        seed: Seed of the random images.
    """
    H, W = shape
    gen = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    if task == 'cls':
        return torch.randn(batch_size, 3, H, W, generator=gen).to(device), None
    if task == 'det':
        from mmdet.structures import DetDataSample as Sample
    elif task == 'seg':
        from mmseg.structures import SegDataSample as Sample
    else:
        raise ValueError(f'unknown task {task!r}; choose from {list(TASKS)}')
    meta = dict(img_shape=(H, W), ori_shape=(H, W), pad_shape=(H, W), scale_factor=(1.0, 1.0))
    images = [
        torch.randint(0, 256, (3, H, W), dtype=torch.uint8, generator=gen)
        for _ in range(batch_size)
    ]
    data = model.data_preprocessor(
        dict(inputs=images, data_samples=[Sample(metainfo=meta) for _ in range(batch_size)])
    )
    return data['inputs'], data['data_samples']
