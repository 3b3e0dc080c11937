"""Doubly-Fused ViT (DFvT), ECCV 2022: https://arxiv.org/abs/2207.13436.

Each stage downsamples with convolutions *before* window self-attention (Context Module), keeps
the full-resolution local detail in a convolutional Spatial Module, and fuses the two in every
block with DANE. The computation (and every parameter) follows the authors' released code, so
their checkpoints load through :func:`convert_official_checkpoint`.

The paper's ablations (Tables 2-5) are options of :class:`DFvT` (``design``, ``spatial_module``,
``fusion``, ``pre_sa``); their defaults build the released model.

Reading order: DANE -> DFvTBlock -> DFvTStage -> DFvT -> checkpoint conversion.
"""

from __future__ import annotations

import os.path as osp
import re
import warnings
from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule, build_norm_layer, fuse_conv_bn
from mmcv.cnn.bricks.drop import build_dropout
from mmcv.cnn.bricks.transformer import FFN, PatchMerging
from mmengine.logging import MMLogger
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import MODELS
from mmengine.runner.checkpoint import _load_checkpoint
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ...utils.checkpoint import CheckpointArchError, CheckpointLayoutError, unwrap_state_dict
from ..layers import PointwiseConv2d, WindowMSA

NUM_STAGES = 4
# The paper's ablations (main text, Tables 2-5); the first entry of each is the released model.
DESIGNS = ('dfvt', 'baseline', 'downsampled', 'parallel')
FUSIONS = ('dane', 'sum', 'sum_mul', 'se', 'spatial', 'rdane')
PRE_SA = ('conv', 'maxpool')
# The gated fusions: (channel gate, spatial gate, gates read the other input).
_GATES = {
    'dane': (True, True, False),
    'rdane': (True, True, True),
    'se': (True, False, False),
    'spatial': (False, True, False),
}


class DANE(BaseModule):
    """Dual AtteNtion Enhancement: gated fusion of context tokens and spatial-module tokens.

    ``w = sigmoid(spatial_gate(x_spatial) + channel_gate(mean(x_context)))`` and the output is
    ``x_spatial * w + x_context * (1 - w)`` (the authors' code; the paper's Eq. 4 writes the
    weights the other way round, the released weights follow the code).

    The paper's Table 5 compares it with one gate alone (``channel_gate`` only: "SE", a
    squeeze-and-excitation of the context; ``spatial_gate`` only: "SPATIAL") and with the gates'
    inputs swapped (``reverse``: "rDANE", channel attention on the spatial-module tokens and
    spatial attention on the context), each with the same gated sum.

    Args:
        embed_dims: Number of channels.
        reduction: Channel reduction of the channel gate's bottleneck.
        norm_cfg: Config of the norm layers.
        channel_gate: Build the channel gate (SE-style bottleneck MLP on the mean token).
        spatial_gate: Build the spatial gate (LN and a Linear ``C -> 1`` per token).
        reverse: Feed the channel gate the spatial-module tokens and the spatial gate the context.
        init_cfg: Initialization config dict.
    """

    def __init__(
        self,
        embed_dims: int,
        reduction: int = 16,
        norm_cfg: dict | None = None,
        channel_gate: bool = True,
        spatial_gate: bool = True,
        reverse: bool = False,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(init_cfg)
        norm_cfg = norm_cfg or dict(type='LN')
        if not (channel_gate or spatial_gate):
            raise ValueError('DANE needs at least one of channel_gate and spatial_gate')
        hidden = embed_dims // reduction
        if channel_gate and hidden < 1:
            raise ValueError(f'DANE needs embed_dims >= {reduction}, got {embed_dims}')
        self.reverse = reverse
        self.spatial = (
            nn.Sequential(
                build_norm_layer(norm_cfg, embed_dims)[1], nn.Linear(embed_dims, 1, bias=False)
            )
            if spatial_gate
            else None
        )
        self.channel = (
            nn.Sequential(
                nn.Linear(embed_dims, hidden, bias=False),
                nn.SiLU(),
                build_norm_layer(norm_cfg, hidden)[1],
                nn.Linear(hidden, embed_dims, bias=False),
            )
            if channel_gate
            else None
        )

    def forward(self, context: Tensor, spatial: Tensor) -> Tensor:
        """Fuse two channels-last maps (B, H, W, C) of the same shape."""
        channel_in, spatial_in = (spatial, context) if self.reverse else (context, spatial)
        gate = None
        if self.spatial is not None:
            gate = self.spatial(spatial_in)
        if self.channel is not None:
            channel = self.channel(channel_in.mean(dim=(1, 2), keepdim=True))
            gate = channel if gate is None else gate + channel
        w = torch.sigmoid(gate)
        if torch.onnx.is_in_onnx_export():
            # ONNX has no lerp: torch exports it as two formulas and a Where choosing between
            # them; this is one formula.
            return context + w * (spatial - context)
        # context + w * (spatial - context) in one kernel instead of four; the dtypes are
        # promoted as the arithmetic would (under autocast they can differ).
        dtype = torch.promote_types(torch.promote_types(context.dtype, spatial.dtype), w.dtype)
        return torch.lerp(context.to(dtype), spatial.to(dtype), w.to(dtype))


class DFvTBlock(BaseModule):
    """DFvT transformer block: (shifted) window attention, fusion with the spatial map, MLP.

    Args:
        embed_dims: Number of channels.
        num_heads: Number of attention heads.
        window_size: Attention window.
        shift: Whether this block shifts its windows by ``window_size // 2``.
        mlp_ratio: Hidden size of the MLP relative to ``embed_dims``.
        drop_path: Stochastic depth rate of the two residual branches.
        pad_small_map: If True, maps smaller than the window are padded to it and keep the shift
            (the authors' detection code). If False, the window shrinks to the map and the shift
            is dropped once ``min(H, W) <= window_size`` (the authors' classification code).
        norm_cfg: Config of the norm layers.
        fusion: How the tokens after attention take in the spatial map: ``'dane'`` (the
            released model), ``'rdane'``, ``'se'``, ``'spatial'`` (see :class:`DANE`),
            ``'sum'`` (``x + s``), ``'sum_mul'`` (``x + s + x * s``), or None (no spatial map:
            a plain Swin block).
        with_cp: Use gradient checkpointing to save memory.
        init_cfg: Initialization config dict.
    """

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        window_size: int = 7,
        shift: bool = False,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
        pad_small_map: bool = False,
        norm_cfg: dict | None = None,
        fusion: str | None = 'dane',
        with_cp: bool = False,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(init_cfg)
        norm_cfg = norm_cfg or dict(type='LN')
        if fusion is not None and fusion not in FUSIONS:
            raise ValueError(f'fusion must be one of {FUSIONS} or None, got {fusion!r}')
        self.window_size = window_size
        self.shift_size = window_size // 2 if shift else 0
        self.pad_small_map = pad_small_map
        self.fusion = fusion
        self.with_cp = with_cp

        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = WindowMSA(embed_dims, num_heads, window_size=window_size)
        self.drop_path = build_dropout(dict(type='DropPath', drop_prob=drop_path))
        # Every gated fusion is a DANE (the name keeps the released model's state-dict keys);
        # 'sum' and 'sum_mul' have no parameters.
        if fusion in _GATES:
            channel, spatial, reverse = _GATES[fusion]
            self.dane = DANE(
                embed_dims,
                norm_cfg=norm_cfg,
                channel_gate=channel,
                spatial_gate=spatial,
                reverse=reverse,
            )
        else:
            self.dane = None
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(
            embed_dims=embed_dims,
            feedforward_channels=int(embed_dims * mlp_ratio),
            num_fcs=2,
            ffn_drop=0.0,
            dropout_layer=dict(type='DropPath', drop_prob=drop_path),
            act_cfg=dict(type='GELU'),
            add_identity=True,
        )

    def window_and_shift(self, height: int, width: int) -> tuple[int, int]:
        """The window and shift this block uses on a ``height x width`` map."""
        if not self.pad_small_map and min(height, width) <= self.window_size:
            return min(height, width), 0
        return self.window_size, self.shift_size

    def forward(self, x: Tensor, spatial: Tensor | None) -> Tensor:
        """Run the block on context tokens ``x`` and the stage's spatial map, both (B, H, W, C)
        (``spatial`` is None without fusion)."""

        def _inner_forward(x: Tensor, spatial: Tensor | None) -> Tensor:
            window, shift = self.window_and_shift(x.shape[1], x.shape[2])
            x = x + self.drop_path(self.attn(self.norm1(x), window, shift))
            if self.dane is not None:
                x = self.dane(x, spatial)
            elif self.fusion == 'sum':
                x = x + spatial
            elif self.fusion == 'sum_mul':
                x = x + spatial + x * spatial
            return self.ffn(self.norm2(x), identity=x)

        if self.with_cp and torch.is_grad_enabled():
            return cp.checkpoint(_inner_forward, x, spatial, use_reentrant=False)
        return _inner_forward(x, spatial)


def space_to_depth(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, 4C, ceil(H/2), ceil(W/2)), zero-padding odd sizes on the right/bottom.

    Channel blocks in the authors' order (rows first):
    [x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]].

    Done channels-last: for a ``channels_last`` input it is one copy, and the result is
    ``channels_last`` too (what the following depthwise conv runs fastest on).
    """
    B, C, H, W = x.shape
    x = x.permute(0, 2, 3, 1)
    if H % 2 or W % 2:
        x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
    H2, W2 = (H + 1) // 2, (W + 1) // 2
    # (B, H2, row, W2, col, C) -> channel blocks ordered (col, row): the authors' order.
    x = x.reshape(B, H2, 2, W2, 2, C).permute(0, 1, 3, 4, 2, 5).reshape(B, H2, W2, 4 * C)
    return x.permute(0, 3, 1, 2)


class DFvTStage(BaseModule):
    """One DFvT stage: local conv block, Context Module (conv downsampling + attention blocks),
    Spatial Module and, except in the last stage, a channel expansion for the next stage.

    The stage's spatial downsampling happens at its start (``context_conv`` has stride 2, except in
    the last stage), so its attention runs at half the resolution of its input.

    The ablations of :class:`DFvT` change what the attention's input is made of (``pre_sa``),
    whether there is a Spatial Module and how it is fused (``fusion``), add a convolutional path
    beside the attention (``conv_path``), or, with an empty ``pre_sa``, attend at the stage's input
    resolution and downsample at the end with patch merging (a Swin-style stage).

    Args:
        embed_dims: Channels of the stage.
        depth: Number of blocks.
        num_heads: Number of attention heads.
        window_size: Attention window.
        mlp_ratio: Hidden size of the MLPs relative to ``embed_dims``.
        drop_paths: Stochastic depth rate of each block.
        last_stage: The last stage keeps its resolution and has no Spatial Module.
        expand: Whether to append the LN + Linear ``C -> 2C`` expansion for the next stage.
        pad_small_map: See :class:`DFvTBlock`.
        norm_cfg: Config of the token norm layers.
        conv_norm_cfg: Config of the conv norm layers.
        act_cfg: Config of the conv activations.
        pre_sa: What is summed into the attention's input: ``'conv'`` (the conv block: local
            convs, then a stride-2 depthwise and a 1x1 conv) and/or ``'maxpool'`` (the max-pooled
            input; the input itself in the last stage). Empty: the attention runs on the input
            itself and the stage ends with patch merging (LN and Linear ``4C -> 2C``) instead of
            the expansion.
        fusion: The blocks' fusion with the Spatial Module (see :class:`DFvTBlock`); None builds
            no Spatial Module. The last stage fuses with its input, as the authors' code does.
        conv_path: Add a convolutional path beside the attention: on the stage's input, at its
            resolution, one inverted residual (1x1 ``C -> mlp_ratio * C``, depthwise 3x3, 1x1
            back) per block; max-pooled (except in the last stage) and added to the tokens after
            the blocks. Its output is the stage's local map.
        with_cp: Use gradient checkpointing in the blocks.
        deploy: Build the convs with biases and without their norm layers (BatchNorm folded in,
            see :meth:`DFvT.switch_to_deploy`).
        init_cfg: Initialization config dict.
    """

    def __init__(
        self,
        embed_dims: int,
        depth: int,
        num_heads: int,
        window_size: int = 7,
        mlp_ratio: float = 4.0,
        drop_paths: Sequence[float] = (),
        last_stage: bool = False,
        expand: bool = True,
        pad_small_map: bool = False,
        norm_cfg: dict | None = None,
        conv_norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        pre_sa: Sequence[str] = PRE_SA,
        fusion: str | None = 'dane',
        conv_path: bool = False,
        with_cp: bool = False,
        deploy: bool = False,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(init_cfg)
        norm_cfg = norm_cfg or dict(type='LN')
        # Deploy: no norm, so mmcv's ConvModule gives every conv a bias (bias='auto').
        conv_norm_cfg = None if deploy else conv_norm_cfg or dict(type='BN')
        conv = dict(norm_cfg=conv_norm_cfg, act_cfg=act_cfg or dict(type='SiLU'))
        pointwise = dict(type=PointwiseConv2d)  # a 1x1 conv that trains faster (same weights)
        C = embed_dims
        drop_paths = list(drop_paths) or [0.0] * depth
        self.last_stage = last_stage
        self.max_pool = 'maxpool' in pre_sa
        self.merge = not pre_sa
        self.fusion = fusion

        if 'conv' in pre_sa:
            # Local map x_sk: 1x1, then two depthwise 3x3.
            self.local_conv = nn.Sequential(
                ConvModule(C, C, 1, conv_cfg=pointwise, **conv),
                ConvModule(C, C, 3, padding=1, groups=C, **conv),
                ConvModule(C, C, 3, padding=1, groups=C, **conv),
            )
            # Context Module's downsampling: depthwise 3x3 (stride 2 except in the last stage),
            # then 1x1.
            self.context_conv = nn.Sequential(
                ConvModule(C, C, 3, stride=1 if last_stage else 2, padding=1, groups=C, **conv),
                ConvModule(C, C, 1, conv_cfg=pointwise, **conv),
            )
        else:
            self.local_conv = self.context_conv = None
        # Spatial Module: space-to-depth of x_sk, depthwise 3x3, 1x1 back to C; no activation.
        if last_stage or fusion is None:
            self.spatial_conv = None
        else:
            self.spatial_conv = nn.Sequential(
                ConvModule(
                    4 * C,
                    4 * C,
                    3,
                    padding=1,
                    groups=4 * C,
                    act_cfg=None,
                    norm_cfg=conv['norm_cfg'],
                ),
                ConvModule(
                    4 * C, C, 1, conv_cfg=pointwise, act_cfg=None, norm_cfg=conv['norm_cfg']
                ),
            )
        self.blocks = ModuleList(
            [
                DFvTBlock(
                    C,
                    num_heads,
                    window_size=window_size,
                    shift=j % 2 == 1,
                    mlp_ratio=mlp_ratio,
                    drop_path=drop_paths[j],
                    pad_small_map=pad_small_map,
                    norm_cfg=norm_cfg,
                    fusion=fusion,
                    with_cp=with_cp,
                )
                for j in range(depth)
            ]
        )
        if conv_path:
            hidden = int(C * mlp_ratio)
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
        else:
            self.conv_path = None
        if not expand:
            self.downsample = None
        elif self.merge:
            # Swin's patch merging (mmcv's): 2x2 neighbours concatenated, LN, Linear 4C -> 2C.
            self.downsample = PatchMerging(C, 2 * C, norm_cfg=norm_cfg)
        else:
            # Channel expansion for the next stage (the authors' `downsample`; no spatial change).
            self.downsample = nn.Sequential(
                OrderedDict(
                    norm=build_norm_layer(norm_cfg, C)[1],
                    reduction=nn.Linear(C, 2 * C, bias=False),
                )
            )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Run the stage on a (B, C, H, W) map.

        The convs run on ``channels_last`` memory (several times faster on CPUs than NCHW for
        the 1x1 and depthwise convs here, and the max-pool too), so the tokens, which are
        channels-last (B, H, W, C), are views of the conv outputs, not copies.

        Returns:
            The tokens after the blocks as a channels-last map (B, H', W', C) and the local map
            (B, C, H, W) (``channels_last`` memory) that the dense outputs fuse with: ``x_sk``,
            the conv path's output, or the input without either; None when the tokens keep the
            input's resolution (``pre_sa`` empty).
        """
        x = x.contiguous(memory_format=torch.channels_last)
        x_sk = self.local_conv(x) if self.local_conv is not None else x
        if self.merge:
            tokens = x
        else:
            x_pool = None
            if self.max_pool:
                x_pool = x if self.last_stage else F.max_pool2d(x, 3, stride=2, padding=1)
            if self.context_conv is None:
                tokens = x_pool
            else:
                x_inter = self.context_conv(x_sk)
                tokens = x_inter if x_pool is None else x_pool + x_inter
        tokens = tokens.permute(0, 2, 3, 1)
        spatial = None
        if self.fusion is not None:
            x_spatial = x if self.last_stage else self.spatial_conv(space_to_depth(x_sk))
            spatial = x_spatial.permute(0, 2, 3, 1)
        for block in self.blocks:
            tokens = block(tokens, spatial)
        if self.conv_path is not None:
            x_sk = x
            for layer in self.conv_path:
                x_sk = x_sk + layer(x_sk)
            pooled = x_sk if self.last_stage else F.max_pool2d(x_sk, 3, stride=2, padding=1)
            tokens = tokens + pooled.permute(0, 2, 3, 1)
        return tokens, None if self.merge else x_sk

    def next_input(self, tokens: Tensor) -> Tensor:
        """The next stage's input (B, 2C, H', W') from this stage's tokens (B, H, W, C)."""
        if self.merge:
            B, H, W, C = tokens.shape
            merged, (h, w) = self.downsample(tokens.reshape(B, H * W, C), (H, W))
            return merged.view(B, h, w, -1).permute(0, 3, 1, 2)
        return self.downsample(tokens).permute(0, 3, 1, 2)


@MODELS.register_module()
class DFvT(BaseModule):
    """Doubly-Fused ViT backbone.

    A PyTorch implementation of `Doubly-Fused ViT: Fuse Information from Vision Transformer
    Doubly with Local Representation <https://arxiv.org/abs/2207.13436>`_, numerically equal to
    the authors' code (classification and Mask R-CNN branches).

    Output ``i`` has stride ``4 * 2**i`` and ``embed_dims * 2**i`` channels. Output 3 is the last
    stage after the final norm (what the classifier pools). Outputs 0-2 are the dense outputs of the
    authors' detection code: the normed stage tokens, upsampled x2 and fused with the stage's local
    conv map by a 1x1 conv. Only the layers that the requested outputs need are built.

    Args:
        arch: 'tiny' / 'small' / 'base' (or 't' / 's' / 'b'), or a dict with the keys
            ``embed_dims`` (int), ``depths`` (4 ints), ``num_heads`` (4 ints) and ``mlp_ratio``.
            Defaults to 'tiny'.
        in_channels: Number of input channels. Defaults to 3.
        window_size: Attention window. Defaults to 7.
        out_indices: Stages to output, any subset of 0-3 (negative indices count from the end).
            Defaults to ``(3,)``, the classification output.
        drop_path_rate: Stochastic depth rate, rising linearly over all blocks. Defaults to 0.
        pad_small_map: If True, pad maps smaller than the window and keep shifted windows (the
            authors' detection code, for detection and segmentation). If False, shrink the window
            to small maps and drop the shift (the authors' classification code). Defaults to False.
        frozen_stages: Freeze the stem and stages ``0..frozen_stages-1`` (and their output layers);
            -1 freezes nothing. Defaults to -1.
        norm_eval: Keep the BatchNorm layers in eval mode while training. Defaults to False.
        with_cp: Use gradient checkpointing in the transformer blocks. Defaults to False.
        norm_cfg: Config of the token norm layers. Defaults to ``dict(type='LN')``.
        conv_norm_cfg: Config of the conv norm layers. Defaults to ``dict(type='BN')``.
        act_cfg: Config of the conv activations. Defaults to ``dict(type='SiLU')``.
        design: The model of the paper's Table 2 (its Fig. 2), each a whole model of its own.
            The paper defines (a)-(c) loosely; these are the readings whose sizes land nearest
            (configs/ablations/README.md compares them):

            - ``'dfvt'`` (d): this model.
            - ``'baseline'`` (a, "Baseline ViT"): a Swin-style pyramid: window attention at each
              stage's input resolution (strides 4, 8, 16, 32), patch merging (mmcv's: LN and
              Linear ``4C -> 2C``) at the end of stages 0-2, no convs after the stem and no
              fusion; the dense outputs are the normed tokens themselves.
            - ``'downsampled'`` (b, "Downsampled ViT"): max-pooling before the attention
              (strides 8, 16, 32, 32) and nothing else: ``pre_sa=['maxpool']`` with
              ``spatial_module=False``.
            - ``'parallel'`` (c, "Parallel ViT"): (b) with a conv path beside the attention, on
              each stage's input at its resolution: one inverted residual per block (1x1 to
              ``mlp_ratio * C``, depthwise 3x3, 1x1 back, BN and SiLU), max-pooled and added to
              the tokens after the blocks; the dense outputs fuse with its map. ``with_cp``
              checkpoints the transformer blocks only.

            Defaults to 'dfvt'.
        spatial_module: False builds no Spatial Module and no DANE (Table 3's "CM").
            Defaults to True.
        fusion: How each block fuses the Spatial Module's tokens ``s`` into the context tokens
            ``x`` (Table 5): ``'dane'``; ``'sum'`` (``x + s``, also Table 3's "CM + SM");
            ``'sum_mul'`` (``x + s + x * s``); ``'se'`` / ``'spatial'`` (DANE's gated sum with
            its channel gate / its spatial gate alone); ``'rdane'`` (DANE with the gates'
            inputs swapped: channel attention on ``s``, spatial attention on ``x``).
            Defaults to 'dane'.
        pre_sa: What the attention's input is made of (Table 4), a non-empty subset of
            ``'conv'`` (the conv block: 1x1, two depthwise 3x3, stride-2 depthwise, 1x1) and
            ``'maxpool'`` (the max-pooled stage input; the input itself in the last stage).
            Without ``'conv'`` the Spatial Module and the dense outputs read the stage's input.
            Defaults to both. ``spatial_module``, ``fusion`` and ``pre_sa`` vary
            ``design='dfvt'`` only; a combination that cannot be built is a ValueError. Every
            variant works with every output, ``pad_small_map``, ``with_cp``, ``frozen_stages``
            and ``deploy``.
        deploy: Build the inference structure of :meth:`switch_to_deploy`: every conv with a
            bias and no conv norm layers, so that a checkpoint saved after ``switch_to_deploy``
            (``tools/model_converters/reparameterize_model.py``) loads. Defaults to False.
        init_cfg: Initialization config. None gives the authors' initialization;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')`` loads a converted
            checkpoint (the authors' own layout is converted on the fly).

    Example:
        >>> import torch
        >>> from dfvt_mm.models import DFvT
        >>> model = DFvT(arch='tiny', out_indices=(0, 1, 2, 3), pad_small_map=True).eval()
        >>> for out in model(torch.rand(1, 3, 224, 224)):
        ...     print(tuple(out.shape))
        (1, 48, 56, 56)
        (1, 96, 28, 28)
        (1, 192, 14, 14)
        (1, 384, 7, 7)
    """

    arch_zoo = {
        **dict.fromkeys(
            ['t', 'tiny'],
            dict(embed_dims=48, depths=[1, 1, 2, 1], num_heads=[3, 6, 12, 24], mlp_ratio=4.0),
        ),
        **dict.fromkeys(
            ['s', 'small'],
            dict(embed_dims=96, depths=[1, 1, 2, 1], num_heads=[3, 6, 12, 24], mlp_ratio=2.0),
        ),
        **dict.fromkeys(
            ['b', 'base'],
            dict(embed_dims=128, depths=[2, 2, 6, 2], num_heads=[4, 8, 16, 32], mlp_ratio=2.0),
        ),
    }
    essential_keys = {'embed_dims', 'depths', 'num_heads', 'mlp_ratio'}

    def __init__(
        self,
        arch: str | dict = 'tiny',
        in_channels: int = 3,
        window_size: int = 7,
        out_indices: int | Sequence[int] = (3,),
        drop_path_rate: float = 0.0,
        pad_small_map: bool = False,
        frozen_stages: int = -1,
        norm_eval: bool = False,
        with_cp: bool = False,
        norm_cfg: dict | None = None,
        conv_norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        design: str = 'dfvt',
        spatial_module: bool = True,
        fusion: str = 'dane',
        pre_sa: Sequence[str] = PRE_SA,
        deploy: bool = False,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(init_cfg)
        self.arch_settings = self._parse_arch(arch)
        pre_sa = self._parse_variant(design, spatial_module, fusion, pre_sa)
        # What the stages build, as the design has it: (b) and (c) of Table 2 pool before the
        # attention and have no Spatial Module; (a) attends at each stage's input resolution.
        if design == 'baseline':
            pre_sa, spatial_module = (), False
        elif design in ('downsampled', 'parallel'):
            pre_sa, spatial_module = ('maxpool',), False
        self.design = design
        self.pre_sa = pre_sa
        self.spatial_module = spatial_module
        self.fusion = fusion if spatial_module else None
        self.embed_dims = self.arch_settings['embed_dims']
        self.depths = list(self.arch_settings['depths'])
        self.num_heads = list(self.arch_settings['num_heads'])
        self.mlp_ratio = float(self.arch_settings['mlp_ratio'])
        self.in_channels = in_channels
        self.out_indices = self._parse_out_indices(out_indices)
        if not -1 <= frozen_stages <= NUM_STAGES:
            raise ValueError(f'frozen_stages must be in [-1, {NUM_STAGES}], got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.pad_small_map = pad_small_map
        self.num_features = [self.embed_dims * 2**i for i in range(NUM_STAGES)]
        norm_cfg = norm_cfg or dict(type='LN')
        conv_norm_cfg = conv_norm_cfg or dict(type='BN')
        norm_type = conv_norm_cfg.get('type')
        norm_type = norm_type if isinstance(norm_type, type) else MODELS.get(norm_type)
        if deploy and not (isinstance(norm_type, type) and issubclass(norm_type, _BatchNorm)):
            raise ValueError(
                f'deploy=True folds BatchNorm into the convs; conv_norm_cfg '
                f'{conv_norm_cfg} is not a BatchNorm. Use deploy=False with this norm.'
            )
        self.deploy = deploy
        conv = dict(
            norm_cfg=None if deploy else conv_norm_cfg, act_cfg=act_cfg or dict(type='SiLU')
        )

        C = self.embed_dims
        with warnings.catch_warnings():
            # The authors' stem convs have biases before their BN; mmcv warns about exactly that.
            warnings.filterwarnings('ignore', 'Unnecessary conv bias')
            self.patch_embed = nn.Sequential(
                ConvModule(in_channels, C // 2, 3, stride=2, padding=1, bias=True, **conv),
                ConvModule(C // 2, C, 3, stride=2, padding=1, bias=True, **conv),
            )

        # Rates over all blocks of the full model, so a truncated model keeps the same rates.
        total = sum(self.depths)
        dpr = [drop_path_rate * j / max(total - 1, 1) for j in range(total)]
        num_built = max(self.out_indices) + 1
        self.stages = ModuleList()
        for i in range(num_built):
            start = sum(self.depths[:i])
            self.stages.append(
                DFvTStage(
                    self.num_features[i],
                    self.depths[i],
                    self.num_heads[i],
                    window_size=window_size,
                    mlp_ratio=self.mlp_ratio,
                    drop_paths=dpr[start : start + self.depths[i]],
                    last_stage=i == NUM_STAGES - 1,
                    expand=i < num_built - 1,
                    pad_small_map=pad_small_map,
                    norm_cfg=norm_cfg,
                    conv_norm_cfg=conv_norm_cfg,
                    act_cfg=conv['act_cfg'],
                    pre_sa=self.pre_sa,
                    fusion=self.fusion,
                    conv_path=design == 'parallel',
                    with_cp=with_cp,
                    deploy=deploy,
                )
            )

        for i in self.out_indices:
            self.add_module(f'norm{i}', build_norm_layer(norm_cfg, self.num_features[i])[1])
            # The baseline's tokens keep the stage's input resolution: nothing to fuse.
            if i < NUM_STAGES - 1 and design != 'baseline':
                self.add_module(
                    f'fuse{i}',
                    PointwiseConv2d(2 * self.num_features[i], self.num_features[i], bias=False),
                )

    def _parse_arch(self, arch: str | dict) -> dict:
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ValueError(
                    f'Unknown DFvT arch {arch!r}; choose one of '
                    f'{sorted(set(self.arch_zoo))} or pass a dict with the keys '
                    f'{sorted(self.essential_keys)}.'
                )
            return dict(self.arch_zoo[arch.lower()])
        if not isinstance(arch, dict):
            raise TypeError(f'arch must be a str or a dict, got {type(arch).__name__}')
        if set(arch) != self.essential_keys:
            raise ValueError(
                f'A custom DFvT arch needs exactly the keys {sorted(self.essential_keys)}; '
                f'missing {sorted(self.essential_keys - set(arch))}, '
                f'unexpected {sorted(set(arch) - self.essential_keys)}.'
            )
        for key in ('depths', 'num_heads'):
            if len(arch[key]) != NUM_STAGES:
                raise ValueError(
                    f'arch[{key!r}] must have {NUM_STAGES} entries (one per stage), '
                    f'got {len(arch[key])}: {list(arch[key])}'
                )
        C = arch['embed_dims']
        if C % 2 or C < 16:
            raise ValueError(f'arch["embed_dims"] must be even and >= 16, got {C}')
        for i, heads in enumerate(arch['num_heads']):
            if (C * 2**i) % heads:
                raise ValueError(
                    f'stage {i} has {C * 2**i} channels, not divisible by its '
                    f'{heads} heads (arch["num_heads"][{i}])'
                )
        return dict(arch)

    @staticmethod
    def _parse_variant(
        design: str, spatial_module: bool, fusion: str, pre_sa: Sequence[str]
    ) -> tuple[str, ...]:
        """Check the ablation options together; returns ``pre_sa`` in canonical order."""
        if design not in DESIGNS:
            raise ValueError(f'Unknown DFvT design {design!r}; choose one of {DESIGNS}.')
        if fusion not in FUSIONS:
            raise ValueError(f'Unknown DFvT fusion {fusion!r}; choose one of {FUSIONS}.')
        if isinstance(pre_sa, str) or not isinstance(pre_sa, Sequence):
            raise ValueError(
                f'pre_sa must be a list of {PRE_SA} (e.g. {list(PRE_SA)}), got {pre_sa!r}'
            )
        unknown = sorted(set(pre_sa) - set(PRE_SA))
        if unknown or not pre_sa:
            raise ValueError(
                f'pre_sa must be a non-empty subset of {list(PRE_SA)} (the attention needs an '
                f'input), got {list(pre_sa)}'
            )
        if not spatial_module and fusion != 'dane':
            raise ValueError(
                f"fusion={fusion!r} fuses the Spatial Module's output, and spatial_module=False "
                f"builds none: leave fusion at 'dane' (unused) or set spatial_module=True"
            )
        changed = [
            name
            for name, value, default in (
                ('spatial_module', spatial_module, True),
                ('fusion', fusion, 'dane'),
                ('pre_sa', set(pre_sa), set(PRE_SA)),
            )
            if value != default
        ]
        if design != 'dfvt' and changed:
            raise ValueError(
                f"design={design!r} is a whole model of the paper's Table 2; {', '.join(changed)} "
                f"vary design='dfvt' only: leave them at their defaults"
            )
        return tuple(k for k in PRE_SA if k in pre_sa)

    @staticmethod
    def _parse_out_indices(out_indices: int | Sequence[int]) -> tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        if not isinstance(out_indices, Sequence) or not out_indices:
            raise ValueError(
                f'out_indices must be a non-empty sequence of ints, got {out_indices!r}'
            )
        parsed = []
        for index in out_indices:
            if not -NUM_STAGES <= index < NUM_STAGES:
                raise ValueError(
                    f'out_indices entry {index} is out of range: DFvT has '
                    f'{NUM_STAGES} stages (0-3, or -4 to -1)'
                )
            parsed.append(index % NUM_STAGES)
        if len(set(parsed)) != len(parsed):
            raise ValueError(f'out_indices has repeated stages: {list(out_indices)}')
        return tuple(sorted(parsed))

    def init_weights(self) -> None:
        """Load ``init_cfg``'s pretrained weights, or apply the authors' initialization."""
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            self._load_pretrained(self.init_cfg)
            self._is_init = True
            return
        if self.init_cfg is not None:
            super().init_weights()
            return
        self.apply(_authors_init)
        self._is_init = True

    def _load_pretrained(self, init_cfg: dict) -> None:
        logger = MMLogger.get_current_instance()
        path = init_cfg['checkpoint']
        if '://' not in str(path) and not osp.isfile(osp.expanduser(str(path))):
            raise FileNotFoundError(
                f"DFvT pretrained checkpoint {path!r} does not exist. Convert the authors' "
                f'ImageNet weights with `python tools/model_converters/dfvt_official_to_mm.py '
                f'SRC.pth {path}`, point the config at the file, or set init_cfg=None to train '
                f'from scratch.'
            )
        ckpt = _load_checkpoint(path, map_location='cpu', logger=logger)
        state_dict = unwrap_state_dict(ckpt)
        prefix = init_cfg.get('prefix')
        if is_official_layout(state_dict):
            logger.info("DFvT: converting a checkpoint in the authors' layout on the fly")
            state_dict, _ = convert_official_checkpoint(state_dict)
            prefix = 'backbone.'  # where the conversion puts the backbone
        if prefix:
            stripped = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
            if not stripped:
                raise CheckpointLayoutError(
                    f'No key of {path} starts with prefix {prefix!r}; its keys start with '
                    f'{sorted({k.split(".")[0] for k in state_dict})[:8]}: set init_cfg.prefix '
                    f'to the one before the backbone'
                )
            state_dict = stripped
        self.load_pretrained_state_dict(state_dict, source=path)

    def load_pretrained_state_dict(self, state_dict: dict[str, Tensor], source: str = '') -> None:
        """Load backbone weights, failing loudly unless every stem and stage weight is present.

        Output layers (``norm{i}``, ``fuse{i}``) may be missing (an ImageNet checkpoint has no
        detection outputs) and keys of layers this model does not build may be unexpected.

        Raises:
            CheckpointArchError: The weights are those of another arch (the message names both).
            CheckpointLayoutError: Stem or stage weights are missing.
        """
        own = self.state_dict()
        wrong = [k for k, v in state_dict.items() if k in own and v.shape != own[k].shape]
        missing = [k for k in own if k not in state_dict]
        required = [k for k in missing if not re.match(r'(norm|fuse)\d\.', k)]
        ours = describe_arch(self.arch_settings)
        if wrong or required:
            theirs = _arch_or_none(state_dict)
            if theirs is not None and _arch_key(theirs) != _arch_key(self.arch_settings):
                raise CheckpointArchError(
                    f'{source} is DFvT {describe_arch(theirs)}, the model is DFvT {ours}: '
                    f"use the config of the checkpoint's arch, or a checkpoint of this one"
                )
        if wrong:
            k = wrong[0]
            raise CheckpointArchError(
                f'{source}: {len(wrong)} weights do not fit DFvT {ours}, e.g. {k} '
                f'{tuple(state_dict[k].shape)} where the model has {tuple(own[k].shape)}: '
                f"use the config of the checkpoint's arch"
            )
        if required:
            raise CheckpointLayoutError(
                f'{source} lacks {len(required)} of the {len(own)} weights of DFvT {ours}, e.g. '
                f"{required[:3]}: is it a DFvT checkpoint? Convert the authors' checkpoints "
                f'with tools/model_converters/dfvt_official_to_mm.py'
            )
        _, unexpected = self.load_state_dict(state_dict, strict=False)
        logger = MMLogger.get_current_instance()
        if missing:
            fresh = sorted({k.rsplit('.', 1)[0] for k in missing})
            logger.info(f'DFvT: output layers initialized from scratch: {fresh}')
        if unexpected:
            logger.info(f'DFvT: ignored checkpoint keys of layers not built: {len(unexpected)}')

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        """Refuse, in one line, the weights of another DFvT arch on every load path.

        ``load_from``, ``resume``, ``tools/test.py`` and the inferencers load through mmengine's
        non-strict ``load_state_dict``, which would log a size mismatch per tensor and carry on
        with a half-loaded model; it calls this method with the backbone's keys first.

        Raises:
            CheckpointArchError: The state dict is a whole DFvT of another arch.
        """
        own = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
        theirs = _arch_or_none(own) if is_dfvt_mm_layout(own) else None
        complete = theirs is not None and all(theirs['depths']) and all(theirs['num_heads'])
        if complete and _arch_key(theirs) != _arch_key(self.arch_settings):
            raise CheckpointArchError(
                f'the checkpoint is DFvT {describe_arch(theirs)}, the model is DFvT '
                f"{describe_arch(self.arch_settings)}: use the config of the checkpoint's arch, "
                f'or a checkpoint of this one'
            )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'DFvT expects an (N, {self.in_channels}, H, W) image batch, got shape '
                f'{tuple(x.shape)}'
            )
        H, W = x.shape[2:]
        # The authors' detection code pads to a multiple of the stem's stride 4.
        if H % 4 or W % 4:
            x = F.pad(x, (0, (-W) % 4, 0, (-H) % 4))
        # channels_last from the stem on: see DFvTStage.forward.
        x = self.patch_embed(x.contiguous(memory_format=torch.channels_last))
        outs = []
        for i, stage in enumerate(self.stages):
            tokens, x_sk = stage(x)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(tokens).permute(0, 3, 1, 2)
                if i < NUM_STAGES - 1 and x_sk is not None:
                    up = F.interpolate(out, scale_factor=2.0, mode='nearest')
                    up = up[:, :, : x_sk.shape[2], : x_sk.shape[3]]
                    out = getattr(self, f'fuse{i}')(torch.cat([up, x_sk], dim=1))
                outs.append(out.contiguous())
            if stage.downsample is not None:
                x = stage.next_input(tokens)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = [self.patch_embed] + list(self.stages[: self.frozen_stages])
        for i in self.out_indices:
            if i < self.frozen_stages:
                frozen.append(getattr(self, f'norm{i}'))
                if hasattr(self, f'fuse{i}'):
                    frozen.append(getattr(self, f'fuse{i}'))
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> DFvT:
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def switch_to_deploy(self) -> None:
        """Fold every conv's BatchNorm (its running statistics) into the conv, for inference.

        mmpretrain's convention for re-parameterisable backbones (RepVGG, MobileOne). The folded
        model computes what this one computes in eval mode, without the BatchNorm kernels, and
        has the state-dict layout of ``DFvT(..., deploy=True)``: each conv with a bias, no conv
        norm keys. ``tools/model_converters/reparameterize_model.py`` saves such a checkpoint.
        Calling it twice is harmless.
        """
        if self.deploy:
            return
        # mmcv's fuse_conv_bn folds each BatchNorm into the conv before it in the same parent
        # (conv, bn in every ConvModule) and leaves an Identity where the BatchNorm was.
        fuse_conv_bn(self)
        self.deploy = True
        # The folded weights are new Parameters: freeze what was frozen again.
        self._freeze_stages()


def _authors_init(m: nn.Module) -> None:
    """The authors' initialization: Linear trunc-normal(0.02), Conv Kaiming (fan_out, relu),
    norms 1/0, relative position tables trunc-normal(0.02)."""
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.LayerNorm, _BatchNorm, nn.GroupNorm)):
        if m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    elif isinstance(m, WindowMSA):
        trunc_normal_(m.relative_position_bias_table, std=0.02)


# --------------------------------------------------------------------------------------------------
# The authors' checkpoints (github.com/ginobilinie/DFvT releases, and its Object-Detection branch)
# --------------------------------------------------------------------------------------------------

# (authors' key pattern, this package's key); BN sub-keys follow their conv.
_CONV_BN = {
    # stem
    r'patch_embed\.proj1\.': 'patch_embed.0.conv.',
    r'patch_embed\.norm1\.': 'patch_embed.0.bn.',
    r'patch_embed\.proj2\.': 'patch_embed.1.conv.',
    r'patch_embed\.norm\.': 'patch_embed.1.bn.',
    # conv block: Sequential(conv, bn, act) x3 -> local_conv.{0,1,2}
    r'convlayers\.(\d)\.conv1x1_1\.0\.': r'stages.\1.local_conv.0.conv.',
    r'convlayers\.(\d)\.conv1x1_1\.1\.': r'stages.\1.local_conv.0.bn.',
    r'convlayers\.(\d)\.conv1x1_1\.3\.': r'stages.\1.local_conv.1.conv.',
    r'convlayers\.(\d)\.conv1x1_1\.4\.': r'stages.\1.local_conv.1.bn.',
    r'convlayers\.(\d)\.conv1x1_1\.6\.': r'stages.\1.local_conv.2.conv.',
    r'convlayers\.(\d)\.conv1x1_1\.7\.': r'stages.\1.local_conv.2.bn.',
    r'convlayers\.(\d)\.conv1\.0\.': r'stages.\1.context_conv.0.conv.',
    r'convlayers\.(\d)\.conv1\.1\.': r'stages.\1.context_conv.0.bn.',
    r'convlayers\.(\d)\.conv1x1_2\.0\.': r'stages.\1.context_conv.1.conv.',
    r'convlayers\.(\d)\.conv1x1_2\.1\.': r'stages.\1.context_conv.1.bn.',
    r'multiresolution_conv\.(\d)\.0\.': r'stages.\1.spatial_conv.0.conv.',
    r'multiresolution_conv\.(\d)\.1\.': r'stages.\1.spatial_conv.0.bn.',
    r'multiresolution_conv\.(\d)\.2\.': r'stages.\1.spatial_conv.1.conv.',
    r'multiresolution_conv\.(\d)\.3\.': r'stages.\1.spatial_conv.1.bn.',
    # transformer blocks
    r'layers\.(\d)\.blocks\.(\d+)\.select\.fc_spatial\.': r'stages.\1.blocks.\2.dane.spatial.',
    r'layers\.(\d)\.blocks\.(\d+)\.select\.fc_channel\.': r'stages.\1.blocks.\2.dane.channel.',
    r'layers\.(\d)\.blocks\.(\d+)\.mlp\.fc1\.': r'stages.\1.blocks.\2.ffn.layers.0.0.',
    r'layers\.(\d)\.blocks\.(\d+)\.mlp\.fc2\.': r'stages.\1.blocks.\2.ffn.layers.1.',
    r'layers\.(\d)\.blocks\.(\d+)\.(norm1|norm2|attn\.qkv|attn\.proj)\.': (
        r'stages.\1.blocks.\2.\3.'
    ),
    r'layers\.(\d)\.blocks\.(\d+)\.attn\.relative_position_bias_table$': (
        r'stages.\1.blocks.\2.attn.relative_position_bias_table'
    ),
    r'layers\.(\d)\.downsample\.(norm|reduction)\.': r'stages.\1.downsample.\2.',
    # outputs
    r'norm(\d)\.': r'norm\1.',
    r'conv1x1layers\.(\d)\.': r'fuse\1.',
}
# Derived buffers the authors saved; this package computes them per call (window geometry).
_DROPPED = re.compile(r'.*(relative_position_index|attn_mask)$')
_RULES = [(re.compile('^' + k), v) for k, v in _CONV_BN.items()]
# Per layout, the keys the arch is read from: the stem's last conv (embed_dims out), a block
# (stage i, block j), stage i's first relative position table (heads) and the first MLP
# (hidden = mlp_ratio * embed_dims).
_ARCH_KEYS = {
    'official': (
        'patch_embed.proj2.weight',
        re.compile(r'layers\.(\d)\.blocks\.(\d+)\.'),
        'layers.{}.blocks.0.attn.relative_position_bias_table',
        'layers.0.blocks.0.mlp.fc1.weight',
    ),
    'dfvt_mm': (
        'patch_embed.1.conv.weight',
        re.compile(r'stages\.(\d)\.blocks\.(\d+)\.'),
        'stages.{}.blocks.0.attn.relative_position_bias_table',
        'stages.0.blocks.0.ffn.layers.0.0.weight',
    ),
}


def is_official_layout(state_dict: dict[str, Tensor]) -> bool:
    """Whether a state dict uses the authors' key names."""
    return any(k.startswith(('patch_embed.proj1.', 'layers.0.blocks.')) for k in state_dict)


def is_dfvt_mm_layout(state_dict: dict[str, Tensor]) -> bool:
    """Whether a state dict has this package's DFvT keys (bare, or under ``backbone.``)."""
    stem = _ARCH_KEYS['dfvt_mm'][0]
    return stem in state_dict or 'backbone.' + stem in state_dict


def infer_arch(state_dict: dict[str, Tensor]) -> dict:
    """The arch dict of a DFvT state dict, read from its shapes.

    Args:
        state_dict: In the authors' layout or this package's (bare or under ``backbone.``).

    Raises:
        CheckpointLayoutError: It is not a DFvT state dict (no stem weights).
    """
    layout = 'official' if is_official_layout(state_dict) else 'dfvt_mm'
    stem, block, table, fc1 = _ARCH_KEYS[layout]
    if layout == 'dfvt_mm' and stem not in state_dict:
        state_dict = {k[9:]: v for k, v in state_dict.items() if k.startswith('backbone.')}
    if stem not in state_dict:
        raise CheckpointLayoutError(
            f'not a DFvT checkpoint: it has no stem weights ({stem} or '
            f'{_ARCH_KEYS["dfvt_mm"][0]}); its keys start with '
            f'{sorted({k.split(".")[0] for k in state_dict})[:8]}'
        )
    C = state_dict[stem].shape[0]
    blocks = [set() for _ in range(NUM_STAGES)]
    for key in state_dict:
        if (m := block.match(key)) and int(m.group(1)) < NUM_STAGES:
            blocks[int(m.group(1))].add(int(m.group(2)))
    heads = [state_dict.get(table.format(i)) for i in range(NUM_STAGES)]
    hidden = state_dict.get(fc1)
    return dict(
        embed_dims=C,
        depths=[len(b) for b in blocks],
        num_heads=[t.shape[1] if t is not None else 0 for t in heads],
        mlp_ratio=hidden.shape[0] / C if hidden is not None else 0.0,
    )


def _arch_key(arch: dict) -> tuple:
    return (
        int(arch['embed_dims']),
        tuple(arch['depths']),
        tuple(arch['num_heads']),
        float(arch['mlp_ratio']),
    )


def describe_arch(arch: dict) -> str:
    """An arch in a few words: ``'tiny (embed 48, depths 1-1-2-1)'``, or the full custom dict."""
    depths = '-'.join(str(d) for d in arch['depths'])
    for name, settings in DFvT.arch_zoo.items():
        if len(name) > 1 and _arch_key(settings) == _arch_key(arch):
            return f'{name} (embed {arch["embed_dims"]}, depths {depths})'
    heads = '-'.join(str(h) for h in arch['num_heads'])
    return (
        f'custom (embed {arch["embed_dims"]}, depths {depths}, heads {heads}, '
        f'mlp_ratio {float(arch["mlp_ratio"]):g})'
    )


def _arch_or_none(state_dict: dict[str, Tensor]) -> dict | None:
    try:
        return infer_arch(state_dict)
    except CheckpointLayoutError:
        return None


def convert_official_checkpoint(state_dict: dict[str, Tensor]) -> tuple[dict[str, Tensor], str]:
    """Map an authors' DFvT state dict to this package's keys (a pure function).

    Classification checkpoints (with ``head``) become mmpretrain ``ImageClassifier`` state dicts
    (``backbone.*``, ``head.fc.*``); detection backbones (with ``norm0``-``norm3``) become
    ``backbone.*``. The result is checked against a DFvT built from the checkpoint's own shapes.

    Args:
        state_dict: The authors' state dict (the ``model`` entry of their ``.pth`` files).

    Returns:
        The converted state dict and the task: ``'classification'`` or ``'detection'``.

    Raises:
        CheckpointLayoutError: (a ``KeyError``) already converted, keys that map to nothing, or
            DFvT weights the checkpoint lacks; the first few named, the count given.
        CheckpointArchError: (a ``ValueError``) weights whose shapes do not fit the inferred arch.
    """
    if not isinstance(state_dict, dict) or not state_dict:
        raise CheckpointLayoutError(
            f'expected a state dict of tensors, got {type(state_dict).__name__} '
            f'{"(empty)" if isinstance(state_dict, dict) else ""}'.strip()
        )
    if is_dfvt_mm_layout(state_dict):
        raise CheckpointLayoutError(
            'the checkpoint is already in dfvt_mm layout: load it directly (load_from, or '
            "init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')), no "
            'conversion needed'
        )
    task = 'classification' if 'head.weight' in state_dict else 'detection'
    backbone, unknown = {}, []
    for key, value in state_dict.items():
        if _DROPPED.match(key):
            continue
        if task == 'classification' and key in ('head.weight', 'head.bias'):
            continue
        if key.startswith('norm.'):  # classification's final norm is output 3's norm
            backbone['norm3.' + key[len('norm.') :]] = value
            continue
        for pattern, target in _RULES:
            if pattern.match(key):
                backbone[pattern.sub(target, key, count=1)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointLayoutError(
            f"{len(unknown)} of the checkpoint's {len(state_dict)} keys are not DFvT keys, "
            f"e.g. {unknown[:5]}: is it one of the authors' DFvT checkpoints?"
        )

    arch = infer_arch(state_dict)
    empty = [i for i in range(NUM_STAGES) if not arch['depths'][i] or not arch['num_heads'][i]]
    if empty:
        raise CheckpointLayoutError(
            f'the checkpoint has no transformer blocks in stage(s) {empty} '
            f'(layers.{empty[0]}.blocks.*): it is not a whole DFvT'
        )
    out_indices = (3,) if task == 'classification' else (0, 1, 2, 3)
    with torch.device('meta'):
        reference = DFvT(arch=arch, out_indices=out_indices).state_dict()
    missing = sorted(set(reference) - set(backbone))
    extra = sorted(set(backbone) - set(reference))
    if missing or extra:
        raise CheckpointLayoutError(
            f'the checkpoint does not match a DFvT {describe_arch(arch)} {task} model: '
            f'missing {len(missing)} keys {missing[:3]}, unexpected {len(extra)} {extra[:3]}'
        )
    wrong = [
        f'{k} {tuple(v.shape)} != {tuple(reference[k].shape)}'
        for k, v in backbone.items()
        if v.shape != reference[k].shape
    ]
    if wrong:
        raise CheckpointArchError(
            f'{len(wrong)} weights do not fit the arch read from the checkpoint '
            f'({describe_arch(arch)}), e.g. {wrong[:3]}'
        )

    converted = OrderedDict(('backbone.' + k, v) for k, v in backbone.items())
    if task == 'classification':
        converted['head.fc.weight'] = state_dict['head.weight']
        converted['head.fc.bias'] = state_dict['head.bias']
    return converted, task
