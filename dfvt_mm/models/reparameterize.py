"""Fold the BatchNorms of a trained model's DFvT backbone into its convs, checkpoint to checkpoint.

mmpretrain's convention for re-parameterisable backbones (``tools/model_converters/
reparameterize_model.py`` there, for RepVGG and MobileOne), for a config of any of the three tasks
(classifier, detector, segmentor): build the config's model, load the checkpoint, call
``model.backbone.switch_to_deploy()``, save. The result loads into the same config with
``model.backbone.deploy=True``.
"""

from __future__ import annotations

import os
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from ..utils.build import build_model
from ..utils.checkpoint import CheckpointError


def reparameterize_checkpoint(
    config: str | Config, checkpoint: str, dst: str, image_size: int = 224
) -> dict:
    """Load ``checkpoint`` into the model of ``config``, fold its backbone, save it to ``dst``.

    The backbone's output on a random image is compared before and after folding.

    Args:
        config: The config (path or loaded) the checkpoint was trained with, ``deploy`` not set.
        checkpoint: The trained checkpoint.
        dst: Where to write the folded checkpoint (``state_dict`` and the source's ``meta``).
        image_size: Side of the random image of the check.

    Returns:
        ``max_diff`` (largest difference of the backbone's outputs), ``num_tensors`` written
        and ``dst``.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if cfg.model.get('backbone', {}).get('deploy'):
        raise ValueError(
            'The config already builds the folded backbone (model.backbone.deploy=True); give '
            'the config the checkpoint was trained with.'
        )
    model = build_model(cfg)
    backbone = getattr(model, 'backbone', None)
    if not hasattr(backbone, 'switch_to_deploy'):
        raise TypeError(
            f'model.backbone ({type(backbone).__name__}) has no switch_to_deploy(); this tool '
            f'folds re-parameterisable backbones such as DFvT'
        )
    try:
        ckpt = load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    except RuntimeError as e:
        if isinstance(e, CheckpointError):  # already one line, naming the file
            raise
        detail = ' '.join(str(e).split())
        raise ValueError(
            f'{checkpoint} does not fit the model of the config ({detail[:300]}); give the '
            f'checkpoint trained with this config, not one folded already'
        ) from None
    x = torch.rand(1, backbone.in_channels, image_size, image_size)
    with torch.no_grad():
        before = backbone(x)
        backbone.switch_to_deploy()
        after = backbone(x)
    max_diff = max((a - b).abs().max().item() for a, b in zip(after, before))
    if osp.dirname(dst):
        os.makedirs(osp.dirname(dst), exist_ok=True)
    state_dict = model.state_dict()
    meta = dict(ckpt.get('meta', {}), deploy=True, source=osp.basename(checkpoint))
    torch.save(dict(meta=meta, state_dict=state_dict), dst)
    return dict(max_diff=max_diff, num_tensors=len(state_dict), dst=dst)
