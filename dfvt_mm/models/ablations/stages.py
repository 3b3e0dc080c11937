"""The stages of the paper's Tables 3 and 4: DFvT's stage with a part of it taken away.

Each is a stage from the registry, chosen by ``DFvT``'s ``stage_cfg`` and built with the
arguments of :class:`~dfvt_mm.models.backbones.dfvt.DFvTStage`; it builds that stage and drops
what it does without, so that the parts it keeps have the released names.

Example:
    >>> from dfvt_mm.models import DFvT
    >>> model = DFvT(arch='small', stage_cfg=dict(type='CMStage'))  # Table 3, "CM"
"""

from __future__ import annotations

import torch
from mmengine.registry import MODELS
from torch import Tensor

from ..backbones.dfvt import DFvTStage
from .fusions import NoFusion


def no_fusion(stage: str, fusion_cfg: dict | None) -> dict:
    """The ``fusion_cfg`` of a stage without a Spatial Module: none to give."""
    if fusion_cfg is not None:
        raise ValueError(
            f'{stage} has no Spatial Module, so there is nothing for fusion_cfg={dict(fusion_cfg)} '
            f'to fuse: leave fusion_cfg unset with this stage'
        )
    return dict(type=NoFusion)


@MODELS.register_module()
class CMStage(DFvTStage):
    """Table 3 "CM": the Context Module alone: no Spatial Module, and blocks that fuse nothing
    (plain window-attention blocks on the Context Module's tokens).

    Args:
        fusion_cfg: Must be None (there is nothing to fuse).
        **kwargs: The arguments of :class:`DFvTStage`.
    """

    def __init__(self, fusion_cfg: dict | None = None, **kwargs) -> None:
        super().__init__(fusion_cfg=no_fusion(type(self).__name__, fusion_cfg), **kwargs)
        self.spatial_conv = None

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = x.contiguous(memory_format=torch.channels_last)
        x_sk = self.local_conv(x)
        tokens = (self.max_pool(x) + self.context_conv(x_sk)).permute(0, 2, 3, 1)
        for block in self.blocks:
            tokens = block(tokens, None)
        return tokens, x_sk


@MODELS.register_module()
class NoConvStage(DFvTStage):
    """Table 4 "w/o conv info": no conv block before the attention (1x1, two depthwise 3x3,
    stride-2 depthwise, 1x1): its input is the max-pooled stage input. The Spatial Module and the
    dense outputs read the stage's input instead of the conv block's local map."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.local_conv = self.context_conv = None

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = x.contiguous(memory_format=torch.channels_last)
        tokens = self.max_pool(x).permute(0, 2, 3, 1)
        spatial = self.spatial_map(x, x).permute(0, 2, 3, 1)
        for block in self.blocks:
            tokens = block(tokens, spatial)
        return tokens, x


@MODELS.register_module()
class NoMaxPoolStage(DFvTStage):
    """Table 4 "w/o maxpooling info": the attention's input is the conv block's output alone,
    without the max-pooled input (the input itself in the last stage, where it stands in for
    the max-pool)."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = x.contiguous(memory_format=torch.channels_last)
        x_sk = self.local_conv(x)
        tokens = self.context_conv(x_sk).permute(0, 2, 3, 1)
        spatial = self.spatial_map(x, x_sk).permute(0, 2, 3, 1)
        for block in self.blocks:
            tokens = block(tokens, spatial)
        return tokens, x_sk
