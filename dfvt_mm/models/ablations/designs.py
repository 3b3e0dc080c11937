"""The designs of the paper's Table 2 (its Fig. 2 (a)-(c)), each a whole model of its own; (d) is
DFvT itself.

The paper defines (a)-(c) loosely; these are the readings whose sizes land nearest
(``configs/ablations/README.md`` compares them):

- (a) "Baseline ViT", :class:`BaselineViT`: a Swin-style pyramid: window attention at each
  stage's input resolution (strides 4, 8, 16, 32), patch merging (mmcv's: LN and Linear
  ``4C -> 2C``) at the end of stages 0-2, no convs after the stem and no fusion; the dense
  outputs are the normed tokens themselves.
- (b) "Downsampled ViT", :class:`DownsampledViTStage`: max-pooling before the attention (strides
  8, 16, 32, 32) and nothing else: DFvT without its conv block, Spatial Module and DANE.
- (c) "Parallel ViT", :class:`ParallelViTStage`: (b) with a conv path beside the attention, on
  each stage's input at its resolution: one inverted residual per block (1x1 to
  ``mlp_ratio * C``, depthwise 3x3, 1x1 back, BN and SiLU), max-pooled and added to the tokens
  after the blocks; the dense outputs fuse with its map. ``with_cp`` checkpoints the transformer
  blocks only.

Example:
    >>> from dfvt_mm.models import DFvT
    >>> model = DFvT(arch='small', stage_cfg=dict(type='ParallelViTStage'))  # Table 2 (c)
"""

from __future__ import annotations

import torch
from mmcv.cnn import ConvModule
from mmcv.cnn.bricks.transformer import PatchMerging
from mmengine.model import ModuleList
from mmengine.registry import MODELS
from torch import Tensor, nn

from ..backbones.dfvt import DFvT, DFvTStage, conv_kwargs
from ..layers import PointwiseConv2d
from .stages import CMStage, NoConvStage, no_fusion


@MODELS.register_module()
class DownsampledViTStage(NoConvStage, CMStage):
    """Table 2 (b): max-pooling before the attention and no convs, no Spatial Module, no fusion:
    Table 4's :class:`NoConvStage` and Table 3's :class:`CMStage` at once (their ``__init__``
    drops the convs before the attention, then the Spatial Module; ``fusion_cfg`` must be None).
    """

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = x.contiguous(memory_format=torch.channels_last)
        tokens = self.max_pool(x).permute(0, 2, 3, 1)
        for block in self.blocks:
            tokens = block(tokens, None)
        return tokens, x


@MODELS.register_module()
class ParallelViTStage(DownsampledViTStage):
    """Table 2 (c): (b) with a convolutional path beside the attention, on the stage's input at
    its resolution: one inverted residual (1x1 ``C -> mlp_ratio * C``, depthwise 3x3, 1x1 back)
    per block; max-pooled (except in the last stage) and added to the tokens after the blocks.
    Its output is the stage's local map.

    Args:
        embed_dims: Channels of the stage.
        depth: Number of blocks (and of inverted residuals).
        mlp_ratio: Width of the inverted residuals (and of the MLPs) relative to ``embed_dims``.
        conv_norm_cfg: Config of the conv norm layers.
        act_cfg: Config of the conv activations.
        deploy: Build the convs with biases and without their norm layers.
        **kwargs: The other arguments of :class:`DFvTStage`.
    """

    def __init__(
        self,
        embed_dims: int,
        depth: int,
        mlp_ratio: float = 4.0,
        conv_norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        deploy: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(
            embed_dims=embed_dims,
            depth=depth,
            mlp_ratio=mlp_ratio,
            conv_norm_cfg=conv_norm_cfg,
            act_cfg=act_cfg,
            deploy=deploy,
            **kwargs,
        )
        conv = conv_kwargs(conv_norm_cfg, act_cfg, deploy)
        pointwise = dict(type=PointwiseConv2d)
        C, hidden = embed_dims, int(embed_dims * mlp_ratio)
        self.conv_path = ModuleList(
            nn.Sequential(
                ConvModule(C, hidden, 1, conv_cfg=pointwise, **conv),
                ConvModule(hidden, hidden, 3, padding=1, groups=hidden, **conv),
                ConvModule(
                    hidden, C, 1, conv_cfg=pointwise, act_cfg=None, norm_cfg=conv['norm_cfg']
                ),
            )
            for _ in range(depth)
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        tokens, x = super().forward(x)
        x_sk = x
        for layer in self.conv_path:
            x_sk = x_sk + layer(x_sk)
        return tokens + self.max_pool(x_sk).permute(0, 2, 3, 1), x_sk


@MODELS.register_module()
class BaselineViTStage(DFvTStage):
    """Table 2 (a)'s stage: window attention on the stage's input itself, no convs and no fusion,
    and patch merging (mmcv's ``PatchMerging``: 2x2 neighbours concatenated, LN, Linear
    ``4C -> 2C``) for the next stage instead of the channel expansion.

    Args:
        embed_dims: Channels of the stage.
        expand: Whether to append the patch merging for the next stage.
        norm_cfg: Config of the token norm layers.
        fusion_cfg: Must be None (there is nothing to fuse).
        **kwargs: The other arguments of :class:`DFvTStage`.
    """

    def __init__(
        self,
        embed_dims: int,
        expand: bool = True,
        norm_cfg: dict | None = None,
        fusion_cfg: dict | None = None,
        **kwargs,
    ) -> None:
        super().__init__(
            embed_dims=embed_dims,
            expand=expand,
            norm_cfg=norm_cfg,
            fusion_cfg=no_fusion(type(self).__name__, fusion_cfg),
            **kwargs,
        )
        self.local_conv = self.context_conv = self.spatial_conv = None
        norm_cfg = norm_cfg or dict(type='LN')
        self.downsample = (
            PatchMerging(embed_dims, 2 * embed_dims, norm_cfg=norm_cfg) if expand else None
        )

    def forward(self, x: Tensor) -> tuple[Tensor, None]:
        """Returns the tokens at the input's resolution, and no local map."""
        tokens = x.contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1)
        for block in self.blocks:
            tokens = block(tokens, None)
        return tokens, None

    def next_input(self, tokens: Tensor) -> Tensor:
        B, H, W, C = tokens.shape
        merged, (h, w) = self.downsample(tokens.reshape(B, H * W, C), (H, W))
        return merged.view(B, h, w, -1).permute(0, 3, 1, 2)


@MODELS.register_module()
class BaselineViT(DFvT):
    """Table 2 (a), "Baseline ViT": DFvT's stem, widths, depths, heads and MLPs in a Swin-style
    pyramid of :class:`BaselineViTStage`; its outputs are the normed tokens (they keep the
    stage's input resolution: there is no local map to fuse with, and no ``fuse{i}`` layer).

    Args:
        stage_cfg: Arguments of its stages, which are :class:`BaselineViTStage` (a ``type`` other
            than that is a ValueError).
        **kwargs: The other arguments of :class:`DFvT`.

    Example:
        >>> from dfvt_mm.models.ablations import BaselineViT
        >>> model = BaselineViT(arch='small')
    """

    def __init__(self, stage_cfg: dict | None = None, **kwargs) -> None:
        stage_cfg = {'type': BaselineViTStage, **(stage_cfg or {})}
        if stage_cfg['type'] not in (BaselineViTStage, 'BaselineViTStage'):
            raise ValueError(
                f"BaselineViT is a whole model of the paper's Table 2 with its own stages; "
                f"stage_cfg type {stage_cfg['type']!r} varies DFvT: use type='DFvT' for it"
            )
        super().__init__(stage_cfg=stage_cfg, **kwargs)
        for i in self.out_indices:
            if hasattr(self, f'fuse{i}'):
                delattr(self, f'fuse{i}')

    def dense_output(self, i: int, tokens: Tensor, local: None) -> Tensor:
        return getattr(self, f'norm{i}')(tokens).permute(0, 3, 1, 2).contiguous()
