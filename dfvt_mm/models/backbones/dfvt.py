"""Doubly-Fused ViT (DFvT), ECCV 2022: https://arxiv.org/abs/2207.13436.

Each stage downsamples with convolutions *before* window self-attention (Context Module), keeps
the full-resolution local detail in a convolutional Spatial Module, and fuses the two in every
block with DANE. The computation (and every parameter) follows the authors' released code, so
their checkpoints load, converted by :mod:`.dfvt_checkpoint` on the fly.

This file is the released model. The paper's ablations (Tables 2-5) are other modules from the
registry, chosen by config (``stage_cfg``, ``fusion_cfg``): :mod:`dfvt_mm.models.ablations`.

Reading order: DANE -> DFvTBlock -> DFvTStage -> DFvT.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule, build_norm_layer, fuse_conv_bn
from mmcv.cnn.bricks.drop import build_dropout
from mmcv.cnn.bricks.transformer import FFN
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import MODELS
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers import PointwiseConv2d, WindowMSA
from .dfvt_checkpoint import NUM_STAGES, check_pretrained, prepare_state_dict


def gated_sum(context: Tensor, spatial: Tensor, gate: Tensor) -> Tensor:
    """``spatial * w + context * (1 - w)`` with ``w = sigmoid(gate)``."""
    w = torch.sigmoid(gate)
    if torch.onnx.is_in_onnx_export():
        # ONNX has no lerp: torch exports it as two formulas and a Where choosing between
        # them; this is one formula.
        return context + w * (spatial - context)
    # context + w * (spatial - context) in one kernel instead of four; the dtypes are
    # promoted as the arithmetic would (under autocast they can differ).
    dtype = torch.promote_types(torch.promote_types(context.dtype, spatial.dtype), w.dtype)
    return torch.lerp(context.to(dtype), spatial.to(dtype), w.to(dtype))


@MODELS.register_module()
class DANE(BaseModule):
    """Dual AtteNtion Enhancement: gated fusion of context tokens and spatial-module tokens.

    ``w = sigmoid(spatial(x_spatial) + channel(mean(x_context)))`` and the output is
    ``x_spatial * w + x_context * (1 - w)`` (the authors' code; the paper's Eq. 4 writes the
    weights the other way round, the released weights follow the code). The fusions it is
    compared with in the paper's Table 5 are in :mod:`dfvt_mm.models.ablations.fusions`.

    Args:
        embed_dims: Number of channels.
        reduction: Channel reduction of the channel gate's bottleneck.
        norm_cfg: Config of the norm layers.
        init_cfg: Initialization config dict.

    Example:
        >>> import torch
        >>> from dfvt_mm.models.backbones.dfvt import DANE
        >>> dane = DANE(32)
        >>> dane(torch.rand(1, 7, 7, 32), torch.rand(1, 7, 7, 32)).shape
        torch.Size([1, 7, 7, 32])
    """

    def __init__(
        self,
        embed_dims: int,
        reduction: int = 16,
        norm_cfg: dict | None = None,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(init_cfg)
        norm_cfg = norm_cfg or dict(type='LN')
        hidden = embed_dims // reduction
        if hidden < 1:
            raise ValueError(f'DANE needs embed_dims >= {reduction}, got {embed_dims}')
        # Spatial gate: LN and a Linear C -> 1 per token.
        self.spatial = nn.Sequential(
            build_norm_layer(norm_cfg, embed_dims)[1], nn.Linear(embed_dims, 1, bias=False)
        )
        # Channel gate: an SE-style bottleneck MLP, on the mean token.
        self.channel = nn.Sequential(
            nn.Linear(embed_dims, hidden, bias=False),
            nn.SiLU(),
            build_norm_layer(norm_cfg, hidden)[1],
            nn.Linear(hidden, embed_dims, bias=False),
        )

    def forward(self, context: Tensor, spatial: Tensor) -> Tensor:
        """Fuse two channels-last maps (B, H, W, C) of the same shape."""
        gate = self.spatial(spatial) + self.channel(context.mean(dim=(1, 2), keepdim=True))
        return gated_sum(context, spatial, gate)


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
        fusion_cfg: Config of the module that takes the spatial map into the tokens after the
            attention, called as ``fusion(tokens, spatial)`` and built with this block's
            ``embed_dims`` and ``norm_cfg``. Defaults to :class:`DANE`.
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
        fusion_cfg: dict | None = None,
        with_cp: bool = False,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(init_cfg)
        norm_cfg = norm_cfg or dict(type='LN')
        self.window_size = window_size
        self.shift_size = window_size // 2 if shift else 0
        self.pad_small_map = pad_small_map
        self.with_cp = with_cp

        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = WindowMSA(embed_dims, num_heads, window_size=window_size)
        self.drop_path = build_dropout(dict(type='DropPath', drop_prob=drop_path))
        # The class itself, not its name, by default: a copy of this file imported from another
        # commit (dfvt_mm.analysis.speed) builds its own DANE, not the registered one.
        fusion = dict(type=DANE, embed_dims=embed_dims, norm_cfg=norm_cfg)
        fusion.update(fusion_cfg or {})
        # Named `dane` whatever the fusion: the released state-dict keys are blocks.j.dane.*.
        self.dane = MODELS.build(fusion)
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
        """The window and shift this block uses on a ``height x width`` map.

        With ``pad_small_map`` they do not depend on the map. Without it (classification, which
        exports at the test crop's size), an exported graph keeps the choice made at the traced
        size.
        """
        if not self.pad_small_map and min(height, width) <= self.window_size:
            return min(height, width), 0
        return self.window_size, self.shift_size

    def forward(self, x: Tensor, spatial: Tensor | None) -> Tensor:
        """Run the block on context tokens ``x`` and the stage's spatial map, both (B, H, W, C)
        (``spatial`` is None for a fusion that takes none)."""

        def _inner_forward(x: Tensor, spatial: Tensor | None) -> Tensor:
            window, shift = self.window_and_shift(x.shape[1], x.shape[2])
            x = x + self.drop_path(self.attn(self.norm1(x), window, shift))
            x = self.dane(x, spatial)
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
    # Traced, the sizes are tensors: pad whatever they are, so that the graph fits any size.
    if torch.jit.is_tracing() or H % 2 or W % 2:
        x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
    H2, W2 = (H + 1) // 2, (W + 1) // 2
    # (B, H2, row, W2, col, C) -> channel blocks ordered (col, row): the authors' order.
    x = x.reshape(B, H2, 2, W2, 2, C).permute(0, 1, 3, 4, 2, 5).reshape(B, H2, W2, 4 * C)
    return x.permute(0, 3, 1, 2)


def conv_kwargs(conv_norm_cfg: dict | None, act_cfg: dict | None, deploy: bool) -> dict:
    """The ``norm_cfg`` and ``act_cfg`` of a DFvT ``ConvModule``; no norm in deploy mode, so that
    mmcv gives every conv a bias (``bias='auto'``) for the BatchNorm folded into it."""
    norm_cfg = None if deploy else conv_norm_cfg or dict(type='BN')
    return dict(norm_cfg=norm_cfg, act_cfg=act_cfg or dict(type='SiLU'))


@MODELS.register_module()
class DFvTStage(BaseModule):
    """One DFvT stage: local conv block, Context Module (conv downsampling + attention blocks),
    Spatial Module and, except in the last stage, a channel expansion for the next stage.

    The stage's spatial downsampling happens at its start (``context_conv`` has stride 2, except in
    the last stage), so its attention runs at half the resolution of its input. The last stage
    keeps its resolution: its max-pool is the identity and its blocks fuse with its input, as the
    authors' code does (no Spatial Module).

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
        fusion_cfg: The blocks' fusion with the Spatial Module (see :class:`DFvTBlock`).
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
        fusion_cfg: dict | None = None,
        with_cp: bool = False,
        deploy: bool = False,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(init_cfg)
        norm_cfg = norm_cfg or dict(type='LN')
        conv = conv_kwargs(conv_norm_cfg, act_cfg, deploy)
        pointwise = dict(type=PointwiseConv2d)  # a 1x1 conv that trains faster (same weights)
        C = embed_dims
        drop_paths = list(drop_paths) or [0.0] * depth
        self.last_stage = last_stage

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
        # Spatial Module: space-to-depth of x_sk, depthwise 3x3, 1x1 back to C; no activation.
        linear = dict(norm_cfg=conv['norm_cfg'], act_cfg=None)
        self.spatial_conv = (
            None
            if last_stage
            else nn.Sequential(
                ConvModule(4 * C, 4 * C, 3, padding=1, groups=4 * C, **linear),
                ConvModule(4 * C, C, 1, conv_cfg=pointwise, **linear),
            )
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
                    fusion_cfg=fusion_cfg,
                    with_cp=with_cp,
                )
                for j in range(depth)
            ]
        )
        # Channel expansion for the next stage (the authors' `downsample`; no spatial change).
        self.downsample = (
            nn.Sequential(
                OrderedDict(
                    norm=build_norm_layer(norm_cfg, C)[1],
                    reduction=nn.Linear(C, 2 * C, bias=False),
                )
            )
            if expand
            else None
        )

    def max_pool(self, x: Tensor) -> Tensor:
        """The max-pooled input that the attention's input adds (the input in the last stage)."""
        return x if self.last_stage else F.max_pool2d(x, 3, stride=2, padding=1)

    def spatial_map(self, x: Tensor, x_sk: Tensor) -> Tensor:
        """What the blocks fuse: the Spatial Module's map of ``x_sk`` (the input ``x`` in the
        last stage)."""
        return x if self.last_stage else self.spatial_conv(space_to_depth(x_sk))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Run the stage on a (B, C, H, W) map.

        The convs run on ``channels_last`` memory (several times faster on CPUs than NCHW for
        the 1x1 and depthwise convs here, and the max-pool too), so the tokens, which are
        channels-last (B, H, W, C), are views of the conv outputs, not copies.

        Returns:
            The tokens after the blocks as a channels-last map (B, H', W', C) and the local map
            ``x_sk`` (B, C, H, W) (``channels_last`` memory) that the dense outputs fuse with.
        """
        x = x.contiguous(memory_format=torch.channels_last)
        x_sk = self.local_conv(x)
        tokens = (self.max_pool(x) + self.context_conv(x_sk)).permute(0, 2, 3, 1)
        spatial = self.spatial_map(x, x_sk).permute(0, 2, 3, 1)
        for block in self.blocks:
            tokens = block(tokens, spatial)
        return tokens, x_sk

    def next_input(self, tokens: Tensor) -> Tensor:
        """The next stage's input (B, 2C, H', W') from this stage's tokens (B, H, W, C)."""
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
        stage_cfg: Config of every stage, as in mmpretrain's Swin ``stage_cfgs``: its ``type``
            (a stage from the registry, taking :class:`DFvTStage`'s arguments) and arguments that
            override those this model gives. Defaults to :class:`DFvTStage`; the paper's Table 2-4
            stages are in :mod:`dfvt_mm.models.ablations`.
        fusion_cfg: Config of the blocks' fusion with the Spatial Module (see
            :class:`DFvTBlock`). Defaults to :class:`DANE`; Table 5's others are in
            :mod:`dfvt_mm.models.ablations`.
        deploy: Build the inference structure of :meth:`switch_to_deploy`: every conv with a
            bias and no conv norm layers, so that a checkpoint saved after ``switch_to_deploy``
            (``tools/model_converters/reparameterize_model.py``) loads. Defaults to False.
        init_cfg: Initialization config. None gives the authors' initialization;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')`` loads a converted
            checkpoint with mmengine's ``PretrainedInit``, and a checkpoint in the authors' own
            layout loads with or without the prefix, converted as it loads. A missing file, a
            prefix no key has, another arch or missing stem or stage weights fail in one line.

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
        stage_cfg: dict | None = None,
        fusion_cfg: dict | None = None,
        deploy: bool = False,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(init_cfg)
        self.arch_settings = self._parse_arch(arch)
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
        conv = conv_kwargs(conv_norm_cfg, act_cfg, deploy)

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
            stage = dict(
                type=DFvTStage,
                embed_dims=self.num_features[i],
                depth=self.depths[i],
                num_heads=self.num_heads[i],
                window_size=window_size,
                mlp_ratio=self.mlp_ratio,
                drop_paths=dpr[start : start + self.depths[i]],
                last_stage=i == NUM_STAGES - 1,
                expand=i < num_built - 1,
                pad_small_map=pad_small_map,
                norm_cfg=norm_cfg,
                conv_norm_cfg=conv_norm_cfg,
                act_cfg=conv['act_cfg'],
                fusion_cfg=fusion_cfg,
                with_cp=with_cp,
                deploy=deploy,
            )
            stage.update(stage_cfg or {})
            self.stages.append(MODELS.build(stage))

        for i in self.out_indices:
            self.add_module(f'norm{i}', build_norm_layer(norm_cfg, self.num_features[i])[1])
            if i < NUM_STAGES - 1:
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
        """The authors' initialization without ``init_cfg``; else mmengine's initialisers.

        A ``Pretrained`` ``init_cfg`` is checked against this model first (file, prefix, arch,
        every stem and stage weight; :func:`.dfvt_checkpoint.check_pretrained`), then loaded by
        mmengine's ``PretrainedInit``, which logs what it leaves out instead of failing.
        """
        if self.init_cfg is None:
            self.apply(_authors_init)
            self._is_init = True
            return
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            self.init_cfg = check_pretrained(self, self.init_cfg)
        super().init_weights()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        """Convert the authors' keys, and refuse the weights of another arch, on every load path.

        ``init_cfg``, ``load_from``, ``resume``, ``tools/test.py`` and the inferencers load
        through mmengine's non-strict ``load_state_dict``, which would log a size mismatch per
        tensor and carry on with a half-loaded model; it calls this method with the backbone's
        keys first (:func:`.dfvt_checkpoint.prepare_state_dict` rewrites them in place).

        Raises:
            CheckpointArchError: The state dict is a whole DFvT of another arch.
        """
        prepare_state_dict(state_dict, prefix, self.arch_settings)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'DFvT expects an (N, {self.in_channels}, H, W) image batch, got shape '
                f'{tuple(x.shape)}'
            )
        H, W = x.shape[2:]
        # The authors' detection code pads to a multiple of the stem's stride 4 (traced, whatever
        # the size, so that the graph fits any size).
        if torch.jit.is_tracing() or H % 4 or W % 4:
            x = F.pad(x, (0, (-W) % 4, 0, (-H) % 4))
        # channels_last from the stem on: see DFvTStage.forward.
        x = self.patch_embed(x.contiguous(memory_format=torch.channels_last))
        outs = []
        for i, stage in enumerate(self.stages):
            tokens, local = stage(x)
            if i in self.out_indices:
                outs.append(self.dense_output(i, tokens, local))
            if i + 1 < len(self.stages):
                x = stage.next_input(tokens)
        return tuple(outs)

    def dense_output(self, i: int, tokens: Tensor, local: Tensor) -> Tensor:
        """Output ``i`` from stage ``i``'s tokens (B, H, W, C) and local map (B, C, 2H, 2W): the
        normed tokens, except in the last stage upsampled x2 and fused with the local map."""
        out = getattr(self, f'norm{i}')(tokens).permute(0, 3, 1, 2)
        if i < NUM_STAGES - 1:
            up = F.interpolate(out, scale_factor=2.0, mode='nearest')
            up = up[:, :, : local.shape[2], : local.shape[3]]
            out = getattr(self, f'fuse{i}')(torch.cat([up, local], dim=1))
        return out.contiguous()

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
